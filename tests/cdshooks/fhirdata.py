"""Small FHIR R4 JSON builders for CDS Hooks tests (what an EHR would prefetch)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

PATIENT_ID = "pat-001"
PATIENT_NAME = ("Zebulon", "Quixotefield")  # recognisable; must never reach a log
SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "name": [{"family": PATIENT_NAME[1], "given": [PATIENT_NAME[0]]}],
        "gender": "female",
        "birthDate": "1961-04-02",
    }


def condition(icd10: str, display: str, ident: str = "cond-1") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": ident,
        "subject": SUBJECT,
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "code": {"coding": [{"system": ICD10CM, "code": icd10, "display": display}]},
    }


def observation(code: str, ident: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "subject": SUBJECT,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        **value,
    }


def ihc(score: str, ident: str = "obs-ihc") -> dict[str, Any]:
    return observation("18474-7", ident, valueCodeableConcept={"text": score})


def ish_ratio(ratio: float, ident: str = "obs-ish-ratio") -> dict[str, Any]:
    return observation("49683-6", ident, valueQuantity={"value": ratio, "unit": "{ratio}"})


def medication_statement(text: str, ident: str = "med-1", status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": ident,
        "status": status,
        "subject": SUBJECT,
        "medicationCodeableConcept": {"text": text},
    }


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": resource, "search": {"mode": "match"}} for resource in resources],
    }


def prefetch(
    *,
    conditions: list[dict[str, Any]],
    her2: list[dict[str, Any]],
    medications: list[dict[str, Any]] | None = None,
    **others: Any,
) -> dict[str, Any]:
    """A complete prefetch for the her2cds services (every template key present; null = no data)."""
    return {
        "patient": patient(),
        "conditions": searchset(*conditions),
        "her2Observations": searchset(*her2),
        "variantObservations": None,
        "biomarkerObservations": None,
        "stagingObservations": None,
        "specimens": None,
        "medicationRequests": None,
        "medicationStatements": searchset(*medications) if medications else None,
        "procedures": None,
        **others,
    }


def hook_request(
    hook: str, context: dict[str, Any], prefetch: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, **extra}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def patient_view(prefetch: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    return hook_request("patient-view", {"userId": "Practitioner/dr-1", "patientId": PATIENT_ID}, prefetch, **extra)


def medication_request(text: str, ident: str = "draft-1", rxnorm: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if rxnorm:
        concept["coding"] = [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": rxnorm, "display": text}]
    return {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": "draft",
        "intent": "order",
        "subject": SUBJECT,
        "medicationCodeableConcept": concept,
    }


def order_context(*orders: dict[str, Any], selections: list[str] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "userId": "Practitioner/dr-1",
        "patientId": PATIENT_ID,
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": order} for order in orders],
        },
    }
    if selections is not None:
        context["selections"] = selections
    return context


class FakeFhirServer:
    """An httpx mock transport answering FHIR searches from an in-memory list, recording every request."""

    def __init__(
        self,
        resources: list[dict[str, Any]] | None = None,
        respond: Callable[[httpx.Request], httpx.Response | None] | None = None,
    ) -> None:
        self.resources = resources or []
        self.requests: list[httpx.Request] = []
        self.respond = respond

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.respond is not None:
            answer = self.respond(request)
            if answer is not None:
                return answer
        parts = request.url.path.strip("/").split("/")
        if not parts[-1][:1].isupper():  # a read: <type>/<id>
            found = [r for r in self.resources if r["resourceType"] == parts[-2] and r["id"] == parts[-1]]
            return httpx.Response(200, json=found[0]) if found else httpx.Response(404, json={})
        kind = parts[-1]
        codes = set(request.url.params.get("code", "").split(",")) - {""}
        matches = [
            r
            for r in self.resources
            if r["resourceType"] == kind
            and (not codes or any(c["code"] in codes for c in r.get("code", {}).get("coding", [])))
        ]
        return httpx.Response(200, json=searchset(*matches))

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)
