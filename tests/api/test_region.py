"""``region=`` on the assessment endpoints (docs/therapy.md "Regions"): the same answers as the library."""

from __future__ import annotations

import json

import her2cds
from her2cds.adapters.api.examples import FHIR_BUNDLE
from her2cds.adapters.fhir import bundle_to_case
from tests.api.client import Client
from tests.unit.test_cli_region import CASE, TDXD


def test_assess_region_eu_equals_the_case_with_region_eu(client: Client) -> None:
    response = client.post("/v1/assess?region=eu", json=CASE)
    assert response.status_code == 200, response.text
    expected = json.loads(her2cds.assess({**CASE, "region": "eu"}).model_dump_json())
    body = response.json()
    assert body["therapies"] == expected["therapies"]
    assert next(t for t in body["therapies"] if t["id"] == TDXD)["region_status"].startswith("EU: conditional")
    expanded = client.post("/v1/assess?region=eu&expand=therapies", json=CASE).json()
    assert [r["agency"] for r in next(t for t in expanded["therapies"] if t["id"] == TDXD)["regulatory"]] == [
        "FDA", "EMA"]
    default = client.post("/v1/assess", json=CASE).json()
    assert all("region_status" not in t for t in default["therapies"])


def test_batch_region_eu_and_the_cases_own_region_wins(client: Client) -> None:
    response = client.post("/v1/assess/batch?region=eu", json=[CASE, {**CASE, "region": "us"}, {"tumor": {}}])
    assert response.status_code == 200
    first, second, third = response.json()
    assert all(str(t["region_status"]).startswith("EU: ") for t in first["therapies"])
    assert all("region_status" not in t for t in second["therapies"])
    assert third["index"] == 2 and "error" in third


def test_fhir_assess_region_eu(client: Client) -> None:
    response = client.post("/v1/fhir/assess?region=eu", json=FHIR_BUNDLE)
    assert response.status_code == 200, response.text
    case = bundle_to_case(FHIR_BUNDLE).case
    expected = her2cds.assess({**case, "region": "eu"} if isinstance(case, dict) else case.model_copy(
        update={"region": "eu"}))
    therapies = response.json()["therapies"]
    assert therapies and therapies == json.loads(expected.model_dump_json())["therapies"]
    assert all(t["region_status"].startswith("EU: ") for t in therapies)


def test_unknown_region_is_rejected_naming_the_parameter(client: Client) -> None:
    response = client.post("/v1/assess?region=jp", json=CASE)
    assert response.status_code == 422
    assert "region" in response.text
