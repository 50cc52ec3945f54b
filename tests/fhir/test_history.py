"""FHIR MedicationStatement / MedicationRequest / MedicationAdministration → history.regimens (settings and dates
where the resources state them) and breast-surgery Procedure → history.surgery; the engine then matches therapy
on that history, exactly as for a JSON case."""

from __future__ import annotations

from typing import Any

import her2cds
from her2cds.adapters.fhir import bundle_to_case
from tests.fhir.helpers import PATIENT, breast_condition, bundle, concept, observation, patient, warning

SNOMED = "http://snomed.info/sct"


def _ihc3() -> dict[str, Any]:
    return observation("ihc", "18474-7", valueCodeableConcept=concept(text="3+"))


def _statement(sid: str, drug: str, *, setting: str | None = None, start: str | None = None,
               end: str | None = None, status: str = "completed", reason: str | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "MedicationStatement", "id": sid, "status": status,
                           "subject": {"reference": PATIENT}, "medicationCodeableConcept": concept(text=drug)}
    if setting is not None:
        res["category"] = [concept(text=setting)]
    if start is not None or end is not None:
        res["effectivePeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    if reason is not None:
        res["statusReason"] = [concept(text=reason)]
    return res


def _surgery(outcome: str | None, day: str = "2025-05-20") -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Procedure", "id": "surg", "status": "completed",
                           "subject": {"reference": PATIENT}, "code": concept(SNOMED, "172043006", "Total mastectomy"),
                           "performedDateTime": day}
    if outcome is not None:
        res["outcome"] = concept(text=outcome)
    return res


def test_medications_with_setting_and_dates_become_regimens_and_surgery_is_read() -> None:
    thp = [_statement(f"n{i}", drug, setting="Neoadjuvant therapy", start="2025-01-06", end="2025-04-21")
           for i, drug in enumerate(("paclitaxel", "trastuzumab", "pertuzumab"))]
    conv = bundle_to_case(bundle(patient(), breast_condition(), *thp, _surgery("Residual invasive carcinoma"),
                                 _ihc3()))
    history = conv.case["history"]
    assert history["regimens"] == [{"agents": ["paclitaxel", "trastuzumab", "pertuzumab"], "setting": "neoadjuvant",
                                    "start": "2025-01-06", "end": "2025-04-21", "stopped_for": "completion"}]
    assert history["surgery"] == {"date": "2025-05-20", "pathologic_response": "residual_invasive"}
    assert history["prior_agents"] == []
    case = {**conv.case, "tumor": {**conv.case["tumor"], "setting": "early"}, "assessed_on": "2025-06-01"}
    options = {t.id: t for t in her2cds.assess(case).therapies}
    assert options["fda.trastuzumab-emtansine.breast-adjuvant-residual"].outcome == "eligible"
    assert options["fda.trastuzumab-deruxtecan.breast-adjuvant-residual"].outcome == "eligible"


def test_pcr_at_surgery_and_the_stop_reason_are_read() -> None:
    neo = _statement("n", "TCHP regimen docetaxel carboplatin trastuzumab pertuzumab", setting="neoadjuvant",
                     start="2025-01-06", end="2025-04-21")
    later = _statement("m", "trastuzumab deruxtecan", setting="metastatic disease", start="2026-01-05",
                       end="2026-06-01", status="stopped", reason="Disease progression")
    conv = bundle_to_case(bundle(patient(), breast_condition(), neo, later, _surgery("pathologic complete response"),
                                 _ihc3()))
    history = conv.case["history"]
    assert history["surgery"]["pathologic_response"] == "pcr"
    assert [(r["setting"], r["stopped_for"]) for r in history["regimens"]] == [
        ("neoadjuvant", "completion"), ("metastatic", "progression")]
    options = {t.id: t for t in her2cds.assess({**conv.case, "assessed_on": "2026-07-01"}).therapies}
    tdxd = options["fda.trastuzumab-deruxtecan.breast-her2-positive-pretreated"]
    assert tdxd.outcome == "not_eligible"
    assert [c.id for c in tdxd.criteria if c.result == "not_met"] == ["not-progressed"]


def test_medications_without_setting_or_full_date_stay_bare_agents() -> None:
    bare = _statement("b", "trastuzumab", start="2025-03")  # a partial date is never completed by guessing
    other = {"resourceType": "Procedure", "id": "port", "status": "completed", "subject": {"reference": PATIENT},
             "code": concept(text="Insertion of central venous port")}
    conv = bundle_to_case(bundle(patient(), breast_condition(), bare, other, _ihc3()))
    assert conv.case["history"] == {"prior_agents": ["trastuzumab"]}
    assert "not a breast surgery" in warning(conv, "fhir.procedure_not_used")


def test_a_draft_order_is_not_history() -> None:
    draft = {"resourceType": "MedicationRequest", "id": "d", "status": "draft", "intent": "order",
             "subject": {"reference": PATIENT}, "medicationCodeableConcept": concept(text="trastuzumab deruxtecan"),
             "authoredOn": "2026-01-05", "category": [concept(text="metastatic")]}
    conv = bundle_to_case(bundle(patient(), breast_condition(), draft, _ihc3()))
    assert conv.case["history"] == {"prior_agents": []}
