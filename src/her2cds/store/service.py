"""Assess-and-store: the one path by which the CLI, the REST API and the web pages save cases.

A case document is validated and assessed by the engine before anything is written; an invalid case raises
:class:`her2cds.errors.InvalidInputError` naming the field and value and nothing is stored. Knowledge currency:
when the packaged knowledge base is newer than a revision's latest assessment, :func:`currency` re-assesses the
revision under the current knowledge base and says what changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from her2cds.store.repository import CaseStore, StoredAssessment, StoredCase, StoredRevision

Assess = Callable[[Mapping[str, Any]], dict[str, Any]]


def default_assess(document: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's assessment with therapies expanded (what the result page and the report show)."""
    from her2cds.engine import default_engine

    result: dict[str, Any] = json.loads(default_engine().assess_json(document, expand=True))
    return result


def save_case(
    store: CaseStore,
    document: Mapping[str, Any],
    *,
    actor: str,
    case_id: str | None = None,
    expected_revision: int | None = None,
    label: str | None = None,
    note: str | None = None,
    assess: Assess = default_assess,
) -> tuple[str, int, dict[str, Any]]:
    """Assess ``document`` and save it as a new case or the next revision. Returns (id, revision, assessment)."""
    result = assess(document)
    cid, number = store.save(
        document, result, actor=actor, case_id=case_id, expected_revision=expected_revision, label=label,
        note=note,
    )
    return cid, number, result


@dataclass(frozen=True)
class Change:
    what: str
    before: str
    after: str


@dataclass(frozen=True)
class Currency:
    """A stored assessment compared with one under the current knowledge base."""

    stored: StoredAssessment
    current: dict[str, Any]
    changes: tuple[Change, ...]

    @property
    def stale(self) -> bool:
        return self.stored.kb_version != self.current_kb

    @property
    def current_kb(self) -> str:
        return str((self.current.get("versions") or {}).get("knowledge_base", ""))


def _therapy_index(result: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Therapy option id -> (name shown, standing in words)."""
    out: dict[str, tuple[str, str]] = {}
    for item in result.get("therapies") or []:
        if not isinstance(item, Mapping):
            continue
        key = str(item.get("id") or "")
        if key:
            name = str(item.get("regimen") or item.get("title") or key)
            out[key] = (name, str(item.get("outcome") or item.get("eligible") or "").replace("_", " "))
    return out


def _shown(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


def what_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[Change, ...]:
    """Differences a tumor board cares about: HER2 status, category, and each therapy option's standing."""
    changes: list[Change] = []
    old_her2, new_her2 = old.get("her2") or {}, new.get("her2") or {}
    for key, label in (("status", "HER2 status"), ("category", "HER2 category"), ("ihc_score", "IHC score")):
        if old_her2.get(key) != new_her2.get(key):
            changes.append(Change(label, _shown(old_her2.get(key)), _shown(new_her2.get(key))))
    before, after = _therapy_index(old), _therapy_index(new)
    for key in sorted(set(before) | set(after)):
        old_standing = before[key][1] if key in before else "not listed"
        new_standing = after[key][1] if key in after else "not listed"
        if old_standing != new_standing:
            name = (after.get(key) or before[key])[0]
            changes.append(Change(f"therapy: {name}", old_standing, new_standing))
    return tuple(changes)


def currency(
    store: CaseStore, case: StoredCase, revision: StoredRevision, *, actor: str, assess: Assess = default_assess
) -> Currency | None:
    """None when the revision's latest assessment is under the current knowledge base; otherwise re-assess it,
    store the new assessment (audited as ``assess``) and return what changed."""
    stored = revision.latest_assessment
    if stored is None:
        return None
    from her2cds.knowledge.loader import default_knowledge_base

    if stored.kb_version == default_knowledge_base().version:
        return None
    current = assess(revision.document)
    store.add_assessment(case.id, revision.number, current, actor=actor)
    return Currency(stored=stored, current=current, changes=what_changed(stored.result, current))
