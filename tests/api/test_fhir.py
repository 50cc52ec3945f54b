"""``/v1/fhir/assess`` and ``Accept: application/fhir+json`` on the assess endpoints (converters are the FHIR
adapter's; here: the HTTP wiring, warnings in the result, content negotiation, FHIR validity)."""

from __future__ import annotations

import copy
from typing import Any

from fhir.resources.R4B.bundle import Bundle

import her2cds
from her2cds import examples
from her2cds.adapters.api.examples import FHIR_BUNDLE
from her2cds.adapters.fhir import bundle_to_case
from tests.api.client import Client, assert_envelope

FHIR = {"accept": "application/fhir+json"}


def test_fhir_bundle_is_assessed_with_conversion_warnings(client: Client) -> None:
    response = client.post("/v1/fhir/assess", json=FHIR_BUNDLE)
    assert response.status_code == 200, response.text
    body = response.json()
    conversion = bundle_to_case(FHIR_BUNDLE)
    expected = her2cds.assess(conversion.case)
    assert body["her2"] == expected.model_dump(mode="json")["her2"]
    assert body["her2"]["status"] == "positive"
    warned = [w for w in body["warnings"] if w["code"].startswith("fhir.")]
    assert warned == [w.model_dump(mode="json") for w in conversion.warnings]
    assert warned, "the example uses a site-only diagnosis code, which the converter reports"


def test_fhir_in_fhir_out_is_a_valid_r4_bundle(client: Client) -> None:
    response = client.post("/v1/fhir/assess", json=FHIR_BUNDLE, headers=FHIR)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    bundle = response.json()
    Bundle.model_validate(bundle)
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert any(obs["code"]["coding"][0]["code"] == "48676-1" for obs in observations)
    derived = [ref["reference"] for obs in observations for ref in obs.get("derivedFrom", [])]
    assert any("example-her2-ihc" in ref for ref in derived), derived
    subjects = {obs.get("subject", {}).get("reference") for obs in observations}
    assert "Patient/example-patient" in subjects


def test_case_json_in_fhir_out(client: Client) -> None:
    response = client.post("/v1/assess", json=examples.load("biliary-ihc3"), headers=FHIR)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    Bundle.model_validate(response.json())


def test_batch_in_fhir_is_a_batch_response_bundle(client: Client) -> None:
    cases: list[Any] = [examples.load("biliary-ihc3"), {"specimens": []}, examples.load(examples.DEFAULT)]
    response = client.post("/v1/assess/batch", json=cases, headers=FHIR)
    assert response.status_code == 200
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "batch-response"
    statuses = [entry["response"]["status"] for entry in bundle["entry"]]
    assert statuses == ["200 OK", "422 Unprocessable Entity", "200 OK"]
    outcome = bundle["entry"][1]["response"]["outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert "tumor" in outcome["issue"][0]["diagnostics"]


def test_not_a_bundle_is_422(client: Client) -> None:
    error = assert_envelope(
        client.post("/v1/fhir/assess", json={"resourceType": "Patient"}), 422, "invalid_input", "resourceType"
    )
    assert "'Patient'" in error["message"]
    assert_envelope(client.post("/v1/fhir/assess", json=[FHIR_BUNDLE]), 422, "invalid_input")


def test_bundle_without_a_cancer_diagnosis_is_422(client: Client) -> None:
    bundle = copy.deepcopy(FHIR_BUNDLE)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Condition"]
    error = assert_envelope(client.post("/v1/fhir/assess", json=bundle), 422, "invalid_input")
    assert error["field"] is not None and "Condition" in error["field"]


def test_fhir_example_in_openapi_is_the_tested_bundle(client: Client) -> None:
    document = client.get("/openapi.json").json()
    media = document["paths"]["/v1/fhir/assess"]["post"]["requestBody"]["content"]
    for content in media.values():
        assert content["examples"]["gastric-ihc3"]["value"] == FHIR_BUNDLE
