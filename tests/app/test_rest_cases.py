"""``/v1/cases`` over HTTP on both databases: create, read, revise, archive, revisions, assessments, audit."""

from __future__ import annotations

import copy
from pathlib import Path

from her2cds import examples
from her2cds.adapters.api import create_app
from her2cds.store.repository import CaseStore
from tests.api.client import Client, assert_envelope


def _store(api: Client) -> CaseStore:
    store: CaseStore = api.app.state.her2cds_app.store()
    return store


def test_case_crud_with_revisions_and_assessments(api: Client) -> None:
    document = examples.load(examples.DEFAULT)
    created = api.post("/v1/cases", json={"case": document, "label": "Tumor board 12"})
    assert created.status_code == 201, created.text
    body = created.json()
    cid = body["id"]
    assert created.headers["location"] == f"/v1/cases/{cid}"
    assert body["revision"] == 1 and body["assessment"]["her2"]["status"] == "positive"

    listed = api.get("/v1/cases", params={"search": "board"}).json()
    assert [c["id"] for c in listed] == [cid] and listed[0]["status"] == "positive"
    assert api.get("/v1/cases", params={"status": "negative"}).json() == []

    later = copy.deepcopy(document)
    later["specimens"] = [s for s in later["specimens"] if s["id"] == "M1"]
    revised = api.request("PUT", f"/v1/cases/{cid}", json={"case": later, "expected_revision": 1, "note": "x"})
    assert revised.status_code == 200, revised.text
    assert revised.json()["revision"] == 2
    assert revised.json()["assessment"]["her2"]["status"] == "negative"

    stale = api.request("PUT", f"/v1/cases/{cid}", json={"case": later, "expected_revision": 1})
    assert_envelope(stale, 409, "conflict")

    got = api.get(f"/v1/cases/{cid}").json()
    assert got["case"]["latest_revision"] == 2 and got["revision"]["document"] == later
    revisions = api.get(f"/v1/cases/{cid}/revisions").json()
    assert [r["document"] for r in revisions] == [document, later]
    assert api.get(f"/v1/cases/{cid}/revisions/1").json()["document"] == document
    assert_envelope(api.get(f"/v1/cases/{cid}/revisions/9"), 404, "not_found")

    assessments = api.get(f"/v1/cases/{cid}/assessments").json()
    assert [(a["revision"], a["status"]) for a in assessments] == [(1, "positive"), (2, "negative")]
    assert all(a["kb_version"] == a["result"]["versions"]["knowledge_base"] for a in assessments)
    again = api.post(f"/v1/cases/{cid}/assessments")
    assert again.status_code == 201 and again.json()["revision"] == 2

    assert api.request("DELETE", f"/v1/cases/{cid}").status_code == 204
    assert_envelope(api.get(f"/v1/cases/{cid}"), 404, "not_found")
    actions = [e.action for e in _store(api).audit_events(case_id=cid)]
    assert actions[:2] == ["create", "edit"] and "view" in actions and actions[-2:] == ["assess", "archive"]
    assert {e.actor for e in _store(api).audit_events(case_id=cid)} == {"api"}


def test_invalid_case_is_422_naming_the_field_and_nothing_is_stored(api: Client) -> None:
    bad = {"tumor": {"oncotree_code": "STAD"}, "specimens": [{"id": "B1", "procedure": "biopsy",
                                                               "ish": {"her2_per_cell": -3}}]}
    response = api.post("/v1/cases", json={"case": bad})
    assert_envelope(response, 422, "invalid_input", "specimens[0].ish.her2_per_cell")
    assert api.get("/v1/cases").json() == []
    assert_envelope(api.get("/v1/cases/unknown"), 404, "not_found")


def test_demo_store_lists_the_demo_cases(tmp_path: Path) -> None:
    """``her2cds serve --demo``: the packaged examples as cases, one with a second revision, listed by REST."""
    from her2cds.adapters.cli import build_parser
    from her2cds.adapters.cli_store import serve_options

    args = build_parser().parse_args(["serve", "--demo", "--db", f"sqlite:///{tmp_path / 'demo.db'}"])
    settings = serve_options(args)["settings"]
    assert settings.demo is True
    app = create_app(settings, loopback=True)
    try:
        api = Client(app)
        listed = api.get("/v1/cases", params={"sort": "label"}).json()
        assert [c["label"] for c in listed] == sorted(f"demo: {name}" for name in examples.names())
        revised = [c for c in listed if c["latest_revision"] == 2]
        assert [c["label"] for c in revised] == [f"demo: {examples.DEFAULT}"]
        assert app.state.her2cds_app.auto_user == "demo"
    finally:
        app.state.her2cds_app.close()
    assert serve_options(build_parser().parse_args(["serve"])) == {}
