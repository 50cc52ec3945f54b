"""``/v1/knowledge``, ``/v1/service-info`` and ``/healthz``."""

from __future__ import annotations

from her2cds import __version__
from her2cds.knowledge.loader import KnowledgeBase
from tests.api.client import Client, assert_envelope


def test_list_returns_every_entry_with_sources(client: Client, kb: KnowledgeBase) -> None:
    response = client.get("/v1/knowledge", params={"limit": 5000})
    assert response.status_code == 200
    body = response.json()
    expected = list(kb.entries())
    assert body["total"] == len(expected) > 50
    assert [entry["id"] for entry in body["entries"]] == [entry["id"] for entry in expected]
    assert body["knowledge_base"] == {"version": kb.version, "as_of": kb.meta.as_of.isoformat(), "title": kb.meta.title}
    for entry in body["entries"]:
        assert entry["status"] in {"verified", "unverified"}
        if entry["kind"] != "source":
            assert entry["sources"], entry["id"]


def test_list_filters_by_kind_and_status(client: Client, kb: KnowledgeBase) -> None:
    rules = client.get("/v1/knowledge", params={"kind": "rule", "limit": 5000}).json()
    assert rules["total"] == len(kb.rules) > 0
    assert {entry["kind"] for entry in rules["entries"]} == {"rule"}
    unverified = client.get("/v1/knowledge", params={"status": "unverified", "limit": 5000}).json()
    assert unverified["total"] == sum(1 for e in kb.entries() if e.get("status") == "unverified")
    assert {entry["status"] for entry in unverified["entries"]} <= {"unverified"}
    assert client.get("/v1/knowledge", params={"kind": "no-such-kind"}).json()["total"] == 0


def test_list_pages(client: Client) -> None:
    everything = client.get("/v1/knowledge", params={"limit": 5000}).json()["entries"]
    page = client.get("/v1/knowledge", params={"limit": 3, "offset": 2}).json()
    assert page["offset"] == 2 and page["limit"] == 3
    assert page["entries"] == everything[2:5]


def test_list_rejects_bad_status(client: Client) -> None:
    assert_envelope(client.get("/v1/knowledge", params={"status": "maybe"}), 422, "invalid_input", "status")


def test_entry_with_cited_sources(client: Client, kb: KnowledgeBase) -> None:
    rule_id = next(iter(kb.rules))
    body = client.get(f"/v1/knowledge/{rule_id}").json()
    assert body["entry"] == kb.get(rule_id)
    cited = [ref["id"] for ref in body["entry"]["sources"]]
    assert [source["id"] for source in body["cited_sources"]] == list(dict.fromkeys(cited))
    for source in body["cited_sources"]:
        assert source["title"] and source["type"]


def test_source_entry(client: Client, kb: KnowledgeBase) -> None:
    source_id = next(iter(kb.sources))
    body = client.get(f"/v1/knowledge/{source_id}").json()
    assert body["entry"]["kind"] == "source"
    assert body["entry"]["title"] == kb.sources[source_id].title
    cited = list(dict.fromkeys(ref["id"] for ref in body["entry"].get("sources", [])))
    assert [source["id"] for source in body["cited_sources"]] == cited


def test_unknown_entry_is_404(client: Client) -> None:
    error = assert_envelope(client.get("/v1/knowledge/no.such.entry"), 404, "not_found")
    assert "no.such.entry" in error["message"]


def test_service_info_reports_versions_and_standards(client: Client, kb: KnowledgeBase) -> None:
    body = client.get("/v1/service-info").json()
    assert body["versions"] == {
        "engine": __version__,
        "knowledge_base": kb.version,
        "as_of": kb.meta.as_of.isoformat(),
        "oncotree": kb.tumor_release,
    }
    assert body["standards"] == {"cds_hooks": "2.0", "fhir": "4.0.1", "fhir_release": "R4"}
    assert body["disclaimer"] == kb.meta.disclaimer


def test_versions_match_the_assessment_output(client: Client) -> None:
    from her2cds import examples

    info = client.get("/v1/service-info").json()
    assessment = client.post("/v1/assess", json=examples.load(examples.DEFAULT)).json()
    assert assessment["versions"] == info["versions"]


def test_healthz(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "engine": __version__}
