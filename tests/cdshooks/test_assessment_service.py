"""``her2-assessment`` (patient-view) end to end: prefetch -> FHIR converter -> engine -> card."""

from __future__ import annotations

from typing import Any

from tests.api.client import Client
from tests.cdshooks import fhirdata
from tests.cdshooks.spec import response_problems

STOMACH = fhirdata.condition("C16.9", "Malignant neoplasm of stomach")


def _m1() -> dict[str, Any]:
    value = {"coding": [{"system": "http://snomed.info/sct", "code": "1229903008", "display": "M1"}], "text": "M1"}
    return fhirdata.observation("21907-1", "obs-m1", valueCodeableConcept=value)


def call(client: Client, prefetch: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/cds-services/her2-assessment", json=fhirdata.patient_view(prefetch))
    assert response.status_code == 200, response.text
    assert response_problems(response.json()) == []
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def test_untested_metastatic_gastric_cancer_gets_a_testing_card(client: Client) -> None:
    prefetch = fhirdata.prefetch(conditions=[STOMACH], her2=[], stagingObservations=fhirdata.searchset(_m1()))
    (card,) = call(client, prefetch)
    assert card["indicator"] == "warning"
    assert card["summary"] == "HER2 indeterminate — HER2 immunohistochemistry recommended"
    (suggestion,) = card["suggestions"]
    order = suggestion["actions"][0]["resource"]
    assert order["code"]["coding"][0]["code"] == "18474-7"
    assert order["subject"] == {"reference": f"Patient/{fhirdata.PATIENT_ID}"}


def test_positive_gastric_cancer(client: Client) -> None:
    prefetch = fhirdata.prefetch(
        conditions=[STOMACH],
        her2=[fhirdata.ihc("2+"), fhirdata.ish_ratio(3.1)],
        stagingObservations=fhirdata.searchset(_m1()),
    )
    (card,) = call(client, prefetch)
    assert card["summary"].startswith("HER2-positive (IHC 2+, ISH amplified)")
    assert "Stomach Adenocarcinoma" in card["detail"]
    assert "Bartley" in card["detail"]
    assert card["source"]["url"].startswith("https://meridian.allenpress.com/")


def test_her2_results_without_a_cancer_diagnosis_get_a_notice(client: Client) -> None:
    diabetes = fhirdata.condition("E11.9", "Type 2 diabetes mellitus")
    (card,) = call(client, fhirdata.prefetch(conditions=[diabetes], her2=[fhirdata.ihc("3+")]))
    assert card["indicator"] == "info"
    assert card["summary"].startswith("HER2 assessment not possible")
    assert "tumor type" in card["summary"]


def test_no_cancer_and_no_her2_data_gives_no_card(client: Client) -> None:
    diabetes = fhirdata.condition("E11.9", "Type 2 diabetes mellitus")
    assert call(client, fhirdata.prefetch(conditions=[diabetes], her2=[])) == []


def test_converter_warnings_and_missing_keys_are_listed_not_dropped(client: Client) -> None:
    prefetch = fhirdata.prefetch(conditions=[STOMACH], her2=[fhirdata.ihc("3+")])
    del prefetch["specimens"]
    (card,) = call(client, prefetch)
    assert "**Not considered**" in card["detail"]
    assert "specimens could not be considered" in card["detail"]
    assert "coded by site only" in card["detail"]
