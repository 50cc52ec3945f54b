"""Specimen rows -> the per-case engine's input (a case as a plain mapping)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from her2cds.cohort.columns import CASE_COLUMNS, LIST_SEPARATOR, SPECIMEN_TEST_COLUMNS, Column

Row = Mapping[str, Any]


def split_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]
    return [str(part) for part in value if part is not None and str(part).strip()]


def has_specimen(row: Row) -> bool:
    """A row is a specimen when it carries a test result (a procedure alone is no result: "not done")."""
    return any(row.get(name) is not None for name in SPECIMEN_TEST_COLUMNS)


def row_label(row: Row) -> str:
    source = row.get("source")
    return f"{source}:{row['row']}" if source else f"row {row['row']}"


def patient_key(row: Row) -> str:
    """Rows with the same patient id (per source) are one patient; a row without one is its own patient."""
    pid = row.get("patient_id")
    return f"{row.get('source') or ''}\x1f{pid}" if pid is not None else f"{row.get('source') or ''}\x1e{row['row']}"


def output_id(row: Row) -> str:
    pid = row.get("patient_id")
    return str(pid) if pid is not None else row_label(row)


def _put(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """Set ``value`` at ``path`` unless a value is there already (a number before its bound column)."""
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target.setdefault(path[-1], value)


def _value(row: Row, col: Column) -> Any:
    """The row's value for ``col`` as the case takes it; None when absent (an empty list is absent too)."""
    value = row.get(col.name)
    if value is not None and col.kind == "list":
        return split_list(value) or None
    return value


_PATIENT_COLUMNS = tuple(col for col in CASE_COLUMNS if not col.specimen)
_SPECIMEN_COLUMNS = tuple(col for col in CASE_COLUMNS if col.specimen)


def _specimen(row: Row, default_id: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": default_id}
    for col in _SPECIMEN_COLUMNS:
        if row.get(col.name) is not None:
            value = _value(row, col)
            if value is not None:
                _put(spec, col.path[1:], value)
    return spec


def case_from_rows(rows: Iterable[Row]) -> dict[str, Any]:
    """One patient's rows (one per specimen) -> a case mapping; patient-level values come from the first row
    that gives them."""
    case: dict[str, Any] = {"tumor": {}, "specimens": []}
    for index, row in enumerate(rows):
        for col in _PATIENT_COLUMNS:
            value = _value(row, col) if row.get(col.name) is not None else None
            if value is None:
                continue
            current: Any = case
            for key in col.path[:-1]:
                current = current.get(key, {}) if isinstance(current, dict) else {}
            if isinstance(current, dict) and col.path[-1] in current:
                continue
            _put(case, col.path, value)
        if has_specimen(row):
            case["specimens"].append(_specimen(row, f"specimen-{index + 1}"))
    if not case["tumor"]:
        del case["tumor"]  # the engine names the missing field
    return case
