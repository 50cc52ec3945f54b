"""``/v1/assess`` and ``/v1/assess/batch``: one code path with the library, errors in the envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest

import her2cds
from her2cds import examples
from her2cds.adapters.api import Settings, create_app
from tests.api.client import Client, assert_envelope
from tests.golden import load_cases

GOLDEN = list(load_cases())


def test_assess_returns_the_library_json(client: Client) -> None:
    case = examples.load(examples.DEFAULT)
    response = client.post("/v1/assess", json=case)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == her2cds.assess(case).model_dump(mode="json")


@pytest.mark.parametrize("name", examples.names())
def test_every_packaged_example_is_served(client: Client, name: str) -> None:
    case = examples.load(name)
    response = client.post("/v1/assess", json=case)
    assert response.status_code == 200, response.text
    assert response.json() == her2cds.assess(case).model_dump(mode="json")


@pytest.mark.parametrize("loaded", GOLDEN, ids=[g.case.id for g in GOLDEN])
def test_golden_cases_same_answer_over_http(client: Client, loaded: Any) -> None:
    case = loaded.case
    response = client.post("/v1/assess", content=json.dumps(case.input), headers={"content-type": "application/json"})
    if case.expect_error is not None:
        error = assert_envelope(response, 422, "invalid_input", case.expect_error.field)
        if case.expect_error.message_contains:
            assert case.expect_error.message_contains in error["message"]
    else:
        assert response.status_code == 200, response.text
        assert response.json() == her2cds.assess(case.input).model_dump(mode="json")


def test_golden_cases_same_answer_in_one_batch(client: Client) -> None:
    inputs = [loaded.case.input for loaded in GOLDEN]
    assert len(inputs) > 10
    response = client.post(  # json.dumps: some invalid inputs hold NaN, which the client's encoder refuses
        "/v1/assess/batch", content=json.dumps(inputs), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    results = response.json()
    assert len(results) == len(inputs)
    for index, (loaded, result) in enumerate(zip(GOLDEN, results, strict=True)):
        if loaded.case.expect_error is not None:
            assert result["index"] == index
            assert result["error"]["code"] == "invalid_input"
            assert result["error"]["field"] == loaded.case.expect_error.field
        else:
            assert result == her2cds.assess(loaded.case.input).model_dump(mode="json")


def test_batch_keeps_order_and_reports_per_item_errors(client: Client) -> None:
    good = examples.load(examples.DEFAULT)
    bad = {
        "tumor": {"oncotree_code": "STAD"},
        "specimens": [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "4+"}}],
    }
    response = client.post("/v1/assess/batch", json=[bad, good, "not a case", good])
    assert response.status_code == 200
    results = response.json()
    assert len(results) == 4
    assert results[0] == {
        "index": 0,
        "error": {
            "code": "invalid_input",
            "field": "specimens[0].ihc.score",
            "message": results[0]["error"]["message"],
        },
    }
    assert "'4+'" in results[0]["error"]["message"]
    assert results[1] == results[3] == her2cds.assess(good).model_dump(mode="json")
    assert results[2]["index"] == 2 and results[2]["error"]["code"] == "invalid_input"
    assert "got a string" in results[2]["error"]["message"]


def test_batch_needs_an_array(client: Client) -> None:
    error = assert_envelope(client.post("/v1/assess/batch", json={"tumor": {}}), 422, "invalid_input")
    assert "array" in error["message"]


def test_batch_size_limit() -> None:
    client = Client(create_app(Settings(max_batch_items=2)))
    case = examples.load(examples.DEFAULT)
    error = assert_envelope(client.post("/v1/assess/batch", json=[case] * 3), 422, "invalid_input")
    assert "3 cases" in error["message"] and "limit is 2" in error["message"]
    assert client.post("/v1/assess/batch", json=[case] * 2).status_code == 200


def test_empty_batch_gives_empty_array(client: Client) -> None:
    response = client.post("/v1/assess/batch", json=[])
    assert response.status_code == 200
    assert response.json() == []


def test_invalid_case_names_field_and_value(client: Client) -> None:
    case = {
        "tumor": {"oncotree_code": "STAD"},
        "specimens": [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "4+"}}],
    }
    error = assert_envelope(client.post("/v1/assess", json=case), 422, "invalid_input", "specimens[0].ihc.score")
    assert "'4+'" in error["message"]


def test_nan_is_rejected_with_the_field(client: Client) -> None:
    body = b'{"tumor": {"oncotree_code": "STAD"}, "biomarkers": {"pd_l1_cps": NaN}}'
    error = assert_envelope(
        client.post("/v1/assess", content=body, headers={"content-type": "application/json"}),
        422,
        "invalid_input",
        "biomarkers.pd_l1_cps",
    )
    assert "nan" in error["message"].lower()


def test_body_must_be_an_object(client: Client) -> None:
    error = assert_envelope(client.post("/v1/assess", json=[1, 2]), 422, "invalid_input")
    assert error["field"] is None
    assert "got an array" in error["message"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [(b"{bad json", "not valid JSON"), (b"", "empty"), (b"   ", "empty"), (b"\xff\xfe\x00{", "not valid JSON")],
)
def test_malformed_body_is_400(client: Client, body: bytes, needle: str) -> None:
    response = client.post("/v1/assess", content=body, headers={"content-type": "application/json"})
    error = assert_envelope(response, 400, "malformed_input")
    assert needle in error["message"]


def test_deeply_nested_json_is_malformed_not_a_crash(client: Client) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    response = client.post("/v1/assess", content=body, headers={"content-type": "application/json"})
    assert_envelope(response, 400, "malformed_input")


def test_non_json_content_type_is_415(client: Client) -> None:
    response = client.post("/v1/assess", content=b"tumor=STAD", headers={"content-type": "text/plain"})
    assert_envelope(response, 415, "unsupported_media_type")


def test_fhir_json_content_type_is_accepted(client: Client) -> None:
    case = examples.load(examples.DEFAULT)
    response = client.post(
        "/v1/assess", content=json.dumps(case), headers={"content-type": "application/fhir+json; charset=utf-8"}
    )
    assert response.status_code == 200


def test_unacceptable_accept_header_is_406(client: Client) -> None:
    response = client.post("/v1/assess", json=examples.load(examples.DEFAULT), headers={"accept": "text/html"})
    error = assert_envelope(response, 406, "not_acceptable")
    assert "application/fhir+json" in error["message"]
