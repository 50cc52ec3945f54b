"""Builders of small FHIR R4 resources for the converter tests, and the path of the IG fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from her2cds.adapters.fhir import Conversion

# tests/fixtures/fhir: trimmed copies of public IG examples (see its SOURCE.md)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
HGNC = "http://www.genenames.org"
HGVS = "http://varnomen.hgvs.org"
SO = "http://www.sequenceontology.org"
V2_0487 = "http://terminology.hl7.org/CodeSystem/v2-0487"
HER2CDS = "https://her2cds.org/fhir/CodeSystem/her2cds"
PATIENT = "Patient/p1"


def fixture_json(relative: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / relative).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def concept(system: str | None = None, code: str | None = None, display: str | None = None,
            text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if code is not None:
        coding: dict[str, Any] = {"code": code}
        if system:
            coding["system"] = system
        if display:
            coding["display"] = display
        out["coding"] = [coding]
    if text:
        out["text"] = text
    return out


def patient(pid: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid}


def condition(cid: str = "c1", *codes: tuple[str, str], body_site: tuple[str, str] | None = None,
              histology: tuple[str, ...] | None = None, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition", "id": cid, "subject": {"reference": PATIENT},
        "code": {"coding": [{"system": s, "code": c} for s, c in codes]},
    }
    if body_site:
        resource["bodySite"] = [concept(*body_site)]
    if histology:
        resource["extension"] = [{
            "url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior",
            "valueCodeableConcept": concept(*histology)}]
    resource.update(extra)
    return resource


def observation(oid: str, code: str, system: str = LOINC, *, specimen: str | None = None,
                date: str | None = "2026-01-10", status: str = "final", **value: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": oid, "status": status, "code": concept(system, code),
        "subject": {"reference": PATIENT},
    }
    if date:
        resource["effectiveDateTime"] = date
    if specimen:
        resource["specimen"] = {"reference": specimen}
    resource.update(value)
    return resource


def quantity(value: Any, unit: str | None = None, comparator: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value}
    if unit:
        out["unit"] = unit
    if comparator:
        out["comparator"] = comparator
    return out


def component(system: str, code: str, **value: Any) -> dict[str, Any]:
    return {"code": concept(system, code), **value}


def variant(oid: str, gene: tuple[str, str], *, protein: str | None = None, present: bool = True,
            specimen: str | None = None, **extra: Any) -> dict[str, Any]:
    components = [component(LOINC, "48018-6", valueCodeableConcept=concept(HGNC, gene[0], gene[1]))]
    if protein:
        components.append(component(LOINC, "48005-3", valueCodeableConcept=concept(HGVS, protein)))
    answer = ("LA9633-4", "Present") if present else ("LA9634-2", "Absent")
    resource = observation(oid, "69548-6", specimen=specimen, valueCodeableConcept=concept(LOINC, *answer))
    resource["component"] = components + extra.pop("components", [])
    resource.update(extra)
    return resource


def specimen_resource(sid: str, type_concept: dict[str, Any], collected: str | None = "2026-01-05",
                      **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Specimen", "id": sid, "type": type_concept,
                                "subject": {"reference": PATIENT}}
    if collected:
        resource["collection"] = {"collectedDateTime": collected}
    resource.update(extra)
    return resource


def bundle(*resources: dict[str, Any], bid: str | None = "b1", btype: str = "collection") -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Bundle", "type": btype,
                           "entry": [{"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}", "resource": r}
                                     for i, r in enumerate(resources)]}
    if bid:
        out["id"] = bid
    return out


def breast_condition() -> dict[str, Any]:
    return condition("c1", (ICD10CM, "C50.911"), histology=(ICDO3, "8500/3", "Infiltrating duct carcinoma"))


def gastric_condition() -> dict[str, Any]:
    return condition("c1", (ICD10CM, "C16.2"), histology=(ICDO3, "8140/3", "Adenocarcinoma, NOS"))


def codes(conversion: Conversion) -> list[str]:
    return [w.code for w in conversion.warnings]


def warning(conversion: Conversion, code: str) -> str:
    found = [w.text for w in conversion.warnings if w.code == code]
    assert found, f"no warning {code}; got {codes(conversion)}"
    return found[0]
