"""The engine jobs of the service: request body bytes in, response bytes out.

Each job does the CPU work of one request (parse, validate, convert, assess, serialize) and runs on an engine
worker: a thread of the service process (``HER2CDS_ENGINE=thread``) or a worker process
(``HER2CDS_ENGINE=process``, :mod:`her2cds.adapters.api.procpool`). A job takes an :class:`EngineContext` (the
assessor and the knowledge base) and plain, picklable arguments, and returns a :class:`Reply` or another
picklable value. :func:`perform` turns every error into a :class:`Failure` (the JSON error envelope, never a
traceback), so both kinds of worker answer the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from her2cds.adapters.api.errors import envelope, error_body, safe_traceback, status_for
from her2cds.adapters.api.fhir_json import assessment_bundle, batch_response, patient_reference, with_warnings
from her2cds.adapters.api.io import FHIR_JSON, JSON, parse_body
from her2cds.adapters.cdshooks.egress import FhirAccess
from her2cds.adapters.cdshooks.models import CdsRequest, FeedbackRequest
from her2cds.adapters.region import with_region
from her2cds.errors import FieldProblem, Her2CdsError, InternalError, InvalidInputError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.assessment import Assessment
from her2cds.model.case import Region

log = logging.getLogger("her2cds.api")

Assessor = Callable[[dict[str, Any]], Assessment]
_M = TypeVar("_M", CdsRequest, FeedbackRequest)


class Reply(NamedTuple):
    """A finished HTTP answer: status, media type and body bytes."""

    status: int
    media_type: str
    body: bytes


class Failure(NamedTuple):
    """A job that failed: the status and the JSON error envelope to answer with."""

    status: int
    error: dict[str, Any]


@dataclass(frozen=True)
class NeedsFetch:
    """A CDS Hooks call whose prefetch is incomplete and whose FHIR server may be queried: the service (not the
    worker) queries the server, then runs :func:`cds_respond` on a worker."""

    request: CdsRequest


@dataclass
class EngineContext:
    """What jobs need besides their arguments: the assessor and the knowledge base the cards cite."""

    assessor: Assessor
    kb: KnowledgeBase
    anti_her2: Callable[[], frozenset[str]] = field(repr=False, default=lambda: frozenset())

    @classmethod
    def default(cls) -> EngineContext:
        """The library's own assessor and the packaged knowledge base (a worker process's context)."""
        from her2cds import assess
        from her2cds.adapters.cdshooks.therapy_check import anti_her2_inns
        from her2cds.knowledge.loader import default_knowledge_base

        kb = default_knowledge_base()
        inns = anti_her2_inns(kb)
        return cls(assess, kb, lambda: inns)


Job = Callable[..., Any]


def perform(job: Job, context: EngineContext, args: tuple[Any, ...], request_id: str) -> Any:
    """``job(context, *args)``; a library error becomes its :class:`Failure`, anything else a 500 Failure."""
    try:
        return job(context, *args)
    except Her2CdsError as exc:
        status = status_for(exc)
        if status >= 500:
            log.error("request %s failed: %s", request_id, safe_traceback(exc))
        return Failure(status, error_body(exc))
    except Exception as exc:
        log.error("request %s: unhandled %s", request_id, safe_traceback(exc))
        message = f"internal error (request id {request_id}); see the service log"
        return Failure(500, envelope("internal_error", message))


# ---- helpers ---------------------------------------------------------------------------------------------------
_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _json(assessment: Assessment, expand: str | None) -> bytes:
    return (assessment.expanded() if expand == "therapies" else assessment).model_dump_json().encode()


def _render(assessment: Assessment, media: str, expand: str | None = None, **fhir: Any) -> Reply:
    if media == FHIR_JSON:
        return Reply(200, FHIR_JSON, json.dumps(assessment_bundle(assessment, **fhir)).encode())
    return Reply(200, JSON, _json(assessment, expand))


def _parse_object(raw: bytes, what: str) -> dict[str, Any]:
    """The parsed body, which must be a JSON object (``what`` names the expected document in the error)."""
    body = parse_body(raw)
    if not isinstance(body, dict):
        raise InvalidInputError.single("", f"expected {what}, got {json_type(body)}", has_value=False)
    return body


# ---- /v1 ---------------------------------------------------------------------------------------------------
def assess_one(
    context: EngineContext, raw: bytes, media: str, expand: str | None, region: Region | None = None
) -> Reply:
    """Parse, assess and serialize one case."""
    body = _parse_object(raw, "one case as a JSON object")
    if media == JSON and expand is None and _is_library_assessor(context.assessor):
        # the library's own engine writes the default document directly (D14.8: equal to model_dump_json)
        from her2cds.engine import default_engine

        return Reply(200, JSON, default_engine().assess_json(with_region(body, region)).encode())
    return _render(context.assessor(with_region(body, region)), media, expand)


def _is_library_assessor(assessor: Assessor) -> bool:
    """True when the assessor is the library's own :func:`her2cds.assess`, not an override or a wrapper (tests,
    an embedding application): only then may the engine write the document itself."""
    return getattr(assessor, "__module__", None) == "her2cds" and getattr(assessor, "__qualname__", None) == "assess"


def _assess_items(
    assessor: Assessor, items: list[Any], fhir: bool, region: Region | None = None
) -> list[tuple[int, Any]]:
    results: list[tuple[int, Any]] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise InvalidInputError.single(
                    "", f"expected a case (JSON object), got {json_type(item)}", has_value=False
                )
            assessment = assessor(with_region(item, region))
            results.append((200, assessment_bundle(assessment) if fhir else assessment))
        except Her2CdsError as exc:
            status = status_for(exc)
            if status >= 500:
                log.error("batch item %d failed: %s", index, safe_traceback(exc))
            results.append((status, error_body(exc)))
        except Exception as exc:
            log.error("batch item %d failed: %s", index, safe_traceback(exc))
            results.append((500, envelope("internal_error", "internal error while assessing this case")))
    return results


def assess_batch(
    context: EngineContext, raw: bytes, media: str, expand: str | None, limit: int, region: Region | None = None
) -> Reply:
    """Parse a JSON array of cases, assess each (one result per item, in order) and serialize the answer."""
    body = parse_body(raw)
    if not isinstance(body, list):
        raise InvalidInputError.single("", f"expected a JSON array of cases, got {json_type(body)}", has_value=False)
    if len(body) > limit:
        raise InvalidInputError.single("", f"the batch has {len(body)} cases; the limit is {limit}", has_value=False)
    fhir = media == FHIR_JSON
    results = _assess_items(context.assessor, body, fhir, region)
    if fhir:
        return Reply(200, FHIR_JSON, json.dumps(batch_response(results)).encode())
    parts: list[bytes] = []
    for index, (status, result) in enumerate(results):
        if status == 200:
            assert isinstance(result, Assessment)
            parts.append(_json(result, expand))
        else:
            parts.append(json.dumps({"index": index, **result}).encode())
    return Reply(200, JSON, b"[" + b",".join(parts) + b"]")


def assess_fhir(
    context: EngineContext, raw: bytes, media: str, expand: str | None, region: Region | None = None
) -> Reply:
    """Parse, convert, assess and serialize one FHIR Bundle."""
    body = _parse_object(raw, "a FHIR Bundle (JSON object)")
    if body.get("resourceType") != "Bundle":
        raise InvalidInputError.single("resourceType", "expected a FHIR Bundle", body.get("resourceType"))
    from her2cds.adapters.fhir import inbound

    conversion = inbound.bundle_to_case(body)
    try:
        assessment = context.assessor(with_region(conversion.case, region))
    except InvalidInputError as exc:
        problems = [
            FieldProblem(p.field, f"{p.message} (in the case converted from the Bundle)", p.value, p.has_value)
            for p in exc.problems
        ]
        problems += [FieldProblem(w.field or "", f"conversion warning: {w.text}") for w in conversion.warnings]
        raise InvalidInputError(problems) from None
    assessment = with_warnings(assessment, conversion.warnings)
    return _render(
        assessment,
        media,
        expand,
        source_observations=conversion.source_observations,
        patient_ref=conversion.patient_ref or patient_reference(body),
        specimen_refs=conversion.specimen_refs,
    )


# ---- CDS Hooks -------------------------------------------------------------------------------------------------
def parse_call(raw: bytes) -> CdsRequest:
    """Parse and check a CDS Hooks call body; errors name the field."""
    from her2cds.adapters.cdshooks.shape import check_context, check_prefetch

    hook_request = parse_model(CdsRequest, parse_body(raw))
    check_prefetch(hook_request.prefetch)
    check_context(hook_request.context)
    return hook_request


def parse_model(model: type[_M], body: Any) -> _M:
    """Validate a CDS Hooks body with ``model``; errors name the field like the case validation does."""
    from pydantic import ValidationError

    from her2cds.engine import problems_from

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = [
            problem if not isinstance(problem.value, dict | list) else FieldProblem(problem.field, problem.message)
            for problem in problems_from(exc)
        ]
        raise InvalidInputError(problems) from None


def _run_ready(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that never suspends (a CDS call whose data are all in the request)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise InternalError("a CDS Hooks call waited for I/O on an engine worker")


def hook_deps(context: EngineContext, access: FhirAccess, client: Any = None) -> Any:
    from her2cds.adapters.cdshooks.hooks import HookDeps

    return HookDeps(
        assessor=context.assessor,
        kb=context.kb,
        client=client or _no_client,
        anti_her2=context.anti_her2,
        access=access,
    )


def _no_client() -> Any:
    raise InternalError("an engine worker may not query FHIR servers")


def prefetch_outcome(service_id: str, template_key: str, what: str, reason: str) -> bytes:
    """The 412 answer (a FHIR OperationOutcome) when required data were neither prefetched nor retrievable."""
    from her2cds.adapters.api.fhir_json import operation_outcome

    outcome = operation_outcome(
        f"Cannot evaluate {service_id}: {what} were not supplied.",
        diagnostics=f"CDS Hooks prefetch key {template_key!r}: {reason}.",
    )
    return json.dumps(outcome).encode()


def cds_call(context: EngineContext, service_id: str, raw: bytes, access: FhirAccess) -> Reply | NeedsFetch:
    """A whole CDS Hooks call whose data are in the request: parse, check, convert, assess, build the cards.
    When FHIR data must be queried first: :class:`NeedsFetch` (the service queries, not the worker)."""
    from her2cds.adapters.cdshooks.hooks import call_service
    from her2cds.adapters.cdshooks.prefetch import PrefetchUnavailableError, needs_fetch
    from her2cds.adapters.cdshooks.services import services_by_id

    service = services_by_id()[service_id]
    hook_request = parse_call(raw)
    if needs_fetch(hook_request, service.prefetch, access):
        return NeedsFetch(hook_request)
    try:
        answer = _run_ready(call_service(service, hook_request, hook_deps(context, access)))
    except PrefetchUnavailableError as exc:
        return Reply(412, JSON, prefetch_outcome(service.id, exc.template.key, exc.template.what, exc.reason))
    return Reply(200, JSON, answer.model_dump_json(exclude_none=True).encode())


def cds_respond(
    context: EngineContext, service_id: str, prefetch: Any, hits: Any, patient_id: str | None, region: Any = None
) -> Any:
    """The CPU part of a CDS Hooks call whose FHIR data the service has fetched: the cards (a CdsResponse)."""
    from her2cds.adapters.cdshooks.hooks import respond
    from her2cds.adapters.cdshooks.services import services_by_id

    service = services_by_id()[service_id]
    return respond(service, prefetch, hits, patient_id, hook_deps(context, FhirAccess()), region)


def warm_up(context: EngineContext) -> Reply:
    """One example case through the whole /v1/assess path (imports, knowledge base, first-call costs)."""
    from her2cds import examples

    return assess_one(context, json.dumps(examples.load(examples.DEFAULT)).encode(), JSON, None)


#: the jobs a worker process may be asked to run, by name
JOBS: dict[str, Job] = {
    job.__name__: job for job in (assess_one, assess_batch, assess_fhir, cds_call, cds_respond, warm_up)
}
