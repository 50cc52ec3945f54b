"""``/v1/assess``, ``/v1/assess/batch`` and ``/v1/fhir/assess``.

Bodies are read raw and validated by the library (:func:`her2cds.assess`), so the API, the CLI and batch mode
share one code path and one set of error messages.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from her2cds.adapters.api import examples
from her2cds.adapters.api.deps import AssessorDep, StateDep
from her2cds.adapters.api.errors import ERROR_RESPONSES, envelope, error_body, safe_traceback, status_for
from her2cds.adapters.api.fhir_json import assessment_bundle, batch_response, patient_reference, with_warnings
from her2cds.adapters.api.io import FHIR_JSON, JSON, negotiate, parse_body, read_body
from her2cds.adapters.api.state import Assessor
from her2cds.adapters.region import with_region
from her2cds.errors import FieldProblem, Her2CdsError, InvalidInputError
from her2cds.model.assessment import Assessment, ExpandedAssessment
from her2cds.model.case import Region

log = logging.getLogger("her2cds.api")

router = APIRouter(tags=["assessment"])

_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


Expand = Annotated[
    Literal["therapies"] | None,
    Query(description="`therapies`: therapy options in full (regulatory status, evidence, sources inline), as "
          "`her2cds assess --expand`; by default they are compact and the indication text is at /v1/knowledge/{id}"),
]
RegionParam = Annotated[
    Literal["us", "eu"] | None,
    Query(description="whose regulatory status the therapy options show: `us` (FDA, the default) or `eu` "
                      "(European Commission decisions; each option then has `region_status`). A case's own "
                      "`region` field wins; as `her2cds assess --region`"),
]


def _json(assessment: Assessment, expand: str | None) -> str:
    return (assessment.expanded() if expand == "therapies" else assessment).model_dump_json()


def _render(assessment: Assessment, media: str, expand: str | None = None, **fhir: Any) -> Response:
    if media == FHIR_JSON:
        return Response(json.dumps(assessment_bundle(assessment, **fhir)), media_type=FHIR_JSON)
    return Response(_json(assessment, expand), media_type=JSON)


_ASSESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Assessment | ExpandedAssessment,
        "description": "The assessment: the same JSON as `her2cds assess` prints for the case (`ExpandedAssessment` "
        "with `expand=therapies`)",
        "content": {FHIR_JSON: {"schema": {"type": "object", "description": "FHIR R4 Bundle (collection)"}}},
    },
    406: {"description": "The Accept header allows neither application/json nor application/fhir+json"},
    **ERROR_RESPONSES,
}


@router.post(
    "/assess",
    summary="Assess one case",
    description=(
        "Body: one case (the CLI's input contract). Answers with the assessment JSON, or with a FHIR R4 "
        "Bundle when `Accept: application/fhir+json` is sent."
    ),
    responses=_ASSESS_RESPONSES,
    openapi_extra=examples.request_body("Case"),
)
async def assess(
    request: Request, assessor: AssessorDep, state: StateDep, expand: Expand = None, region: RegionParam = None
) -> Response:
    media = negotiate(request.headers.get("accept"))
    return await state.engine.run(_assess_one, assessor, await read_body(request), media, expand, region)


def _assess_one(assessor: Assessor, raw: bytes, media: str, expand: str | None, region: Region | None) -> Response:
    """Parse, assess and serialize one case (on an engine worker)."""
    body = parse_body(raw)
    if not isinstance(body, dict):
        raise InvalidInputError.single(
            "", f"expected one case as a JSON object, got {_json_type(body)}", has_value=False
        )
    return _render(assessor(with_region(body, region)), media, expand)


def _assess_items(
    assessor: Assessor, items: list[Any], fhir: bool, region: Region | None = None
) -> list[tuple[int, Any]]:
    """Assess every item of a batch (on an engine worker), one result per item."""
    results: list[tuple[int, Any]] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise InvalidInputError.single(
                    "", f"expected a case (JSON object), got {_json_type(item)}", has_value=False
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


@router.post(
    "/assess/batch",
    summary="Assess several cases",
    description=(
        "Body: a JSON array of cases. Answers with an array of the same length and order: the assessment "
        'of each valid case, or `{"index": i, "error": {...}}` for a case that could not be assessed. With '
        "`Accept: application/fhir+json` the answer is a FHIR `batch-response` Bundle."
    ),
    responses={
        200: {
            "description": "One result per case, in order",
            "content": {
                JSON: {
                    "schema": {
                        "type": "array",
                        "items": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/Assessment"},
                                {"$ref": "#/components/schemas/ExpandedAssessment"},
                                {"$ref": "#/components/schemas/BatchItemError"},
                            ]
                        },
                    }
                },
                FHIR_JSON: {"schema": {"type": "object", "description": "FHIR R4 Bundle (batch-response)"}},
            },
        },
        **ERROR_RESPONSES,
    },
    openapi_extra=examples.request_body("CaseBatch"),
)
async def assess_batch(
    request: Request, assessor: AssessorDep, state: StateDep, expand: Expand = None, region: RegionParam = None
) -> Response:
    media = negotiate(request.headers.get("accept"))
    body = await state.engine.run(parse_body, await read_body(request))
    if not isinstance(body, list):
        raise InvalidInputError.single("", f"expected a JSON array of cases, got {_json_type(body)}", has_value=False)
    limit = state.settings.max_batch_items
    if len(body) > limit:
        raise InvalidInputError.single("", f"the batch has {len(body)} cases; the limit is {limit}", has_value=False)
    fhir = media == FHIR_JSON
    results = await state.engine.run(_assess_items, assessor, body, fhir, region)
    if fhir:
        return Response(json.dumps(batch_response(results)), media_type=FHIR_JSON)
    parts: list[str] = []
    for index, (status, result) in enumerate(results):
        if status == 200:
            assert isinstance(result, Assessment)
            parts.append(_json(result, expand))
        else:
            parts.append(json.dumps({"index": index, **result}))
    return Response("[" + ",".join(parts) + "]", media_type=JSON)


@router.post(
    "/fhir/assess",
    summary="Assess a FHIR R4 Bundle",
    description=(
        "Body: a FHIR R4 Bundle (Patient, Condition, Specimen, Observation, medication resources). It is "
        "converted to a case, assessed, and answered as assessment JSON whose `warnings` list everything "
        "that could not be mapped; or, with `Accept: application/fhir+json`, as a FHIR R4 Bundle."
    ),
    responses=_ASSESS_RESPONSES,
    openapi_extra=examples.request_body("FhirBundle", media=(JSON, FHIR_JSON)),
)
async def assess_fhir(
    request: Request, assessor: AssessorDep, state: StateDep, expand: Expand = None, region: RegionParam = None
) -> Response:
    media = negotiate(request.headers.get("accept"))
    return await state.engine.run(_assess_bundle, assessor, await read_body(request), media, expand, region)


def _assess_bundle(assessor: Assessor, raw: bytes, media: str, expand: str | None, region: Region | None) -> Response:
    """Parse, convert, assess and serialize one FHIR Bundle (on an engine worker)."""
    body = parse_body(raw)
    if not isinstance(body, dict):
        raise InvalidInputError.single(
            "", f"expected a FHIR Bundle (JSON object), got {_json_type(body)}", has_value=False
        )
    if body.get("resourceType") != "Bundle":
        raise InvalidInputError.single("resourceType", "expected a FHIR Bundle", body.get("resourceType"))
    from her2cds.adapters.fhir import inbound

    conversion = inbound.bundle_to_case(body)
    try:
        assessment = assessor(with_region(conversion.case, region))
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
