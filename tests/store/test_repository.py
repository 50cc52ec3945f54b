"""The case store on SQLite and PostgreSQL: revisions, assessments with versions, list filters, audit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from her2cds import examples
from her2cds.errors import ConflictError, InvalidInputError, NotFoundError
from her2cds.store import CaseStore, open_store
from her2cds.store.service import currency, save_case, what_changed


@pytest.fixture
def store(db_url: str) -> Iterator[CaseStore]:
    opened = open_store(db_url)
    yield opened
    opened.engine.dispose()


def _result(status: str, kb: str = "kb-1", family: str = "family.gastroesophageal") -> dict[str, Any]:
    return {
        "her2": {"status": status, "category": None},
        "tumor": {"family": family},
        "versions": {"engine": "0.test", "knowledge_base": kb, "as_of": "2026-01-01"},
        "therapies": [],
    }


def test_every_edit_is_a_new_revision_and_old_ones_stay(store: CaseStore) -> None:
    first = {"id": "P-1", "tumor": {"oncotree_code": "STAD"}, "specimens": []}
    cid, n1 = store.save(first, _result("negative"), actor="alice")
    second = {**first, "specimens": [{"id": "B1", "procedure": "biopsy"}]}
    _, n2 = store.save(second, _result("positive"), actor="bob", case_id=cid, note="new biopsy")
    case = store.get(cid)
    assert (n1, n2) == (1, 2)
    assert [r.number for r in case.revisions] == [1, 2]
    assert case.revision(1).document == first
    assert case.revision(2).document == second
    assert case.revision(2).note == "new biopsy"
    assert [r.created_by for r in case.revisions] == ["alice", "bob"]
    assert case.summary.status == "positive"
    assert case.summary.latest_revision == 2
    stored = case.revision(1).latest_assessment
    assert stored is not None
    assert (stored.engine_version, stored.kb_version, stored.kb_as_of, stored.status) == (
        "0.test", "kb-1", "2026-01-01", "negative",
    )
    with pytest.raises(NotFoundError):
        case.revision(3)


def test_stale_edit_is_a_conflict_and_writes_nothing(store: CaseStore) -> None:
    doc = {"tumor": {"oncotree_code": "STAD"}}
    cid, _ = store.save(doc, _result("negative"), actor="a")
    store.save(doc, _result("negative"), actor="a", case_id=cid, expected_revision=1)
    with pytest.raises(ConflictError, match="revision 2, not 1"):
        store.save(doc, _result("positive"), actor="b", case_id=cid, expected_revision=1)
    case = store.get(cid)
    assert case.summary.latest_revision == 2
    assert [e.action for e in store.audit_events(case_id=cid)] == ["create", "edit"]
    with pytest.raises(NotFoundError):
        store.save(doc, _result("negative"), actor="a", case_id="nope")


def test_list_search_filter_and_sort(store: CaseStore) -> None:
    a, _ = store.save({"id": "Alpha 7", "tumor": {"oncotree_code": "STAD"}}, _result("positive"), actor="t")
    b, _ = store.save({"id": "beta", "tumor": {"oncotree_code": "BRCA"}},
                      _result("negative", family="family.breast"), actor="t")
    c, _ = store.save({"tumor": {"oncotree_code": "STAD"}}, _result("negative"), actor="t", label="Gamma")
    assert [s.id for s in store.cases()] == [c, b, a]  # newest change first
    store.save({"id": "Alpha 7", "tumor": {"oncotree_code": "STAD"}}, _result("positive"), actor="t", case_id=a)
    assert [s.id for s in store.cases()] == [a, c, b]
    assert [s.id for s in store.cases(sort="label")] == [a, b, c]
    assert [s.label for s in store.cases(search="ALPHA")] == ["Alpha 7"]
    assert [s.id for s in store.cases(search=b[:6])] == [b]
    assert [s.id for s in store.cases(family="family.breast")] == [b]
    assert {s.id for s in store.cases(status="negative")} == {b, c}
    assert store.families() == ["family.breast", "family.gastroesophageal"]
    store.archive(b, actor="t", kb_version="kb-1")
    assert b not in {s.id for s in store.cases()}
    with pytest.raises(NotFoundError):
        store.get(b)
    assert [e.action for e in store.audit_events(case_id=b)] == ["create", "archive"]


def test_audit_records_who_what_when_and_kb(store: CaseStore) -> None:
    cid, _ = store.save({"tumor": {"oncotree_code": "STAD"}}, _result("negative"), actor="alice")
    store.audit("bob", "view_report", kb_version="kb-2", case_id=cid, revision=1, detail="pdf")
    store.audit("bob", "export", kb_version="kb-2", case_id=cid, revision=1)
    events = store.audit_events(case_id=cid)
    assert [(e.actor, e.action, e.kb_version) for e in events] == [
        ("alice", "create", "kb-1"), ("bob", "view_report", "kb-2"), ("bob", "export", "kb-2"),
    ]
    assert events[0].at <= events[1].at <= events[2].at
    assert [e.action for e in store.audit_events(actor="bob", action="export")] == ["export"]
    with pytest.raises(Exception, match="unknown audit action"):
        store.audit("bob", "delete-everything", kb_version="k")


def test_save_case_assesses_with_the_engine_and_refuses_invalid_input(store: CaseStore) -> None:
    document = examples.load(examples.DEFAULT)
    cid, number, result = save_case(store, document, actor="t")
    stored = store.get(cid).latest.latest_assessment
    assert stored is not None and stored.result == result
    assert stored.status == result["her2"]["status"] == "positive"
    assert stored.kb_version == result["versions"]["knowledge_base"]
    with pytest.raises(InvalidInputError) as caught:
        save_case(store, {"tumor": {"oncotree_code": "STAD"}, "specimens": [{"id": "B1", "procedure": "scalpel"}]},
                  actor="t", case_id=cid)
    assert caught.value.field == "specimens[0].procedure"
    assert store.get(cid).summary.latest_revision == number


def test_knowledge_currency_reassesses_old_assessments_and_says_what_changed(store: CaseStore) -> None:
    document = examples.load(examples.DEFAULT)
    old = _result("negative", kb="2000.1.0")
    cid, _ = store.save(document, old, actor="t")
    case = store.get(cid)
    found = currency(store, case, case.latest, actor="viewer")
    assert found is not None and found.stale
    assert found.stored.kb_version == "2000.1.0"
    assert any(c.what == "HER2 status" and (c.before, c.after) == ("negative", "positive") for c in found.changes)
    again = store.get(cid)
    assert len(again.latest.assessments) == 2
    assert currency(store, again, again.latest, actor="viewer") is None  # the newest is current now
    assert [e.action for e in store.audit_events(case_id=cid)] == ["create", "assess"]


def test_what_changed_covers_therapies() -> None:
    before: dict[str, Any] = {
        "her2": {"status": "positive"}, "therapies": [{"id": "x", "regimen": "drug X", "outcome": "eligible"}]
    }
    after = {"her2": {"status": "positive"}, "therapies": [
        {"id": "x", "regimen": "drug X", "outcome": "not_eligible"},
        {"id": "y", "regimen": "drug Y", "outcome": "eligible"},
        {"id": "z", "regimen": "drug Z", "outcome": "eligible"}]}
    before["therapies"].append({"id": "z", "regimen": "drug Z", "outcome": "eligible"})
    changes = {(c.what, c.before, c.after) for c in what_changed(before, after)}
    assert changes == {("therapy: drug X", "eligible", "not eligible"), ("therapy: drug Y", "not listed", "eligible")}
