"""FHIR out: assessment -> Bundle, validated with fhir.resources (R4B models, structurally R4 for these types),
and the round trip FHIR Bundle -> case -> her2cds.assess -> FHIR Bundle."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

import her2cds
from her2cds.adapters.fhir import assessment_to_bundle, bundle_to_case
from her2cds.model.assessment import Assessment
from her2cds.model.therapy import CriterionResult, TherapyOption
from tests.fhir.helpers import (
    HGNC,
    ICD10CM,
    ICDO3,
    LOINC,
    SO,
    V2_0487,
    breast_condition,
    bundle,
    component,
    concept,
    condition,
    observation,
    patient,
    quantity,
    specimen_resource,
    variant,
)

LOINC_ANSWER = {"positive": "LA6576-8", "negative": "LA6577-6", "equivocal": "LA11885-3",
                "indeterminate": "LA11884-6"}


def _resources(out: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in out["entry"] if e["resource"]["resourceType"] == rtype]


def _coded(resource: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in resource["code"]["coding"] if c["system"] == system]


def _patient_level(out: dict[str, Any]) -> dict[str, Any]:
    found = [r for r in _resources(out, "Observation") if "specimen" not in r and "48676-1" in _coded(r, LOINC)]
    assert len(found) == 1
    return found[0]


def _round_trip(resources: list[dict[str, Any]], **kw: Any) -> tuple[dict[str, Any], Assessment, dict[str, Any]]:
    source = bundle(patient(), *resources)
    conversion = bundle_to_case(source)
    assessment = her2cds.assess(conversion.case)
    out = assessment_to_bundle(assessment, source_observations=conversion.source_observations,
                               specimen_refs=conversion.specimen_refs, patient_ref="Patient/p1", **kw)
    Bundle.model_validate(out)
    return source, assessment, out


@pytest.mark.parametrize(("score", "status"), [("3+", "positive"), ("0", "negative"), ("2+", "equivocal"),
                                               (None, "indeterminate")])
def test_round_trip_status_codes(score: str | None, status: str) -> None:
    resources = [breast_condition()]
    if score is not None:
        resources.append(observation("ihc", "18474-7", valueCodeableConcept=concept(text=score)))
    _, assessment, out = _round_trip(resources)
    assert assessment.her2.status.value == status
    top = _patient_level(out)
    codes = [c["code"] for c in top["valueCodeableConcept"]["coding"] if c["system"] == LOINC]
    assert codes == [LOINC_ANSWER[status]]
    assert top["subject"] == {"reference": "Patient/p1"}
    derived = [d["reference"] for d in top.get("derivedFrom", [])]
    if score is None:
        assert "Observation/ihc" not in derived
    else:
        assert "Observation/ihc" in derived
        assert any(ref.startswith("urn:uuid:") for ref in derived)  # the per-specimen Observation


def test_specimen_observations_carry_ish_components_and_specimen() -> None:
    ihc = observation("ihc", "18474-7", specimen="Specimen/s1", valueCodeableConcept=concept(text="2+"))
    ratio = observation("ratio", "49683-6", specimen="Specimen/s1", valueQuantity=quantity(2.6))
    copies = observation("copies", "74860-8", specimen="Specimen/s1", valueQuantity=quantity(6.5))
    spec = specimen_resource("s1", concept(text="core biopsy"))
    _, assessment, out = _round_trip([breast_condition(), spec, ihc, ratio, copies])
    per_specimen = [r for r in _resources(out, "Observation") if "specimen" in r]
    assert len(per_specimen) == 1
    obs = per_specimen[0]
    assert obs["specimen"]["reference"] == "Specimen/s1"
    assert obs["effectiveDateTime"] == "2026-01-05"
    quantities = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in obs["component"]
                  if "valueQuantity" in c}
    assert quantities == {"49683-6": 2.6, "74860-8": 6.5}
    assert sorted(d["reference"] for d in obs["derivedFrom"]) == ["Observation/copies", "Observation/ihc",
                                                                  "Observation/ratio"]
    assert assessment.her2.status.value == "positive"


def test_versions_are_in_device_tags_and_notes() -> None:
    _, assessment, out = _round_trip([breast_condition(), observation("ihc", "18474-7",
                                                                      valueCodeableConcept=concept(text="1+"))])
    kb = assessment.versions.knowledge_base
    device = _resources(out, "Device")[0]
    assert {v["type"]["text"]: v["value"] for v in device["version"]} == {
        "engine": assessment.versions.engine, "knowledge base": kb,
        "knowledge base as of": assessment.versions.as_of.isoformat(), "OncoTree": assessment.versions.oncotree}
    assert f"knowledge-base-{kb}" in [t["code"] for t in out["meta"]["tag"]]
    top = _patient_level(out)
    notes = " ".join(n["text"] for n in top["note"])
    assert f"knowledge base {kb}" in notes and "Basis:" in notes
    assert top["device"]["reference"] == next(e["fullUrl"] for e in out["entry"]
                                              if e["resource"]["resourceType"] == "Device")


def test_warnings_and_recommendations_become_notes() -> None:
    conversion = bundle_to_case(bundle(patient(), breast_condition(),
                                       observation("ihc", "18474-7", valueCodeableConcept=concept(text="2+"))))
    assessment = her2cds.assess(conversion.case)
    assessment = assessment.model_copy(update={"warnings": [*assessment.warnings, *conversion.warnings]})
    out = assessment_to_bundle(assessment, source_observations=conversion.source_observations)
    Bundle.model_validate(out)
    notes = [n["text"] for n in _patient_level(out)["note"]]
    assert any(n.startswith("Recommendation reflex_ish") for n in notes)
    assert any(n.startswith("Input warning fhir.tumor_mapping_unverified") for n in notes)


def _option() -> TherapyOption:
    return TherapyOption(
        id="zanidatamab.btc", title="Zanidatamab for previously treated HER2-positive BTC",
        regimen="zanidatamab monotherapy", drugs=("zanidatamab",), approval_kind="fda_approved", eligible=True,
        outcome="eligible",
        criteria=(CriterionResult(id="ihc3", text="HER2 IHC 3+", result="met", reason="IHC 3+ in S1"),),
        line="previously treated", setting=("metastatic",), tumor_scope="biliary tract cancer",
        evidence_level="single_arm", sources=("fda-zanidatamab-btc-2024",), status="verified")


def test_therapies_become_therapeutic_implications() -> None:
    conversion = bundle_to_case(bundle(patient(), condition("c1", (ICD10CM, "C23")),
                                       observation("ihc", "18474-7", valueCodeableConcept=concept(text="3+"))))
    assessment = her2cds.assess(conversion.case)
    assessment = assessment.model_copy(update={"therapies": [_option(), _option().model_copy(
        update={"id": "other", "drugs": ("tucatinib", "trastuzumab"), "regimen": "tucatinib + trastuzumab",
                "outcome": "not_eligible", "eligible": False})]})
    out = assessment_to_bundle(assessment, source_observations=conversion.source_observations)
    Bundle.model_validate(out)
    implications = [r for r in _resources(out, "Observation") if r["code"]["coding"][0]["code"] ==
                    "therapeutic-implication"]
    assert len(implications) == 2
    first = implications[0]
    meds = [[c["valueCodeableConcept"]["text"] for c in imp["component"] if c["code"]["coding"][0]["code"] == "51963-7"]
            for imp in implications]
    assert meds == [["zanidatamab"], ["tucatinib", "trastuzumab"]]
    context = [c for c in first["component"] if c["code"]["coding"][0]["code"] == "81259-4"]
    assert context[0]["valueCodeableConcept"]["coding"][0]["code"] == assessment.tumor.oncotree_code == "GBC"
    outcome = [c["valueCodeableConcept"]["text"] for imp in implications for c in imp["component"]
               if c["code"]["coding"][0]["code"] == "therapeutic-implication"]
    assert outcome == ["eligible", "not_eligible"]
    assert first["identifier"][0]["value"] == "zanidatamab.btc"
    note = first["note"][0]["text"]
    assert "sources: fda-zanidatamab-btc-2024" in note and "IHC 3+ in S1" in note
    patient_url = next(e["fullUrl"] for e in out["entry"] if e["resource"] is _patient_level(out))
    assert first["derivedFrom"] == [{"reference": patient_url}]


def test_therapy_given_as_a_plain_mapping_is_described_fully() -> None:
    from her2cds.adapters.fhir.outbound import _as_mapping, _describe

    data = _as_mapping({"name": "x", "criteria": [{"id": "a", "result": "met"}], "empty": None})
    assert _describe(data) == "name: x\ncriteria: id=a, result=met"
    assert _as_mapping(_option())["regimen"] == "zanidatamab monotherapy"


def test_plasma_ngs_round_trip() -> None:
    plasma = specimen_resource("cf", concept(V2_0487, "PLAS"))
    amp = variant("amp", ("HGNC:3430", "ERBB2"), specimen="Specimen/cf", components=[
        component(LOINC, "48019-4", valueCodeableConcept=concept(SO, "SO:0001880"))])
    mut = variant("mut", ("HGNC:3430", "ERBB2"), protein="p.Tyr772_Ala775dup", specimen="Specimen/cf")
    lung = condition("c1", (ICD10CM, "C34.1"), histology=(ICDO3, "8140/3"))
    _, assessment, out = _round_trip([lung, plasma, amp, mut])
    texts = [c["valueCodeableConcept"]["text"] for r in _resources(out, "Observation")
             for c in r.get("component", []) if c["code"]["coding"][0]["code"] == "erbb2-variant"]
    assert any("Y772_A775dup" in t for t in texts)
    assert assessment.specimens[0].procedure.value == "plasma"
    assert HGNC  # the gene system is what the inbound side keyed on


def test_output_is_deterministic_and_ids_match_full_urls() -> None:
    _, assessment, out = _round_trip([breast_condition(), observation("ihc", "18474-7",
                                                                      valueCodeableConcept=concept(text="3+"))])
    again = assessment_to_bundle(assessment, source_observations={"obs-2026-01-10": ["Observation/ihc"]},
                                 patient_ref="Patient/p1")
    assert again == out
    for entry in out["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    assert out["type"] == "collection"
    other = assessment_to_bundle(assessment, patient_ref="Patient/other")
    assert other["id"] != out["id"]


def test_minimal_call_without_optional_arguments() -> None:
    assessment = her2cds.assess({"tumor": {"oncotree_code": "STAD"},
                                 "specimens": [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "3+"}}]})
    out = assessment_to_bundle(assessment)
    Bundle.model_validate(out)
    top = _patient_level(out)
    assert "subject" not in top
    spec = next(r for r in _resources(out, "Observation") if "specimen" in r)
    assert spec["specimen"]["identifier"]["value"] == "S1"
