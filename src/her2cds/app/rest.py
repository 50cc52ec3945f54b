"""``/v1/cases``: the case store over REST (create, read, new revision, archive; revisions; assessments).

Cases are never overwritten: ``PUT`` adds a revision, ``DELETE`` archives (revisions stay and stay auditable).
Every call that reads or writes a case is recorded in the audit trail with the knowledge-base version.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from her2cds.adapters.api.errors import ERROR_RESPONSES
from her2cds.app.context import AppContext, context
from her2cds.store.repository import CaseSummary, StoredAssessment, StoredCase, StoredRevision
from her2cds.store.service import save_case

_ENVELOPE = ERROR_RESPONSES[401]["model"]
router = APIRouter(
    tags=["cases"],
    responses={
        **{code: ERROR_RESPONSES[code] for code in (401, 413, 422, 500)},
        404: {"model": _ENVELOPE, "description": "No such case (or revision); archived cases are not found"},
        409: {"model": _ENVELOPE, "description": "The case has a newer revision than expected_revision"},
    },
)
ContextDep = Annotated[AppContext, Depends(context)]
API_ACTOR = "api"


class CaseWrite(BaseModel):
    """A case document (the input contract of ``POST /v1/assess``) with an optional label and note."""

    case: dict[str, Any] = Field(description="the case (see the Case schema); validated and assessed before saving")
    label: str | None = Field(default=None, max_length=128, description="display label (default: the case's id)")
    note: str | None = Field(default=None, max_length=500, description="why this revision was made")
    expected_revision: int | None = Field(
        default=None, ge=1, description="PUT only: the revision the change was made on; 409 if the case moved on"
    )


class CaseSummaryOut(BaseModel):
    id: str
    label: str
    oncotree_code: str
    tumor_family: str | None
    status: str | None = Field(description="HER2 status of the latest assessment of the latest revision")
    latest_revision: int
    created_at: str
    updated_at: str
    created_by: str


class AssessmentOut(BaseModel):
    revision: int
    engine_version: str
    kb_version: str
    as_of: str
    status: str | None
    category: str | None
    created_at: str
    result: dict[str, Any] = Field(description="the assessment as returned by POST /v1/assess")


class RevisionOut(BaseModel):
    number: int
    created_at: str
    created_by: str
    note: str | None
    document: dict[str, Any]
    assessments: list[AssessmentOut]


class CaseOut(BaseModel):
    case: CaseSummaryOut
    revision: RevisionOut = Field(description="the latest revision with its assessments")


class SavedOut(BaseModel):
    id: str
    revision: int
    assessment: dict[str, Any]


def _summary(s: CaseSummary) -> CaseSummaryOut:
    return CaseSummaryOut(
        id=s.id, label=s.label, oncotree_code=s.oncotree_code, tumor_family=s.tumor_family, status=s.status,
        latest_revision=s.latest_revision, created_at=s.created_at.isoformat(), updated_at=s.updated_at.isoformat(),
        created_by=s.created_by,
    )


def _assessment(a: StoredAssessment) -> AssessmentOut:
    return AssessmentOut(
        revision=a.revision, engine_version=a.engine_version, kb_version=a.kb_version, as_of=a.kb_as_of,
        status=a.status, category=a.category, created_at=a.created_at.isoformat(), result=a.result,
    )


def _revision(r: StoredRevision) -> RevisionOut:
    return RevisionOut(
        number=r.number, created_at=r.created_at.isoformat(), created_by=r.created_by, note=r.note,
        document=r.document, assessments=[_assessment(a) for a in r.assessments],
    )


def _kb() -> str:
    from her2cds.knowledge.loader import default_knowledge_base

    return default_knowledge_base().version


def _viewed(ctx: AppContext, case: StoredCase, revision: int, detail: str) -> None:
    ctx.store().audit(API_ACTOR, "view", kb_version=_kb(), case_id=case.id, revision=revision, detail=detail)


@router.get("/cases", response_model=list[CaseSummaryOut], summary="List stored cases")
def list_cases(
    ctx: ContextDep,
    search: Annotated[str | None, Query(max_length=128, description="part of a case id or label")] = None,
    family: Annotated[str | None, Query(max_length=80, description="tumor family id")] = None,
    status: Annotated[str | None, Query(max_length=40, description="HER2 status")] = None,
    sort: Literal["updated", "-updated", "label", "-label"] = "-updated",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CaseSummaryOut]:
    rows = ctx.store().cases(search=search, family=family, status=status, sort=sort, limit=limit, offset=offset)
    return [_summary(s) for s in rows]


@router.post("/cases", response_model=SavedOut, status_code=201, summary="Assess and store a new case")
def create_case(ctx: ContextDep, body: CaseWrite, response: Response, request: Request) -> SavedOut:
    cid, number, result = save_case(ctx.store(), body.case, actor=API_ACTOR, label=body.label, note=body.note)
    response.headers["Location"] = f"/v1/cases/{cid}"
    return SavedOut(id=cid, revision=number, assessment=result)


@router.get("/cases/{case_id}", response_model=CaseOut, summary="A case with its latest revision")
def get_case(ctx: ContextDep, case_id: str) -> CaseOut:
    case = ctx.store().get(case_id)
    _viewed(ctx, case, case.latest.number, "GET /v1/cases/{id}")
    return CaseOut(case=_summary(case.summary), revision=_revision(case.latest))


@router.put("/cases/{case_id}", response_model=SavedOut, summary="Save a new revision of a case")
def update_case(ctx: ContextDep, case_id: str, body: CaseWrite) -> SavedOut:
    cid, number, result = save_case(
        ctx.store(), body.case, actor=API_ACTOR, case_id=case_id, expected_revision=body.expected_revision,
        label=body.label, note=body.note,
    )
    return SavedOut(id=cid, revision=number, assessment=result)


@router.delete("/cases/{case_id}", status_code=204, summary="Archive a case (revisions and audit stay)")
def archive_case(ctx: ContextDep, case_id: str) -> Response:
    ctx.store().archive(case_id, actor=API_ACTOR, kb_version=_kb())
    return Response(status_code=204)


@router.get("/cases/{case_id}/revisions", response_model=list[RevisionOut], summary="Every revision of a case")
def list_revisions(ctx: ContextDep, case_id: str) -> list[RevisionOut]:
    case = ctx.store().get(case_id)
    _viewed(ctx, case, case.latest.number, "GET /v1/cases/{id}/revisions")
    return [_revision(r) for r in case.revisions]


@router.get("/cases/{case_id}/revisions/{number}", response_model=RevisionOut, summary="One revision of a case")
def get_revision(ctx: ContextDep, case_id: str, number: int) -> RevisionOut:
    case = ctx.store().get(case_id)
    revision = case.revision(number)
    _viewed(ctx, case, number, "GET /v1/cases/{id}/revisions/{n}")
    return _revision(revision)


@router.get("/cases/{case_id}/assessments", response_model=list[AssessmentOut],
            summary="Every stored assessment of a case, with engine and knowledge-base versions")
def list_assessments(ctx: ContextDep, case_id: str) -> list[AssessmentOut]:
    case = ctx.store().get(case_id)
    _viewed(ctx, case, case.latest.number, "GET /v1/cases/{id}/assessments")
    return [_assessment(a) for r in case.revisions for a in r.assessments]


@router.post("/cases/{case_id}/assessments", response_model=AssessmentOut, status_code=201,
             summary="Re-assess the latest revision under the current knowledge base and store the result")
def reassess(ctx: ContextDep, case_id: str) -> AssessmentOut:
    from her2cds.store.service import default_assess

    store = ctx.store()
    case = store.get(case_id)
    store.add_assessment(case.id, case.latest.number, default_assess(case.latest.document), actor=API_ACTOR)
    latest = store.get(case_id).latest.latest_assessment
    assert latest is not None
    return _assessment(latest)
