"""Validation of FHIR out in tests: the FHIR R4 structure through fhir.resources' strict models (R4B package;
R4B did not change the resources written here), plus the required value-set bindings of the elements written,
from the FHIR R4 specification (the HL7 Java validator is not available from a package registry here).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B.bundle import Bundle

# FHIR R4 required bindings of the elements her2cds writes (element path -> allowed codes)
REQUIRED_BINDINGS: dict[str, frozenset[str]] = {
    "Bundle.type": frozenset({"document", "message", "transaction", "transaction-response", "batch",
                              "batch-response", "history", "searchset", "collection"}),
    "Bundle.entry.request.method": frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}),
    "Observation.status": frozenset({"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                     "entered-in-error", "unknown"}),
    "DiagnosticReport.status": frozenset({"registered", "partial", "preliminary", "final", "amended", "corrected",
                                          "appended", "cancelled", "entered-in-error", "unknown"}),
    "Device.deviceName.type": frozenset({"udi-label-name", "user-friendly-name", "patient-reported-name",
                                         "manufacturer-name", "model-name", "other"}),
    "Device.status": frozenset({"active", "inactive", "entered-in-error", "unknown"}),
    "Quantity.comparator": frozenset({"<", "<=", ">=", ">"}),
    "Identifier.use": frozenset({"usual", "official", "temp", "secondary", "old"}),
}
_DATATYPE_PATHS = {"valueQuantity": "Quantity", "identifier": "Identifier"}


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
            if key in _DATATYPE_PATHS:
                yield from _walk(value, _DATATYPE_PATHS[key])
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, path)
    else:
        yield path, node


def binding_problems(bundle: dict[str, Any]) -> list[str]:
    """Every coded value of a required binding that is not in its value set, as 'path: value'."""
    problems: list[str] = []
    found: list[tuple[str, Any]] = [("Bundle.type", bundle.get("type"))]
    for entry in bundle.get("entry", []):
        if "request" in entry:
            found += list(_walk(entry["request"], "Bundle.entry.request"))
        resource = entry.get("resource", {})
        found += list(_walk(resource, resource.get("resourceType", "?")))
    for path, value in found:
        allowed = REQUIRED_BINDINGS.get(path)
        if allowed is not None and value not in allowed:
            problems.append(f"{path}: {value!r}")
    return problems


def validate(bundle: dict[str, Any]) -> Bundle:
    """Strict structural validation (raises) and the required bindings (AssertionError listing problems)."""
    model = Bundle.model_validate(bundle)
    problems = binding_problems(bundle)
    assert not problems, problems
    return model
