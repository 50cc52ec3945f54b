"""Small FHIR JSON builders of the HTTP layer (OperationOutcome, batch-response Bundle) and the bridge to the
FHIR converters in :mod:`her2cds.adapters.fhir`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from her2cds.model.assessment import Assessment, InputWarning

FHIR_VERSION = "4.0.1"


def operation_outcome(
    text: str,
    *,
    code: str = "processing",
    severity: str = "error",
    diagnostics: str | None = None,
    expression: Sequence[str] = (),
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "details": {"text": text}}
    if diagnostics:
        issue["diagnostics"] = diagnostics
    if expression:
        issue["expression"] = list(expression)
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def with_warnings(assessment: Assessment, warnings: Sequence[InputWarning]) -> Assessment:
    """The assessment with the converter's warnings appended (never silently dropped)."""
    if not warnings:
        return assessment
    return assessment.model_copy(update={"warnings": [*assessment.warnings, *warnings]})


def patient_reference(bundle: Mapping[str, Any]) -> str | None:
    """``Patient/<id>`` (or the entry's fullUrl) of the first Patient in a Bundle, if any."""
    for entry in bundle.get("entry") or []:
        if not isinstance(entry, Mapping):
            continue
        resource = entry.get("resource")
        if isinstance(resource, Mapping) and resource.get("resourceType") == "Patient":
            if isinstance(resource.get("id"), str):
                return f"Patient/{resource['id']}"
            full_url = entry.get("fullUrl")
            return full_url if isinstance(full_url, str) else None
    return None


def assessment_bundle(
    assessment: Assessment,
    *,
    source_observations: Mapping[str, list[str]] | None = None,
    patient_ref: str | None = None,
    specimen_refs: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    from her2cds.adapters.fhir import outbound

    bundle: dict[str, Any] = outbound.assessment_to_bundle(
        assessment, source_observations=source_observations, patient_ref=patient_ref, specimen_refs=specimen_refs
    )
    return bundle


_STATUS_TEXT = {
    200: "200 OK",
    400: "400 Bad Request",
    404: "404 Not Found",
    422: "422 Unprocessable Entity",
    500: "500 Internal Server Error",
}


def batch_response(items: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """A FHIR ``batch-response`` Bundle: one entry per input case, in order; errors as OperationOutcomes."""
    entries: list[dict[str, Any]] = []
    for status, body in items:
        status_text = _STATUS_TEXT.get(status, str(status))
        if status == 200:
            entries.append({"resource": body, "response": {"status": status_text}})
        else:
            error = body["error"]
            outcome = operation_outcome(
                error["message"],
                code="invalid" if status < 500 else "exception",
                diagnostics=f"case field: {error['field']}" if error.get("field") else None,
            )
            entries.append({"response": {"status": status_text, "outcome": outcome}})
    return {"resourceType": "Bundle", "type": "batch-response", "entry": entries}
