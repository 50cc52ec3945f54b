"""FHIR that other systems accept: mCODE SNOMED CT morphology and body site in; out a DiagnosticReport over the
result Observations, RxNorm codings, subject whenever the patient is known, and a transaction Bundle a
HAPI-style server accepts. Every Bundle is validated (fhir.resources strict R4 models + required bindings)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import her2cds
from her2cds import examples
from her2cds.adapters.cli import main
from her2cds.adapters.fhir import assessment_to_bundle, bundle_to_case
from her2cds.adapters.fhir.codes import default_code_map
from tests.fhir.hapi import FhirServer, RejectedError
from tests.fhir.helpers import SNOMED, bundle, patient
from tests.fhir.validation import binding_problems, validate

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "fhir-bundle-breast.json"
MORPHOLOGY_EXT = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
PATIENT = "Patient/example-breast-patient"


def _sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return data


def _mcode_condition(*, code: str | None = "254837009", morphology: str | None = "82711006",
                     body_site: str | None = "76752008") -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}
    if code:
        resource["code"] = {"coding": [{"system": SNOMED, "code": code}]}
    if body_site:
        resource["bodySite"] = [{"coding": [{"system": SNOMED, "code": body_site}]}]
    if morphology:
        resource["extension"] = [{"url": MORPHOLOGY_EXT,
                                  "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": morphology}]}}]
    return resource


def _warning_codes(conversion: Any) -> set[str]:
    return {w.code for w in conversion.warnings}


# -- in: SNOMED CT morphology and body site ------------------------------------------------------------------
@pytest.mark.parametrize("body_site", ["76752008", None])
def test_snomed_morphology_gives_the_histologic_type(body_site: str | None) -> None:
    conversion = bundle_to_case(bundle(patient(), _mcode_condition(body_site=body_site)),
                                default_oncotree_code=None)
    assert conversion.case["tumor"]["oncotree_code"] == "IDC"
    assert not {"fhir.tumor_assumed", "fhir.tumor_fallback"} & _warning_codes(conversion)


def test_snomed_site_and_morphology_without_the_disorder_code() -> None:
    conversion = bundle_to_case(bundle(patient(), _mcode_condition(code=None)))
    assert conversion.case["tumor"]["oncotree_code"] == "IDC"


def test_site_only_is_still_an_assumption() -> None:
    conversion = bundle_to_case(bundle(patient(), _mcode_condition(morphology=None)))
    assert conversion.case["tumor"]["oncotree_code"] == "BRCA"
    assert "fhir.tumor_assumed" in _warning_codes(conversion)


def test_unknown_snomed_morphology_is_not_guessed() -> None:
    conversion = bundle_to_case(bundle(patient(), _mcode_condition(morphology="999999999")))
    assert conversion.case["tumor"]["oncotree_code"] == "BRCA"  # site only: the unknown histology is not IDC


def test_every_snomed_concept_is_read_as_its_table_says() -> None:
    cm = default_code_map()
    assert cm.file.snomed_concepts
    for entry in cm.file.snomed_concepts:
        assert (entry.morphology is None) != (entry.topography is None), entry.id


def test_sample_bundle_converts_to_a_positive_idc() -> None:
    conversion = bundle_to_case(_sample())
    assessment = her2cds.assess(conversion.case)
    assert conversion.case["tumor"]["oncotree_code"] == "IDC"
    assert conversion.patient_ref == PATIENT
    assert assessment.her2.status.value == "positive"
    assert not {"fhir.tumor_assumed", "fhir.tumor_fallback"} & _warning_codes(conversion)


def test_patient_known_from_subjects_only() -> None:
    data = _sample()
    data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] != "Patient"]
    assert bundle_to_case(data).patient_ref == PATIENT


# -- out: DiagnosticReport, subject, RxNorm, validation ---------------------------------------------------------
def _out(bundle_type: str = "collection") -> dict[str, Any]:
    conversion = bundle_to_case(_sample())
    assessment = her2cds.assess(conversion.case)
    return assessment_to_bundle(assessment, source_observations=conversion.source_observations,
                                specimen_refs=conversion.specimen_refs, patient_ref=conversion.patient_ref,
                                bundle_type=bundle_type)  # type: ignore[arg-type]


def _resources(out: dict[str, Any], rtype: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e["fullUrl"], e["resource"]) for e in out["entry"] if e["resource"]["resourceType"] == rtype]


def test_diagnostic_report_references_every_result_observation() -> None:
    out = _out()
    validate(out)
    reports = _resources(out, "DiagnosticReport")
    assert len(reports) == 1
    _, report = reports[0]
    observations = [url for url, _ in _resources(out, "Observation")]
    assert [r["reference"] for r in report["result"]] and \
        sorted(r["reference"] for r in report["result"]) == sorted(observations)
    assert report["code"]["coding"][0] == {"system": "http://loinc.org", "code": "51969-4",
                                           "display": "Genetic analysis report"}
    assert report["status"] == "final" and report["subject"] == {"reference": PATIENT}
    assert report["specimen"] == [{"reference": "Specimen/example-breast-core"}]
    assert "positive" in report["conclusionCode"][0]["text"].lower()


def test_subject_on_every_patient_resource_when_the_patient_is_known() -> None:
    out = _out()
    for entry in out["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in ("Observation", "DiagnosticReport"):
            assert resource["subject"] == {"reference": PATIENT}, resource["resourceType"]


def test_rxnorm_codings_only_from_verified_entries() -> None:
    cm = default_code_map()
    assessment = her2cds.assess(examples.load("gastric-her2-positive"))
    out = assessment_to_bundle(assessment.expanded())
    validate(out)
    drugs = [c["valueCodeableConcept"] for _, r in _resources(out, "Observation") for c in r.get("component", [])
             if c["code"]["coding"][0]["code"] == "51963-7"]
    trastuzumab = [d for d in drugs if d["text"] == "trastuzumab"]
    assert trastuzumab and all(d["coding"] == [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                 "code": "224905", "display": "trastuzumab"}] for d in trastuzumab)
    for drug in drugs:
        entry = cm.rxnorm.get(drug["text"])
        assert ("coding" in drug) == (entry is not None and entry.status == "verified"), drug


def test_validation_catches_a_bad_required_binding() -> None:
    out = _out()
    broken = copy.deepcopy(out)
    broken["entry"][0]["resource"]["status"] = "done"
    first = broken["entry"][0]["resource"]["resourceType"]
    assert any(p.startswith(f"{first}.") for p in binding_problems(broken)) or first == "Device"
    report = next(e for e in broken["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    report["resource"]["status"] = "done"
    assert "DiagnosticReport.status: 'done'" in binding_problems(broken)


def test_strict_models_reject_an_unknown_element() -> None:
    out = _out()
    out["entry"][0]["resource"]["madeUp"] = 1
    with pytest.raises(ValueError, match="madeUp"):
        validate(out)


# -- transaction -------------------------------------------------------------------------------------------------
def _server() -> FhirServer:
    """A server that holds the input: the sample Bundle's resources (the EHR's own), so references back to the
    Patient, the Specimen and the input Observations resolve as they would there."""
    return FhirServer([entry["resource"] for entry in _sample()["entry"]])


def test_transaction_bundle_is_valid_and_a_hapi_style_server_accepts_it() -> None:
    out = _out("transaction")
    validate(out)
    assert out["type"] == "transaction"
    for entry in out["entry"]:
        assert entry["request"]["method"] == "POST" and entry["request"]["url"] == entry["resource"]["resourceType"]
        assert "id" not in entry["resource"]
    server = _server()
    answer = server.transaction(out)
    assert answer["type"] == "transaction-response" and len(answer["entry"]) == len(out["entry"])
    assert all(e["response"]["status"] == "201 Created" for e in answer["entry"])
    report = next(r for k, r in server.store.items() if k.startswith("DiagnosticReport/"))
    assert all(server.store.get(ref["reference"]) for ref in report["result"])  # rewritten to server ids


def test_posting_twice_reuses_the_device() -> None:
    server = _server()
    server.transaction(_out("transaction"))
    second = server.transaction(_out("transaction"))
    assert sum(k.startswith("Device/") for k in server.store) == 1
    assert any(e["response"]["status"] == "200 OK" for e in second["entry"])


def test_server_fixture_rejects_what_a_server_rejects() -> None:
    with pytest.raises(RejectedError, match="not known to the server"):
        FhirServer().transaction(_out("transaction"))  # the Patient and the input are not on that server
    with pytest.raises(RejectedError):
        _server().transaction(_out("collection"))
    with_id = _out("transaction")
    with_id["entry"][0]["resource"]["id"] = "x"
    with pytest.raises(RejectedError):
        _server().transaction(with_id)


def test_cli_writes_a_transaction(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["assess", "--fhir", str(SAMPLE), "--output", "fhir-transaction"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["type"] == "transaction"
    validate(out)
    _server().transaction(out)
    report = next(r for _, r in _resources(out, "DiagnosticReport"))
    assert report["subject"] == {"reference": PATIENT}
