"""Request examples shown in the OpenAPI document (each one is run by the tests)."""

from __future__ import annotations

from typing import Any

from her2cds.adapters.api.io import JSON

GASTRIC_CASE: dict[str, Any] = {
    "id": "example-gastric",
    "tumor": {"oncotree_code": "STAD", "setting": "metastatic"},
    "specimens": [
        {
            "id": "S1",
            "procedure": "biopsy",
            "site": "primary",
            "collected_on": "2026-01-10",
            "ihc": {"score": "2+"},
            "ish": {"probe": "dual", "her2_per_cell": 6.2, "cep17_per_cell": 2.1},
        }
    ],
    "biomarkers": {"pd_l1_cps": 5},
    "history": {"prior_lines": 0},
}

BREAST_CASE: dict[str, Any] = {
    "id": "example-breast",
    "tumor": {"oncotree_code": "IDC", "setting": "metastatic"},
    "specimens": [{"id": "S1", "procedure": "resection", "site": "primary", "ihc": {"score": "1+"}}],
    "biomarkers": {"hormone_receptor": "positive"},
    "history": {"prior_lines": 1, "prior_agents": ["letrozole"]},
}

EQUIVOCAL_CASE: dict[str, Any] = {
    "id": "example-equivocal",
    "tumor": {"oncotree_code": "BRCA", "setting": "early"},
    "specimens": [{"id": "S1", "procedure": "biopsy", "site": "primary", "ihc": {"score": "2+"}}],
}

CASE_EXAMPLES: dict[str, dict[str, Any]] = {
    "gastric-ihc2-ish-amplified": {
        "summary": "Gastric adenocarcinoma, IHC 2+ with amplified dual-probe ISH",
        "value": GASTRIC_CASE,
    },
    "breast-her2-low": {"summary": "Metastatic HR-positive breast cancer, IHC 1+", "value": BREAST_CASE},
    "breast-equivocal-no-ish": {"summary": "Breast IHC 2+ without ISH (reflex ISH needed)", "value": EQUIVOCAL_CASE},
}

BATCH_EXAMPLES: dict[str, dict[str, Any]] = {
    "two-cases-one-invalid": {
        "summary": "A valid case and an invalid one (IHC score 4+): the second gets a per-item error",
        "value": [
            GASTRIC_CASE,
            {"tumor": {"oncotree_code": "STAD"}, "specimens": [{"id": "S1", "procedure": "biopsy",
                                                                 "ihc": {"score": "4+"}}]},
        ],
    }
}

FHIR_BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"fullUrl": "urn:uuid:5b1b1f4e-1d1a-4a55-9a59-6f0f2d3c0001",
         "resource": {"resourceType": "Patient", "id": "example-patient"}},
        {
            "fullUrl": "urn:uuid:5b1b1f4e-1d1a-4a55-9a59-6f0f2d3c0002",
            "resource": {
                "resourceType": "Condition",
                "id": "example-condition",
                "clinicalStatus": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C16.9",
                                     "display": "Malignant neoplasm of stomach, unspecified"}]},
                "subject": {"reference": "Patient/example-patient"},
            },
        },
        {
            "fullUrl": "urn:uuid:5b1b1f4e-1d1a-4a55-9a59-6f0f2d3c0003",
            "resource": {
                "resourceType": "Observation",
                "id": "example-her2-ihc",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "18474-7",
                                     "display": "HER2 Ag [Presence] in Tissue by Immune stain"}]},
                "subject": {"reference": "Patient/example-patient"},
                "valueCodeableConcept": {"text": "3+"},
            },
        },
    ],
}

FHIR_EXAMPLES: dict[str, dict[str, Any]] = {
    "gastric-ihc3": {"summary": "Gastric cancer (ICD-10-CM C16.9) with HER2 IHC 3+", "value": FHIR_BUNDLE},
}


def request_body(
    schema: str, named_examples: dict[str, dict[str, Any]], media: tuple[str, ...] = (JSON,)
) -> dict[str, Any]:
    """``openapi_extra`` declaring a required JSON request body of component ``schema`` with examples."""
    content = {
        media_type: {"schema": {"$ref": f"#/components/schemas/{schema}"}, "examples": named_examples}
        for media_type in media
    }
    return {"requestBody": {"required": True, "content": content}}
