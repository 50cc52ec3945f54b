"""``expand=therapies`` on the assessment endpoints (D14.1): compact therapy options by default."""

from __future__ import annotations

import json

import her2cds
from her2cds import examples
from tests.api.client import Client

CASE = examples.load("breast-her2-low")


def test_assess_is_compact_by_default_and_expands_on_request(client: Client) -> None:
    assessment = her2cds.assess(CASE)
    compact = client.post("/v1/assess", json=CASE)
    full = client.post("/v1/assess?expand=therapies", json=CASE)
    assert compact.status_code == full.status_code == 200
    assert compact.json() == json.loads(assessment.model_dump_json())
    assert full.json() == json.loads(assessment.expanded().model_dump_json())
    assert "evidence" in full.json()["therapies"][0] and "evidence" not in compact.json()["therapies"][0]


def test_batch_expands_every_item(client: Client) -> None:
    response = client.post("/v1/assess/batch?expand=therapies", json=[CASE, {"tumor": {}}])
    assert response.status_code == 200
    first, second = response.json()
    assert first == json.loads(her2cds.assess(CASE).expanded().model_dump_json())
    assert second["index"] == 1 and "error" in second


def test_unknown_expand_value_is_rejected_naming_the_parameter(client: Client) -> None:
    response = client.post("/v1/assess?expand=everything", json=CASE)
    assert response.status_code == 422
    assert "expand" in response.text


def test_indication_text_is_served_once_by_id(client: Client) -> None:
    option_id = client.post("/v1/assess", json=CASE).json()["therapies"][0]["id"]
    entry = client.get(f"/v1/knowledge/{option_id}")
    assert entry.status_code == 200
    body = entry.json()
    assert body["entry"]["id"] == option_id and body["entry"]["regulatory"]
    assert body["cited_sources"]
