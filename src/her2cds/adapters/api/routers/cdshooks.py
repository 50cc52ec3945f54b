"""CDS Hooks 2.0 endpoints: discovery, the services and their feedback endpoints."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Request, Response

from her2cds.adapters.api import jobs
from her2cds.adapters.api.deps import AssessorDep, KnowledgeBaseDep, app_state
from her2cds.adapters.api.errors import ERROR_RESPONSES, ServiceError
from her2cds.adapters.api.fhir_json import operation_outcome
from her2cds.adapters.api.io import JSON, read_body, read_json, reply_response, request_id
from her2cds.adapters.api.state import AppState
from her2cds.adapters.cdshooks.hooks import HookDeps, call_service
from her2cds.adapters.cdshooks.models import CdsResponse, Discovery, FeedbackRequest
from her2cds.adapters.cdshooks.prefetch import PrefetchUnavailableError
from her2cds.adapters.cdshooks.security import CdsAuthError, VerifiedClient
from her2cds.adapters.cdshooks.services import CdsService, discovery, services_by_id

log = logging.getLogger("her2cds.api.cdshooks")

router = APIRouter(prefix="/cds-services", tags=["cds-hooks"])


def _endpoint_url(request: Request, state: AppState) -> str:
    """The configured public URL of the endpoint called: the expected JWT audience (never the Host header)."""
    base = state.settings.public_base_url
    if base is None:  # create_app refuses JWT checking without it
        raise ServiceError(500, "internal_error", "HER2CDS_PUBLIC_BASE_URL is not configured")
    root = request.scope.get("root_path", "")
    path = request.url.path
    return base + (path[len(root) :] if root and path.startswith(root) else path)


async def verify_cds_client(request: Request) -> VerifiedClient | None:
    """CDS client authentication (CDS Hooks 2.0 "Trusting CDS Clients") when a JWK Set is configured."""
    state = app_state(request)
    if state.jwt_verifier is None:
        return None
    try:
        return state.jwt_verifier.verify(request.headers.get("authorization"), _endpoint_url(request, state))
    except CdsAuthError as exc:
        log.warning("CDS client rejected (request %s): %s", request.scope.get("her2cds.request_id", "-"), exc.reason)
        raise ServiceError(
            401,
            "unauthorized",
            exc.reason,
            headers={"WWW-Authenticate": 'Bearer realm="cds-services", error="invalid_token"'},
        ) from None


ClientDep = Annotated[VerifiedClient | None, Depends(verify_cds_client)]


def _service(service_id: str) -> CdsService:
    service = services_by_id().get(service_id)
    if service is None:
        raise ServiceError(404, "not_found", f"no CDS service {service_id!r}; see GET /cds-services")
    return service


@contextlib.asynccontextmanager
async def _client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    if state.http_client is not None:
        yield state.http_client
        return
    async with state.new_http_client() as client:  # no lifespan (e.g. a test client): a client per call
        yield client


ServiceId = Annotated[str, Path(max_length=100, description="CDS service id from the discovery document")]

_SERVICE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": CdsResponse, "description": "Cards (possibly none)"},
    401: {"model": ERROR_RESPONSES[401]["model"], "description": "Missing or invalid CDS client JWT"},
    404: {"model": ERROR_RESPONSES[401]["model"], "description": "Unknown service id"},
    412: {
        "description": "Required FHIR data were neither prefetched nor retrievable (FHIR OperationOutcome)",
        "content": {
            JSON: {
                "example": operation_outcome(
                    "Cannot evaluate her2-assessment: HER2 IHC/ISH observations were not supplied.",
                    diagnostics="CDS Hooks prefetch key 'her2Observations': absent, and no fhirServer given.",
                )
            }
        },
    },
    413: ERROR_RESPONSES[413],
    422: ERROR_RESPONSES[422],
}


@router.get("", summary="CDS Hooks discovery", response_model=Discovery, response_model_exclude_none=True)
async def discover(client: ClientDep) -> dict[str, Any]:
    return discovery().wire()


@router.post(
    "/{service_id}",
    summary="Call a CDS service",
    responses=_SERVICE_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/CdsRequest"}}},
        }
    },
)
async def call(
    request: Request,
    service_id: ServiceId,
    client: ClientDep,
    assessor: AssessorDep,
    kb: KnowledgeBaseDep,
) -> Response:
    state = app_state(request)
    service = _service(service_id)
    access = state.fhir_access.for_client(client.fhir_servers if client else ())
    context = state.engine_context(assessor, kb)
    rid = request_id(request)
    reply = await state.engine.call(jobs.cds_call, context, service.id, await read_body(request), access,
                                    request_id=rid)
    if isinstance(reply, jobs.Reply):
        return reply_response(reply)
    # the prefetch is incomplete and the FHIR server may be queried: the event loop queries it (no worker waits
    # for the network), a worker builds the cards
    assert isinstance(reply, jobs.NeedsFetch)

    async def offload(
        _fn: Any, service: CdsService, prefetch: Any, hits: Any, patient_id: Any, _deps: Any, region: Any = None
    ) -> Any:
        return await state.engine.call(jobs.cds_respond, context, service.id, prefetch, hits, patient_id, region,
                                       request_id=rid)

    deps = HookDeps(
        assessor=assessor,
        kb=kb,
        client=lambda: _client(state),
        anti_her2=lambda: state.anti_her2(kb),
        access=access,
        offload=offload,
    )
    try:
        answer = await call_service(service, reply.request, deps)
    except PrefetchUnavailableError as exc:
        body = jobs.prefetch_outcome(service.id, exc.template.key, exc.template.what, exc.reason)
        return Response(body, status_code=412, media_type=JSON)
    return Response(answer.model_dump_json(exclude_none=True), media_type=JSON)


@router.post(
    "/{service_id}/feedback",
    summary="Feedback on cards of a CDS service",
    responses={401: _SERVICE_RESPONSES[401], 404: _SERVICE_RESPONSES[404], 422: ERROR_RESPONSES[422]},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/FeedbackRequest"}}},
        }
    },
)
async def feedback(request: Request, service_id: ServiceId, client: ClientDep) -> dict[str, int]:
    state = app_state(request)
    service = _service(service_id)
    parsed = jobs.parse_model(FeedbackRequest, await read_json(request))
    received = state.feedback.add(service.id, parsed.feedback, client.issuer if client else None)
    return {"received": received}
