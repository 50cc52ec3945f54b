"""``/v1/assess``, ``/v1/assess/batch`` and ``/v1/fhir/assess``.

Bodies are read raw and validated by the library (:func:`her2cds.assess`), so the API, the CLI and batch mode
share one code path and one set of error messages.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from her2cds.adapters.api import examples, jobs
from her2cds.adapters.api.deps import AssessorDep, app_state
from her2cds.adapters.api.errors import ERROR_RESPONSES
from her2cds.adapters.api.io import FHIR_JSON, JSON, negotiate, read_body, reply_response, request_id
from her2cds.model.assessment import Assessment, ExpandedAssessment

router = APIRouter(tags=["assessment"])

Expand = Annotated[
    Literal["therapies"] | None,
    Query(description="`therapies`: the expanded document, as `her2cds assess --expand`: therapy options in full "
          "(regulatory status, evidence, sources, criterion texts and reasons inline) and trace entries with their "
          "sources; by default both are compact and the fixed text is at /v1/knowledge/{id}"),
]
RegionParam = Annotated[
    Literal["us", "eu"] | None,
    Query(description="whose regulatory status the therapy options show: `us` (FDA, the default) or `eu` "
                      "(European Commission decisions; each option then has `region_status`). A case's own "
                      "`region` field wins; as `her2cds assess --region`"),
]


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
    request: Request, assessor: AssessorDep, expand: Expand = None, region: RegionParam = None
) -> Response:
    state = app_state(request)
    media = negotiate(request.headers.get("accept"))
    raw = await read_body(request)
    reply = await state.engine.call(
        jobs.assess_one, state.engine_context(assessor), raw, media, expand, region, request_id=request_id(request)
    )
    return reply_response(reply)


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
    request: Request, assessor: AssessorDep, expand: Expand = None, region: RegionParam = None
) -> Response:
    state = app_state(request)
    media = negotiate(request.headers.get("accept"))
    raw = await read_body(request)
    reply = await state.engine.call(
        jobs.assess_batch,
        state.engine_context(assessor),
        raw,
        media,
        expand,
        state.settings.max_batch_items,
        region,
        request_id=request_id(request),
    )
    return reply_response(reply)


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
    request: Request, assessor: AssessorDep, expand: Expand = None, region: RegionParam = None
) -> Response:
    state = app_state(request)
    media = negotiate(request.headers.get("accept"))
    raw = await read_body(request)
    reply = await state.engine.call(
        jobs.assess_fhir, state.engine_context(assessor), raw, media, expand, region, request_id=request_id(request)
    )
    return reply_response(reply)
