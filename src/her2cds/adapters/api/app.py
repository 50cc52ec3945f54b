"""The application factory."""

from __future__ import annotations

import contextlib
import gc
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from her2cds import __version__
from her2cds.adapters.api import apidocs, examples, openapi_extras
from her2cds.adapters.api.capacity import LoadSheddingMiddleware
from her2cds.adapters.api.deps import get_assessor, require_api_token
from her2cds.adapters.api.errors import ErrorBody, install_error_handlers
from her2cds.adapters.api.jobs import EngineContext, warm_up
from her2cds.adapters.api.middleware import (
    AllowedHostsMiddleware,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from her2cds.adapters.api.routers import assess, cdshooks, knowledge, meta
from her2cds.adapters.api.settings import Settings, unknown_environment_names
from her2cds.adapters.api.state import AppState
from her2cds.adapters.cdshooks.feedback import FeedbackStore
from her2cds.adapters.cdshooks.models import CdsRequest, FeedbackRequest
from her2cds.adapters.cdshooks.security import CdsJwtVerifier, RegisteredClient, load_clients, load_jwks
from her2cds.errors import InternalError, UsageError
from her2cds.model.case import Case

log = logging.getLogger("her2cds.api")

DESCRIPTION = """\
Clinical decision support for HER2 testing and HER2-targeted therapy across solid tumors: a REST API (`/v1`),
an HL7 CDS Hooks 2.0 service (`/cds-services`) and FHIR R4 in and out.

Every error has the body `{"error": {"code", "message", "field"}}` (except the CDS Hooks 412 answer, a FHIR
OperationOutcome). Decision support for qualified professionals; not a substitute for clinical judgement.
"""

TAGS = [
    {"name": "assessment", "description": "Assess cases (CLI contract) and FHIR Bundles"},
    {"name": "knowledge", "description": "The versioned knowledge base with sources"},
    {"name": "service", "description": "Versions and health"},
    {"name": "cds-hooks", "description": "HL7 CDS Hooks 2.0 discovery, services and feedback"},
    {"name": "cases", "description": "The case store: cases with revisions and stored assessments (audited)"},
]


class BatchItemError(BaseModel):
    """A case of a batch that could not be assessed."""

    index: int
    error: ErrorBody


def _schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """JSON schemas of models with their nested models, referenced as OpenAPI components."""
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            out[name] = definition
        out[model.__name__] = schema
    return out


def _strip_defaults(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {key: _strip_defaults(value) for key, value in schema.items() if key != "default"}
    if isinstance(schema, list):
        return [_strip_defaults(item) for item in schema]
    return schema


class Her2CdsApp(FastAPI):
    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = get_openapi(
                title="her2cds",
                version=__version__,
                description=DESCRIPTION,
                routes=self.routes,
                tags=TAGS,
                openapi_version=self.openapi_version,
            )
            components = document.setdefault("components", {}).setdefault("schemas", {})
            extra = _schemas(Case, CdsRequest, FeedbackRequest, BatchItemError)
            extra["CaseBatch"] = {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Case"},
                "title": "CaseBatch",
            }
            extra["FhirBundle"] = {
                "type": "object",
                "title": "FhirBundle",
                "description": "A FHIR R4 Bundle (JSON)",
                "required": ["resourceType"],
                "properties": {
                    "resourceType": {"const": "Bundle"},
                    "type": {"type": "string"},
                    "entry": {"type": "array", "items": {"type": "object"}},
                },
            }
            for name, definition in extra.items():
                if name in components and _strip_defaults(components[name]) == _strip_defaults(definition):
                    continue  # the same model as a response schema (FastAPI omits null defaults there)
                if name in components:
                    raise InternalError(f"OpenAPI component {name!r} is defined twice, differently")
                components[name] = definition
            for path, builder in examples.REQUEST_EXAMPLES.items():
                named = builder()
                for media in document["paths"][path]["post"]["requestBody"]["content"].values():
                    media["examples"] = named
            call = document["paths"]["/cds-services/{service_id}"]["post"]["requestBody"]["content"]
            call["application/json"]["examples"] = examples.cds_call_examples()
            ids = [op.get("operationId") for ops in document["paths"].values() for op in ops.values()]
            if len(ids) != len(set(ids)):
                raise InternalError("OpenAPI operation ids are not unique")
            openapi_extras.complete(document, examples.response_examples())
            self.openapi_schema = document
        return self.openapi_schema


def _operation_id(route: APIRoute) -> str:
    """Stable operation ids: the endpoint function's name (e.g. ``assess_batch``), not derived from the path."""
    return route.name


async def _warm_up(app: FastAPI) -> None:
    """Start the engine workers (each runs one example case) and load the knowledge base here too, so the
    first real request is not slow."""
    from her2cds.knowledge.loader import default_knowledge_base

    state: AppState = app.state.her2cds
    await state.engine.start()
    if state.engine.kind == "thread":
        provider = app.dependency_overrides.get(get_assessor, get_assessor)
        assessor = provider()
        if inspect.isawaitable(assessor):
            assessor = await assessor
        await state.engine.call(warm_up, EngineContext(assessor, default_knowledge_base()), request_id="warm-up")
    else:
        default_knowledge_base()
        # the event loop's process keeps the knowledge base and the application for its whole life: out of the
        # collector's generations with them, or each full collection walks them all and stalls the loop for
        # 80-140 ms under load (measured; the engine's own processes do the same, see worker.py and D14.2)
        gc.collect()
        gc.freeze()


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState = app.state.her2cds
    await _warm_up(app)
    async with state.new_http_client() as client:
        state.http_client = client
        try:
            yield
        finally:
            state.http_client = None
            await state.engine.aclose()  # after the server's drain: in-flight jobs finish first


def _jwt_verifier(settings: Settings) -> CdsJwtVerifier | None:
    """The CDS client JWT verifier the settings ask for (None: CDS Hooks calls are not authenticated)."""
    clients = None
    if settings.cds_clients_file is not None:
        if settings.cds_jwks_file is not None:
            raise UsageError("set HER2CDS_CDS_CLIENTS_FILE or HER2CDS_CDS_JWKS_FILE, not both")
        clients = load_clients(settings.cds_clients_file)
    elif settings.cds_jwks_file is not None:
        keys = load_jwks(settings.cds_jwks_file)
        if len(settings.cds_allowed_issuers) != 1:
            raise UsageError(
                "HER2CDS_CDS_JWKS_FILE holds the keys of one client: set HER2CDS_CDS_ALLOWED_ISSUERS to exactly its "
                "issuer (for several clients, bind keys to issuers in HER2CDS_CDS_CLIENTS_FILE)"
            )
        issuer = settings.cds_allowed_issuers[0]
        clients = {issuer: RegisteredClient(issuer, keys)}
    if clients is None:
        return None
    if settings.public_base_url is None:
        raise UsageError(
            "CDS client JWTs are checked against the service's own URL: set HER2CDS_PUBLIC_BASE_URL "
            "(e.g. https://cds.example.org); it is never taken from the request"
        )
    return CdsJwtVerifier(
        clients,
        algorithms=settings.cds_jwt_algorithms,
        leeway_seconds=settings.cds_jwt_leeway_seconds,
        max_lifetime_seconds=settings.cds_jwt_max_lifetime_seconds,
    )


def create_app(
    settings: Settings | None = None,
    *,
    fhir_transport: httpx.AsyncBaseTransport | None = None,
    loopback: bool = False,
) -> FastAPI:
    """A new application. ``fhir_transport`` replaces the network transport of FHIR queries (tests);
    ``loopback``: the server is bound to loopback only (the web app may then skip sign-in)."""
    from her2cds import app as webapp
    from her2cds.app import rest as cases_rest

    settings = settings or Settings()
    for name in unknown_environment_names():
        log.warning("environment variable %s is not a her2cds setting; ignored", name)
    verifier = _jwt_verifier(settings)
    app = Her2CdsApp(
        title="her2cds",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        redoc_url=None,
        docs_url=None,  # served by apidocs: local assets, no CDN
        generate_unique_id_function=_operation_id,
        openapi_tags=TAGS,
    )
    app.state.her2cds = AppState(
        settings=settings, feedback=FeedbackStore(), jwt_verifier=verifier, fhir_transport=fhir_transport
    )
    install_error_handlers(app)
    webapp.mount(app, settings, loopback=loopback)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_token)])
    mounted = [
        ("/v1", assess.router),
        ("/v1", knowledge.router),
        ("/v1", meta.v1_router),
        ("/v1", cases_rest.router),
        ("", meta.router),
        ("", cdshooks.router),
    ]
    for prefix, router in mounted:
        (v1 if prefix == "/v1" else app).include_router(router)
    app.include_router(v1)
    app.include_router(apidocs.router)
    templates = {
        id(route): prefix + str(getattr(route, "path", "")) for prefix, router in mounted for route in router.routes
    }

    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, templates=templates)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-ID"],
            allow_credentials=False,
        )
    if settings.allowed_hosts:
        app.add_middleware(AllowedHostsMiddleware, hosts=settings.allowed_hosts)
    app.add_middleware(SecurityHeadersMiddleware)
    state: AppState = app.state.her2cds
    app.add_middleware(LoadSheddingMiddleware, admission=state.admission)  # outermost: shedding costs least there
    return app
