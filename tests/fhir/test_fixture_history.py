"""The treatment history read from real FHIR: the mCODE STU4 "Jenny M" extended example's breast surgery,
chemotherapy orders (CancerRelatedMedicationRequest), their administrations (CancerRelatedMedicationAdministration)
and the anastrozole order (tests/fixtures/fhir/mcode-stu4, see SOURCE.md), with the Synthea HER2-positive
Observations of the same fixture folder as the HER2 result."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import her2cds
from her2cds.adapters.fhir import bundle_to_case
from tests.fhir.helpers import FIXTURES, PATIENT, breast_condition, bundle, fixture_json, patient, warning
from tests.fhir.test_fixtures import _synthea_observation

JENNY_M = "mcode-stu4/EX_ExtendedExample.jenny-m-surgery-and-medications.json"
AC_T = ["doxorubicin", "cyclophosphamide", "paclitaxel"]


def jenny_m_treatment(subject: str = PATIENT) -> list[dict[str, Any]]:
    """The fixture's resources, re-pointed at this test's patient (the IG example names its own patient)."""
    out = []
    for entry in fixture_json(JENNY_M)["entry"]:
        resource = copy.deepcopy(entry["resource"])
        resource["subject"] = {"reference": subject}
        out.append(resource)
    return out


def synthea_her2_positive(subject: str = PATIENT) -> list[dict[str, Any]]:
    states = json.loads((FIXTURES / "synthea" / "hormone_diagnosis.json").read_text(encoding="utf-8"))["states"]
    found = [_synthea_observation(states, name, encoding="string")
             for name in ("HER2_positive", "HER2_ratio_greater_than_2point2")]
    return [{**resource, "subject": {"reference": subject}} for resource in found]


def _by_type(resources: list[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] in types]


def test_fixture_holds_the_ig_resources() -> None:
    resources = jenny_m_treatment()
    assert [r["resourceType"] for r in resources].count("MedicationRequest") == 4
    assert [r["resourceType"] for r in resources].count("MedicationAdministration") == 3
    (surgery,) = _by_type(resources, "Procedure")
    assert surgery["code"]["coding"][0] == {"system": "http://snomed.info/sct", "code": "64368001",
                                            "display": "Excision of part of breast (procedure)"}


def test_orders_administrations_and_surgery_become_the_history() -> None:
    conv = bundle_to_case(bundle(patient(), breast_condition(), *synthea_her2_positive(), *jenny_m_treatment()))
    history = conv.case["history"]
    # one AC-T regimen from the orders authored 2018-04-12 (the administrations of 2018-04-22 carry those orders
    # out and are no new regimen); the anastrozole order is its own regimen. No resource states neoadjuvant /
    # adjuvant (only "Curative" treatment intent), so no setting is invented; a partial date or none is not read.
    assert history["regimens"] == [{"agents": AC_T, "start": "2018-04-12"},
                                   {"agents": ["anastrozole"], "start": "2018-09-30"}]
    assert all("setting" not in regimen for regimen in history["regimens"])
    assert history["prior_agents"] == []
    # "Excision of part of breast" (SNOMED 64368001) is a breast surgery; no pathologic response is stated
    assert history["surgery"] == {"date": "2018-04-01"}
    assert "fhir.procedure_not_used" not in [w.code for w in conv.warnings]
    assert "fhir.medication_unmapped" not in [w.code for w in conv.warnings]


def test_administrations_without_their_orders_are_a_regimen_of_their_own() -> None:
    given = _by_type(jenny_m_treatment(), "MedicationAdministration")
    conv = bundle_to_case(bundle(patient(), breast_condition(), *synthea_her2_positive(), *given))
    assert conv.case["history"]["regimens"] == [{"agents": AC_T, "start": "2018-04-22", "stopped_for": "completion"}]


def test_an_administration_naming_its_order_joins_it_even_on_another_day() -> None:
    resources = jenny_m_treatment()
    (dox,) = [r for r in resources if r["id"] == "cancer-related-medication-admin-doxorubicin-jenny-m"]
    assert dox["request"] == {"reference": "MedicationRequest/cancer-related-medication-request-doxorubicin-jenny-m"}
    orders = [r for r in resources if r["id"] == "cancer-related-medication-request-doxorubicin-jenny-m"]
    conv = bundle_to_case(bundle(patient(), breast_condition(), *orders, {**dox, "effectiveDateTime": "2018-06-01"}))
    assert conv.case["history"]["regimens"] == [{"agents": ["doxorubicin"], "start": "2018-04-12"}]


def test_a_stated_setting_is_read_from_the_same_resources() -> None:
    resources = jenny_m_treatment()
    for resource in _by_type(resources, "MedicationRequest", "MedicationAdministration"):
        resource["note"] = [{"text": "adjuvant chemotherapy"}]
    conv = bundle_to_case(bundle(patient(), breast_condition(), *resources))
    assert [(r["agents"], r.get("setting")) for r in conv.case["history"]["regimens"]] == [
        (AC_T, "adjuvant"), (["anastrozole"], "adjuvant")]


def test_a_surgery_that_is_not_completed_is_not_read() -> None:
    resources = jenny_m_treatment()
    for resource in _by_type(resources, "Procedure"):
        resource["status"] = "in-progress"
    conv = bundle_to_case(bundle(patient(), breast_condition(), *resources))
    assert "surgery" not in conv.case["history"]
    assert "not completed" in warning(conv, "fhir.procedure_not_used")


@pytest.fixture(scope="module")
def early_options() -> dict[str, Any]:
    conv = bundle_to_case(bundle(patient(), breast_condition(), *synthea_her2_positive(), *jenny_m_treatment()))
    case = {**conv.case, "tumor": {**conv.case["tumor"], "setting": "early"}, "assessed_on": "2019-01-15"}
    return {t.id: t for t in her2cds.assess(case).therapies}


def test_the_engine_uses_the_fhir_history(early_options: dict[str, Any]) -> None:
    # no trastuzumab before surgery: the KATHERINE indication is not met on that criterion, the taxane's and the
    # residual disease's pre-/post-operative role stay unknown (the setting is not stated)
    tdm1 = early_options["fda.trastuzumab-emtansine.breast-adjuvant-residual"]
    results = {c.text: c.result for c in tdm1.criteria}
    assert tdm1.outcome == "not_eligible"
    assert results["neoadjuvant trastuzumab-based treatment"] == "not_met"
    assert results["residual invasive disease at surgery after neoadjuvant therapy"] == "unknown"
    # prior systemic therapy (the AC-T regimen) rules out neoadjuvant use; the adjuvant indication stays open
    assert early_options["fda.pertuzumab.breast-neoadjuvant"].outcome == "not_eligible"
    assert early_options["fda.trastuzumab.breast-adjuvant"].outcome == "eligible"
