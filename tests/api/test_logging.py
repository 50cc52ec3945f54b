"""No patient data in logs: requests carrying a recognisable patient name (and identifiers) leave no trace of
it in any log record, at any level, on success and on every error path."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.api.deps import get_assessor
from her2cds.adapters.api.examples import FHIR_BUNDLE
from her2cds.model.assessment import Assessment
from tests.api.client import Client
from tests.cdshooks import fhirdata

NAME = "Zebulon Quixotefield"
FAMILY = "Quixotefield"


def _named_bundle() -> dict[str, Any]:
    bundle = copy.deepcopy(FHIR_BUNDLE)
    bundle["entry"][0]["resource"]["name"] = [{"family": FAMILY, "given": ["Zebulon"], "text": NAME}]
    bundle["entry"][0]["resource"]["identifier"] = [{"system": "urn:mrn", "value": "MRN-77123"}]
    return bundle


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(str(record.exc_text or ""))
    return "\n".join(parts)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_requests_with_a_patient_name_leave_no_trace(debug_logs: pytest.LogCaptureFixture) -> None:
    server = fhirdata.FakeFhirServer(
        [
            {**fhirdata.patient(), "name": [{"text": NAME}]},
            fhirdata.condition("C16.9", "Malignant neoplasm of stomach"),
            fhirdata.ihc("2+"),
        ]
    )
    settings = Settings(fhir_allowed_servers=["https://fhir.example.org"])
    client = Client(create_app(settings, fhir_transport=server.transport))
    bundle = _named_bundle()

    assert client.post("/v1/fhir/assess", json=bundle).status_code == 200
    assert client.post("/v1/fhir/assess", json=bundle, headers={"accept": "application/fhir+json"}).status_code == 200
    broken = copy.deepcopy(bundle)
    broken["entry"] = [e for e in broken["entry"] if e["resource"]["resourceType"] != "Condition"]
    assert client.post("/v1/fhir/assess", json=broken).status_code == 422

    case = {
        "id": NAME,
        "tumor": {"oncotree_code": "STAD"},
        "specimens": [{"id": "S1", "procedure": "biopsy", "ihc": {"score": NAME}}],
    }
    invalid = client.post("/v1/assess", json=case)
    assert invalid.status_code == 422 and NAME in invalid.text  # the caller sees its value ...
    assert client.post("/v1/assess/batch", json=[case, case]).status_code == 200
    assert (
        client.post(
            "/v1/assess", content=f'{{"id": "{NAME}", '.encode(), headers={"content-type": "application/json"}
        ).status_code
        == 400
    )

    prefetch = fhirdata.prefetch(conditions=[fhirdata.condition("C16.9", "Stomach")], her2=[fhirdata.ihc("2+")])
    prefetch["patient"]["name"] = [{"text": NAME}]
    assert client.post("/cds-services/her2-assessment", json=fhirdata.patient_view(prefetch)).status_code == 200
    fetched = fhirdata.patient_view(
        None,
        fhirServer="https://fhir.example.org",
        fhirAuthorization={"access_token": "t", "token_type": "Bearer", "expires_in": 60, "scope": "s", "subject": "x"},
    )
    assert client.post("/cds-services/her2-assessment", json=fetched).status_code == 200
    assert server.requests

    text = _all_text(debug_logs)
    assert "her2cds.api.access" in text  # logging did happen ...
    assert NAME not in text and FAMILY not in text  # ... without the name
    assert "MRN-77123" not in text
    ours = "\n".join(r.getMessage() for r in debug_logs.records if r.name.startswith("her2cds"))
    assert fhirdata.PATIENT_ID not in ours  # our own records carry no patient identifier either


def test_crash_with_patient_data_in_the_exception_leaves_no_trace(debug_logs: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings())

    def leaky(case: dict[str, Any]) -> Assessment:
        raise ValueError(f"cannot handle {case.get('id')}")

    app.dependency_overrides[get_assessor] = lambda: leaky
    response = Client(app).post("/v1/assess", json={"id": NAME, "tumor": {"oncotree_code": "STAD"}})
    assert response.status_code == 500
    assert NAME not in response.text
    text = _all_text(debug_logs)
    assert "ValueError" in text
    assert NAME not in text and FAMILY not in text
