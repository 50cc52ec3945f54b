"""The CDS Hooks therapy check on real FHIR history: the mCODE STU4 "Jenny M" surgery and chemotherapy orders
(tests/fixtures/fhir/mcode-stu4) with the Synthea HER2-positive Observations (tests/fixtures/fhir/synthea) in
the prefetch; and the ``org.her2cds.region`` request extension (the API's ``region=``)."""

from __future__ import annotations

import copy
from typing import Any

from her2cds.adapters.api import Settings, create_app
from tests.api.client import Client
from tests.cdshooks import fhirdata
from tests.cdshooks.spec import response_problems
from tests.fhir.test_fixture_history import jenny_m_treatment, synthea_her2_positive

SUBJECT = fhirdata.SUBJECT["reference"]
BREAST = fhirdata.condition("C50.912", "Malignant neoplasm of unspecified site of left female breast")
CHECK = "/cds-services/her2-therapy-check"
REGION = "org.her2cds.region"


def _metastatic() -> dict[str, Any]:
    m1 = {"coding": [{"system": "http://snomed.info/sct", "code": "1229903008", "display": "M1"}], "text": "M1"}
    return fhirdata.observation("21907-1", "obs-m1", valueCodeableConcept=m1)


def _prefetch(treatment: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    treatment = jenny_m_treatment(SUBJECT) if treatment is None else treatment
    prefetch = fhirdata.prefetch(conditions=[BREAST], her2=synthea_her2_positive(SUBJECT),
                                 stagingObservations=fhirdata.searchset(_metastatic()))
    orders = [r for r in treatment if r["resourceType"] == "MedicationRequest"]
    prefetch["medicationRequests"] = fhirdata.searchset(*orders)
    prefetch["procedures"] = fhirdata.searchset(*[r for r in treatment if r["resourceType"] == "Procedure"])
    return prefetch


def _check(client: Client, order: dict[str, Any], prefetch: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = fhirdata.hook_request("order-select", fhirdata.order_context(order), prefetch, **extra)
    response = client.post(CHECK, json=body)
    assert response.status_code == 200, response.text
    assert response_problems(response.json()) == []
    (card,) = response.json()["cards"]
    assert isinstance(card, dict)
    return card


PERTUZUMAB = fhirdata.medication_request("Perjeta (pertuzumab) 420 mg IV", ident="draft-p")
KADCYLA = fhirdata.medication_request("Kadcyla 100 mg", ident="draft-k")


def test_chemotherapy_without_a_stated_setting_leaves_first_line_pertuzumab_unconfirmed(client: Client) -> None:
    """The mCODE orders say "Curative" but not neoadjuvant/adjuvant/metastatic: whether the AC-T regimen was
    therapy for metastatic disease is unknown, so the first-line indication cannot be confirmed (never met)."""
    card = _check(client, PERTUZUMAB, _prefetch())
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert summary.startswith("Pertuzumab: indication cannot be confirmed — no prior"), summary
    assert "for metastatic disease" in summary, summary


def test_the_same_orders_stating_the_adjuvant_setting_make_it_eligible(client: Client) -> None:
    treatment = jenny_m_treatment(SUBJECT)
    for resource in treatment:
        if resource["resourceType"] == "MedicationRequest":
            resource["category"].append({"text": "adjuvant"})
    card = _check(client, PERTUZUMAB, _prefetch(treatment))
    assert card["indicator"] == "info", card["detail"]
    assert card["summary"].startswith("Pertuzumab: indication criteria met")


def test_no_trastuzumab_in_the_history_means_t_dm1_is_not_met(client: Client) -> None:
    card = _check(client, KADCYLA, _prefetch())
    assert card["indicator"] == "warning"
    assert "not met" in card["summary"] and "trastuzumab" in card["summary"], card["summary"]
    assert "| previously received trastuzumab | not met |" in card["detail"]


# ---- region ----------------------------------------------------------------------------------------------------
def test_region_eu_adds_the_eu_status_line_to_the_therapy_check(client: Client) -> None:
    treatment = jenny_m_treatment(SUBJECT)
    for resource in treatment:
        if resource["resourceType"] == "MedicationRequest":
            resource["category"].append({"text": "adjuvant"})
    us = _check(client, PERTUZUMAB, _prefetch(copy.deepcopy(treatment)))
    eu = _check(client, PERTUZUMAB, _prefetch(treatment), extension={REGION: "eu"})
    us_explicit = _check(client, PERTUZUMAB, _prefetch(treatment), extension={REGION: "us"})
    assert "EU:" not in us["detail"] and "EU:" not in us_explicit["detail"]
    # Perjeta's EU authorisation of 2013-03-04 (knowledge base, EMA product page)
    assert "EU: " in eu["detail"] and "2013-03-04" in eu["detail"], eu["detail"]
    assert eu["summary"] == us["summary"]  # the region never changes eligibility


def test_region_eu_on_patient_view_marks_the_options_and_does_not_say_approved(client: Client) -> None:
    us = client.post("/cds-services/her2-assessment", json=fhirdata.patient_view(_prefetch()))
    eu = client.post("/cds-services/her2-assessment", json=fhirdata.patient_view(_prefetch(),
                                                                                   extension={REGION: "eu"}))
    assert us.status_code == eu.status_code == 200
    (us_card,), (eu_card,) = us.json()["cards"], eu.json()["cards"]
    assert response_problems(eu.json()) == []
    assert "EU: " not in us_card["detail"]
    assert "(EU: " in eu_card["detail"], eu_card["detail"]
    assert "approved option" in us_card["summary"] and "FDA-approved" not in us_card["summary"], us_card["summary"]
    assert "FDA-approved option" in eu_card["summary"], eu_card["summary"]
    assert "(EU: marketing authorisation 2013-03-04 (EMA))" in eu_card["detail"]  # pertuzumab first line


def test_an_unknown_region_is_invalid_input_naming_the_extension(client: Client) -> None:
    body = fhirdata.hook_request("order-select", fhirdata.order_context(PERTUZUMAB), _prefetch(),
                                 extension={REGION: "uk"})
    response = client.post(CHECK, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["field"] == "extension"
    assert REGION in error["message"] and "'uk'" in error["message"]


def test_region_eu_reaches_the_cards_when_the_service_queries_the_fhir_server() -> None:
    """Without a prefetch the event loop queries the FHIR server and a worker builds the cards: the region goes
    with them (the router's offload path, not only the in-process one)."""
    server_url = "https://fhir.example.org/r4"
    her2 = synthea_her2_positive(SUBJECT)
    resources = [fhirdata.patient(), BREAST, *her2, _metastatic(), *jenny_m_treatment(SUBJECT)]
    server = fhirdata.FakeFhirServer(resources)
    app = create_app(Settings(fhir_allowed_servers=[server_url]), fhir_transport=server.transport)
    body = fhirdata.patient_view(None, fhirServer=server_url, extension={REGION: "eu"})
    response = Client(app).post("/cds-services/her2-assessment", json=body)
    assert response.status_code == 200, response.text
    assert server.requests, "the FHIR server was not queried"
    (card,) = response.json()["cards"]
    assert "(EU: " in card["detail"], card["detail"]
