"""``/v1/knowledge``: the knowledge-base entries with their sources."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from her2cds.adapters.api.deps import KnowledgeBaseDep
from her2cds.adapters.api.errors import ERROR_RESPONSES
from her2cds.knowledge.loader import KnowledgeBase

router = APIRouter(prefix="/knowledge", tags=["knowledge"])


def kb_header(kb: KnowledgeBase) -> dict[str, Any]:
    return {"version": kb.version, "as_of": kb.meta.as_of.isoformat(), "title": kb.meta.title}


def _source_ids(entry: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for ref in entry.get("sources") or []:
        ref_id = ref.get("id") if isinstance(ref, dict) else ref
        if isinstance(ref_id, str) and ref_id not in ids:
            ids.append(ref_id)
    return ids


@router.get(
    "",
    summary="List knowledge-base entries",
    description="Entries (rules, thresholds, scoring systems, tumor types, variants, codes, sources ...) "
    "with their `sources` and `status`, filtered by `kind` and `status`, in knowledge-base order.",
    responses={401: ERROR_RESPONSES[401], 422: ERROR_RESPONSES[422]},
)
def list_entries(
    kb: KnowledgeBaseDep,
    kind: Annotated[str | None, Query(description="only entries of this kind, e.g. rule, source, variant")] = None,
    status: Annotated[Literal["verified", "unverified"] | None, Query(description="only this status")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    entries = [
        entry
        for entry in kb.entries()
        if (kind is None or entry.get("kind") == kind) and (status is None or entry.get("status") == status)
    ]
    return {
        "knowledge_base": kb_header(kb),
        "total": len(entries),
        "offset": offset,
        "limit": limit,
        "entries": entries[offset : offset + limit],
    }


@router.get(
    "/{entry_id}",
    summary="One knowledge-base entry",
    description="The entry and the full records of the sources it cites.",
    responses={
        401: ERROR_RESPONSES[401],
        404: {"model": ERROR_RESPONSES[400]["model"], "description": "No such id"},
        422: ERROR_RESPONSES[422],
    },
)
def get_entry(
    kb: KnowledgeBaseDep,
    entry_id: Annotated[str, Path(max_length=200, description="stable id, e.g. asco-cap-2018")],
) -> dict[str, Any]:
    entry = kb.get(entry_id)  # NotFoundError -> 404
    cited = [
        kb.sources[sid].model_dump(mode="json", exclude_none=True) for sid in _source_ids(entry) if sid in kb.sources
    ]
    return {"knowledge_base": kb_header(kb), "entry": entry, "cited_sources": cited}
