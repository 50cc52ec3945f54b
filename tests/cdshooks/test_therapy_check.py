"""``her2-therapy-check`` (order-select) and ``her2-therapy-check-sign`` (order-sign).

The therapy options come from the engine; here a thin wrapper adds options to the engine's assessment so the
card logic is pinned independently of the therapy knowledge (``test_end_to_end_*`` use the real matcher).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

import her2cds
from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.api.deps import get_assessor
from her2cds.adapters.cdshooks.therapy_check import DraftOrder, draft_medication_orders, order_drugs
from her2cds.adapters.fhir.codes import default_code_map
from her2cds.model.assessment import Assessment
from her2cds.model.therapy import TherapyOption
from tests.api.client import Client
from tests.cdshooks import fhirdata
from tests.cdshooks.options import option
from tests.cdshooks.spec import response_problems

BTC = fhirdata.condition("C22.1", "Intrahepatic bile duct carcinoma")
ZANIDATAMAB_BTC = [
    ("HER2-positive (IHC 3+)", "not_met", "IHC 2+"),
    ("biliary tract cancer", "met", "IHCH"),
    ("previously treated with a gemcitabine-containing regimen", "met", "gemcitabine"),
]


def client_with(options: Sequence[TherapyOption]) -> Client:
    app = create_app(Settings())

    def assess(case: dict[str, Any]) -> Assessment:
        return her2cds.assess(case).model_copy(update={"therapies": list(options)})

    app.dependency_overrides[get_assessor] = lambda: assess
    return Client(app)


def order_select(
    *orders: dict[str, Any], selections: list[str] | None = None, prefetch: dict[str, Any] | None = None
) -> dict[str, Any]:
    if prefetch is None:
        prefetch = fhirdata.prefetch(
            conditions=[BTC], her2=[fhirdata.ihc("2+")], medications=[fhirdata.medication_statement("gemcitabine")]
        )
    return fhirdata.hook_request("order-select", fhirdata.order_context(*orders, selections=selections), prefetch)


def test_zanidatamab_for_ihc2_biliary_warns_with_the_unmet_criterion() -> None:
    client = client_with(
        [
            option(
                "zanidatamab-btc",
                ["zanidatamab"],
                "not_eligible",
                criteria=ZANIDATAMAB_BTC,
                title="Zanidatamab, previously treated HER2-positive (IHC 3+) BTC",
                sources=("fda-zanidatamab-btc-2024",),
            )
        ]
    )
    order = fhirdata.medication_request("zanidatamab-hrii 300 MG Injection", ident="zani-1")
    response = client.post("/cds-services/her2-therapy-check", json=order_select(order))
    assert response.status_code == 200, response.text
    assert response_problems(response.json()) == []
    (card,) = response.json()["cards"]
    assert card["indicator"] == "warning"
    assert card["summary"] == "Zanidatamab: indication criteria not met — HER2-positive (IHC 3+)"
    assert "| HER2-positive (IHC 3+) | not met | IHC 2+ |" in card["detail"]
    assert "HER2 equivocal" in card["detail"] or "IHC 2+" in card["detail"]
    assert card["overrideReasons"] and all(r["display"] for r in card["overrideReasons"])
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": "Remove the draft zanidatamab order",
            "resourceId": "MedicationRequest/zani-1",
        }
    ]
    assert card["source"]["topic"]["code"] == "51963-7"
    assert card["source"]["url"]


def test_eligible_order_gets_an_info_card() -> None:
    client = client_with(
        [option("zanidatamab-btc", ["zanidatamab"], "eligible", criteria=[("HER2-positive (IHC 3+)", "met", "IHC 3+")])]
    )
    order = fhirdata.medication_request("Ziihera 300 mg vial")  # brand name
    response = client.post("/cds-services/her2-therapy-check", json=order_select(order))
    (card,) = response.json()["cards"]
    assert card["indicator"] == "info"
    assert card["summary"].startswith("Zanidatamab: indication criteria met")
    assert "suggestions" not in card and "overrideReasons" not in card
    assert response_problems(response.json()) == []


def test_undetermined_option_warns_that_it_cannot_confirm() -> None:
    client = client_with(
        [
            option(
                "tdxd-pan-tumor",
                ["trastuzumab deruxtecan"],
                "insufficient_data",
                criteria=[("prior systemic treatment", "unknown", "no medication history")],
            )
        ]
    )
    order = fhirdata.medication_request("fam-trastuzumab deruxtecan-nxki 100 MG Injection")
    (card,) = client.post("/cds-services/her2-therapy-check", json=order_select(order)).json()["cards"]
    assert card["indicator"] == "warning"
    assert card["summary"] == "Trastuzumab deruxtecan: indication cannot be confirmed — prior systemic treatment"


def test_anti_her2_drug_without_an_option_warns() -> None:
    client = client_with([option("zanidatamab-btc", ["zanidatamab"], "not_eligible", criteria=ZANIDATAMAB_BTC)])
    order = fhirdata.medication_request("Tukysa (tucatinib) 150 mg tablet")
    (card,) = client.post("/cds-services/her2-therapy-check", json=order_select(order)).json()["cards"]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Tucatinib: no HER2-targeted indication found")
    assert "zanidatamab" in card["detail"]


def test_no_options_at_all_is_handled() -> None:
    order = fhirdata.medication_request("trastuzumab 150 MG Injection")
    response = client_with([]).post("/cds-services/her2-therapy-check", json=order_select(order))
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    assert card["indicator"] == "warning"
    assert response_problems(response.json()) == []


def test_other_drugs_give_no_cards_and_need_no_data() -> None:
    order = fhirdata.medication_request("gemcitabine 1000 MG Injection")
    body = fhirdata.hook_request("order-select", fhirdata.order_context(order))  # no prefetch, no server
    response = client_with([]).post("/cds-services/her2-therapy-check", json=body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_order_select_checks_only_the_selected_orders() -> None:
    client = client_with([option("zanidatamab-btc", ["zanidatamab"], "not_eligible", criteria=ZANIDATAMAB_BTC)])
    zani = fhirdata.medication_request("zanidatamab", ident="zani-1")
    other = fhirdata.medication_request("ondansetron", ident="ond-1")
    body = order_select(zani, other, selections=["MedicationRequest/ond-1"])
    assert client.post("/cds-services/her2-therapy-check", json=body).json() == {"cards": []}
    body = order_select(zani, other, selections=["MedicationRequest/zani-1"])
    assert len(client.post("/cds-services/her2-therapy-check", json=body).json()["cards"]) == 1


def test_order_sign_checks_every_draft_order() -> None:
    client = client_with(
        [
            option("zanidatamab-btc", ["zanidatamab"], "not_eligible", criteria=ZANIDATAMAB_BTC),
            option("tdxd", ["trastuzumab deruxtecan"], "eligible"),
        ]
    )
    body = order_select(
        fhirdata.medication_request("zanidatamab", ident="a"), fhirdata.medication_request("Enhertu", ident="b")
    )
    body["hook"] = "order-sign"
    body["context"].pop("selections", None)
    response = client.post("/cds-services/her2-therapy-check-sign", json=body)
    cards = response.json()["cards"]
    assert [c["indicator"] for c in cards] == ["warning", "info"]
    assert response_problems(response.json()) == []


def test_missing_prefetch_without_server_is_412_for_an_anti_her2_order() -> None:
    order = fhirdata.medication_request("zanidatamab")
    body = fhirdata.hook_request("order-select", fhirdata.order_context(order))
    assert client_with([]).post("/cds-services/her2-therapy-check", json=body).status_code == 412


def test_drafted_order_is_not_counted_as_prior_therapy() -> None:
    seen: list[dict[str, Any]] = []
    app = create_app(Settings())

    def assess(case: dict[str, Any]) -> Assessment:
        seen.append(case)
        return her2cds.assess(case)

    app.dependency_overrides[get_assessor] = lambda: assess
    order = fhirdata.medication_request("zanidatamab", ident="zani-1")
    persisted = {**order, "status": "active"}  # the EHR already stored the draft
    prefetch = fhirdata.prefetch(
        conditions=[BTC], her2=[fhirdata.ihc("2+")], medicationRequests=fhirdata.searchset(persisted)
    )
    Client(app).post("/cds-services/her2-therapy-check", json=order_select(order, prefetch=prefetch))
    (case,) = seen
    assert "zanidatamab" not in case["history"].get("prior_agents", [])


@pytest.mark.parametrize(
    ("concept", "expected"),
    [
        ({"text": "fam-trastuzumab deruxtecan-nxki 100 MG"}, ["trastuzumab deruxtecan"]),
        ({"text": "ado-trastuzumab emtansine"}, ["trastuzumab emtansine"]),
        ({"text": "Herceptin 150 mg"}, ["trastuzumab"]),
        ({"text": "Phesgo"}, ["pertuzumab", "trastuzumab"]),
        ({"text": "ondansetron"}, []),
        ({"coding": [{"system": "http://example.org/local", "code": "X", "display": "Tukysa 50 mg"}]}, ["tucatinib"]),
    ],
)
def test_order_drugs(concept: dict[str, Any], expected: list[str]) -> None:
    assert sorted(order_drugs(DraftOrder("MedicationRequest/1", (concept,)), default_code_map())) == expected


def test_medication_reference_to_a_contained_medication() -> None:
    request = {
        "resourceType": "MedicationRequest",
        "id": "m",
        "status": "draft",
        "intent": "order",
        "medicationReference": {"reference": "#med"},
        "contained": [{"resourceType": "Medication", "id": "med", "code": {"text": "Ziihera"}}],
    }
    (order,) = draft_medication_orders(fhirdata.order_context(request), selected_only=False)
    assert order_drugs(order, default_code_map()) == ["zanidatamab"]


# ---- end to end with the real therapy matcher -----------------------------------------------------------------
def _btc_prefetch(ihc_score: str) -> dict[str, Any]:
    metastatic = fhirdata.observation(
        "21907-1",
        "obs-m1",
        valueCodeableConcept={
            "coding": [{"system": "http://snomed.info/sct", "code": "1229903008", "display": "M1"}],
            "text": "M1",
        },
    )
    return fhirdata.prefetch(
        conditions=[BTC],
        her2=[fhirdata.ihc(ihc_score), fhirdata.ish_ratio(4.0)],
        medications=[fhirdata.medication_statement("gemcitabine"), fhirdata.medication_statement("cisplatin", "m2")],
        stagingObservations=fhirdata.searchset(metastatic),
    )


def test_end_to_end_zanidatamab_for_ihc2_biliary(client: Client) -> None:
    order = fhirdata.medication_request("zanidatamab-hrii 300 MG Injection", ident="zani-1")
    body = order_select(order, prefetch=_btc_prefetch("2+"))
    response = client.post("/cds-services/her2-therapy-check", json=body)
    assert response.status_code == 200, response.text
    assert response_problems(response.json()) == []
    (card,) = response.json()["cards"]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Zanidatamab: indication criteria not met — HER2 IHC 3+")
    assert "| HER2 IHC 3+ | not met |" in card["detail"]
    assert card["source"]["url"].startswith("https://www.fda.gov/")
    assert card["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/zani-1"


def test_end_to_end_zanidatamab_for_ihc3_biliary_is_info(client: Client) -> None:
    order = fhirdata.medication_request("Ziihera 300 mg", ident="zani-1")
    response = client.post("/cds-services/her2-therapy-check", json=order_select(order, prefetch=_btc_prefetch("3+")))
    (card,) = response.json()["cards"]
    assert card["summary"].startswith("Zanidatamab: indication criteria met"), card["detail"]
    assert card["indicator"] == "info"


def test_end_to_end_patient_view_counts_approved_options(client: Client) -> None:
    response = client.post("/cds-services/her2-assessment", json=fhirdata.patient_view(_btc_prefetch("3+")))
    (card,) = response.json()["cards"]
    assert card["summary"].startswith("HER2-positive (IHC 3+")
    assert "approved option" in card["summary"]
    assert "Zanidatamab" in card["detail"]
    assert response_problems(response.json()) == []


def test_end_to_end_the_check_uses_the_treatment_history_from_fhir(client: Client) -> None:
    """A MedicationStatement stating the metastatic setting, dates and progression becomes a regimen; the
    therapy check then refuses to offer the drug the disease progressed on, with that reason."""
    prefetch = _btc_prefetch("3+")
    progressed = {
        **fhirdata.medication_statement("zanidatamab", "m3", status="stopped"),
        "category": [{"text": "metastatic disease"}],
        "effectivePeriod": {"start": "2025-02-03", "end": "2025-09-01"},
        "statusReason": [{"text": "Disease progression"}],
    }
    prefetch["medicationStatements"]["entry"].append({"resource": progressed})
    order = fhirdata.medication_request("Ziihera 300 mg", ident="zani-2")
    response = client.post("/cds-services/her2-therapy-check", json=order_select(order, prefetch=prefetch))
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert card["indicator"] == "warning"
    assert "not met" in card["summary"] and "progression on zanidatamab" in card["summary"], card["summary"]
