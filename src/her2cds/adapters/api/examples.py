"""Request examples shown in the OpenAPI document (each one is run by the tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from her2cds.adapters.api.io import JSON


def case_examples() -> dict[str, dict[str, Any]]:
    """The packaged example cases (``her2cds assess --example NAME``), one per tumor family."""
    from her2cds import examples

    return {name: {"summary": f"Example case {name}", "value": examples.load(name)} for name in examples.names()}


def batch_examples() -> dict[str, dict[str, Any]]:
    from her2cds import examples

    invalid = {
        "tumor": {"oncotree_code": "STAD"},
        "specimens": [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "4+"}}],
    }
    return {
        "two-cases-one-invalid": {
            "summary": "A valid case and an invalid one (IHC score 4+): the second gets a per-item error",
            "value": [examples.load(examples.DEFAULT), invalid],
        }
    }


FHIR_BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "fullUrl": "urn:uuid:5b1b1f4e-1d1a-4a55-9a59-6f0f2d3c0001",
            "resource": {"resourceType": "Patient", "id": "example-patient"},
        },
        {
            "fullUrl": "urn:uuid:5b1b1f4e-1d1a-4a55-9a59-6f0f2d3c0002",
            "resource": {
                "resourceType": "Condition",
                "id": "example-condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/sid/icd-10-cm",
                            "code": "C16.9",
                            "display": "Malignant neoplasm of stomach, unspecified",
                        }
                    ]
                },
                "subject": {"reference": "Patient/example-patient"},
            },
        },
        {
            "fullUrl": "urn:uuid:5b1b1f4e-1d1a-4a55-9a59-6f0f2d3c0003",
            "resource": {
                "resourceType": "Observation",
                "id": "example-her2-ihc",
                "status": "final",
                "code": {
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": "18474-7",
                            "display": "HER2 Ag [Presence] in Tissue by Immune stain",
                        }
                    ]
                },
                "subject": {"reference": "Patient/example-patient"},
                "valueCodeableConcept": {"text": "3+"},
            },
        },
    ],
}


def fhir_examples() -> dict[str, dict[str, Any]]:
    return {"gastric-ihc3": {"summary": "Gastric cancer (ICD-10-CM C16.9) with HER2 IHC 3+", "value": FHIR_BUNDLE}}


def stored_case_examples() -> dict[str, dict[str, Any]]:
    return {
        name: {"summary": f"Store: {example['summary']}", "value": {"case": example["value"], "label": name}}
        for name, example in case_examples().items()
    }


def request_body(schema: str, media: tuple[str, ...] = (JSON,)) -> dict[str, Any]:
    """``openapi_extra`` declaring a required JSON request body of component ``schema`` (examples are added
    when the OpenAPI document is built, see :data:`REQUEST_EXAMPLES`)."""
    content = {media_type: {"schema": {"$ref": f"#/components/schemas/{schema}"}} for media_type in media}
    return {"requestBody": {"required": True, "content": content}}


#: path -> builder of the request examples of its POST operation
REQUEST_EXAMPLES: dict[str, Callable[[], dict[str, dict[str, Any]]]] = {
    "/v1/assess": case_examples,
    "/v1/assess/batch": batch_examples,
    "/v1/fhir/assess": fhir_examples,
    "/v1/cases": stored_case_examples,
}


def cds_call_examples() -> dict[str, dict[str, Any]]:
    """A patient-view call with its prefetch (the resources of :data:`FHIR_BUNDLE`)."""
    resources = [entry["resource"] for entry in FHIR_BUNDLE["entry"]]

    def searchset(kind: str) -> dict[str, Any]:
        found = [r for r in resources if r["resourceType"] == kind]
        return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found]}

    body = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "example-patient"},
        "prefetch": {
            "patient": next(r for r in resources if r["resourceType"] == "Patient"),
            "conditions": searchset("Condition"),
            "her2Observations": searchset("Observation"),
        },
    }
    return {"patient-view": {"summary": "patient-view with the HER2 data prefetched", "value": body}}


def response_examples() -> dict[str, Any]:
    """operationId -> example success answer (computed once, when the OpenAPI document is built)."""
    import her2cds
    from her2cds import examples

    assessment = her2cds.assess(examples.load(examples.DEFAULT)).model_dump(mode="json")
    return {
        "assess": assessment,
        "assess_fhir": assessment,
        "assess_batch": [
            assessment,
            {"index": 1, "error": {"code": "invalid_input", "message": "specimens[0].ihc.score: Input should be "
                                   "'0', '1+', '2+' or '3+' (got '4+')", "field": "specimens[0].ihc.score"}},
        ],
    }
