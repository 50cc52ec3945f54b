"""The JSON shape of FHIR content a CDS client sends (prefetch values, ``context.draftOrders``), checked once
at the boundary so that no reader meets a number where FHIR has an array.

Only elements whose JSON type is the same in every FHIR R4 resource are checked: ``coding``, ``extension``,
``modifierExtension``, ``contained``, ``component``, ``ingredient`` and ``Bundle.entry`` are arrays of objects;
``Bundle.entry[].resource`` and every contained resource are objects with a ``resourceType`` string. The
converters read everything else defensively.
"""

from __future__ import annotations

from typing import Any

from her2cds.errors import InvalidInputError

_ARRAYS_OF_OBJECTS = frozenset({"coding", "extension", "modifierExtension", "contained", "component", "ingredient"})


def _fail(path: str, message: str) -> InvalidInputError:
    return InvalidInputError.single(path, message, has_value=False)


def _resource(value: Any, path: str) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise _fail(path, "must be a FHIR resource (a JSON object with a resourceType)")
    if value["resourceType"] == "Bundle" and "entry" in value:
        entries = value["entry"]
        if not isinstance(entries, list):
            raise _fail(f"{path}.entry", "must be an array of Bundle entries")
        for index, entry in enumerate(entries):
            where = f"{path}.entry[{index}]"
            if not isinstance(entry, dict):
                raise _fail(where, "must be a JSON object (a Bundle entry)")
            if "resource" in entry:
                _resource(entry["resource"], f"{where}.resource")
    _elements(value, path)


def _elements(value: dict[str, Any], path: str) -> None:
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((item, f"{where}[{index}]") for index, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, child in node.items():
            if key == "entry" and node.get("resourceType") == "Bundle":
                continue  # checked by _resource
            child_path = f"{where}.{key}"
            if key in _ARRAYS_OF_OBJECTS:
                if not isinstance(child, list) or not all(isinstance(item, dict) for item in child):
                    raise _fail(child_path, "must be an array of JSON objects")
                if key == "contained":
                    for index, item in enumerate(child):
                        _resource(item, f"{child_path}[{index}]")
                    continue
            stack.append((child, child_path))


def check_prefetch(prefetch: dict[str, Any] | None) -> None:
    """Every prefetch value is ``null`` or a FHIR resource / Bundle of the right shape."""
    for key, value in (prefetch or {}).items():
        if value is not None:
            _resource(value, f"prefetch.{key}")


def check_context(context: dict[str, Any]) -> None:
    """FHIR content of the hook context (``draftOrders``) has the right shape; ``selections`` is a list of
    strings."""
    if "draftOrders" in context:
        _resource(context["draftOrders"], "context.draftOrders")
    selections = context.get("selections")
    if selections is not None and (
        not isinstance(selections, list) or not all(isinstance(item, str) for item in selections)
    ):
        raise _fail("context.selections", "must be an array of strings (FHIR references)")
