"""CDS Hooks 2.0 endpoints: discovery, the services and their feedback endpoints."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from her2cds.adapters.api.deps import AssessorDep, KnowledgeBaseDep, StateDep, get_state
from her2cds.adapters.api.errors import ERROR_RESPONSES, ServiceError
from her2cds.adapters.api.fhir_json import operation_outcome
from her2cds.adapters.api.io import JSON, parse_body, read_body, read_json
from her2cds.adapters.api.state import AppState
from her2cds.adapters.cdshooks.hooks import HookDeps, call_service
from her2cds.adapters.cdshooks.models import CdsRequest, CdsResponse, Discovery, FeedbackRequest
from her2cds.adapters.cdshooks.prefetch import PrefetchUnavailableError
from her2cds.adapters.cdshooks.security import CdsAuthError, VerifiedClient
from her2cds.adapters.cdshooks.services import CdsService, discovery, services_by_id
from her2cds.adapters.cdshooks.shape import check_context, check_prefetch
from her2cds.errors import FieldProblem, InvalidInputError

log = logging.getLogger("her2cds.api.cdshooks")

router = APIRouter(prefix="/cds-services", tags=["cds-hooks"])

_M = TypeVar("_M", CdsRequest, FeedbackRequest)


def _endpoint_url(request: Request, state: AppState) -> str:
    """The configured public URL of the endpoint called: the expected JWT audience (never the Host header)."""
    base = state.settings.public_base_url
    if base is None:  # create_app refuses JWT checking without it
        raise ServiceError(500, "internal_error", "HER2CDS_PUBLIC_BASE_URL is not configured")
    root = request.scope.get("root_path", "")
    path = request.url.path
    return base + (path[len(root) :] if root and path.startswith(root) else path)


async def verify_cds_client(request: Request, state: Annotated[AppState, Depends(get_state)]) -> VerifiedClient | None:
    """CDS client authentication (CDS Hooks 2.0 "Trusting CDS Clients") when a JWK Set is configured."""
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


def _parse(model: type[_M], body: Any) -> _M:
    """Validate a CDS Hooks body; errors name the field like the case validation does."""
    from her2cds.engine import problems_from

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = [
            problem if not isinstance(problem.value, dict | list) else FieldProblem(problem.field, problem.message)
            for problem in problems_from(exc)
        ]
        raise InvalidInputError(problems) from None


def _parse_call(raw: bytes) -> CdsRequest:
    """Parse and check a CDS Hooks call body (on an engine worker: prefetched Bundles can be large)."""
    hook_request = _parse(CdsRequest, parse_body(raw))
    check_prefetch(hook_request.prefetch)
    check_context(hook_request.context)
    return hook_request


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
    state: StateDep,
    assessor: AssessorDep,
    kb: KnowledgeBaseDep,
) -> Response:
    service = _service(service_id)
    hook_request = await state.engine.run(_parse_call, await read_body(request))
    deps = HookDeps(
        assessor=assessor,
        kb=kb,
        client=lambda: _client(state),
        anti_her2=lambda: state.anti_her2(kb),
        access=state.fhir_access.for_client(client.fhir_servers if client else ()),
        offload=state.engine.run,
    )
    try:
        answer = await call_service(service, hook_request, deps)
    except PrefetchUnavailableError as exc:
        outcome = operation_outcome(
            f"Cannot evaluate {service.id}: {exc.template.what} were not supplied.",
            diagnostics=f"CDS Hooks prefetch key {exc.template.key!r}: {exc.reason}.",
        )
        return JSONResponse(status_code=412, content=outcome)
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
async def feedback(request: Request, service_id: ServiceId, client: ClientDep, state: StateDep) -> dict[str, int]:
    service = _service(service_id)
    parsed = _parse(FeedbackRequest, await read_json(request))
    received = state.feedback.add(service.id, parsed.feedback, client.issuer if client else None)
    return {"received": received}
