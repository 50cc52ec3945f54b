"""The per-case engine on specimen rows: used for representatives of decision keys and for every row the
vectorized path hands over (several specimens, values the input model may reject, unsupported measures)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from her2cds.cohort.cases import Row, case_from_rows, row_label
from her2cds.cohort.columns import CASE_COLUMNS
from her2cds.cohort.slim import SlimAnswer, error_answer, slim_answer, slim_evaluation
from her2cds.engine import Engine
from her2cds.errors import InvalidInputError

_BY_PATH: dict[str, str] = {}
for _col in CASE_COLUMNS:  # the first column of a path names it (the number, not its bound column)
    _BY_PATH.setdefault(".".join(_col.path[1:] if _col.specimen else _col.path), _col.name)
_SPECIMEN = re.compile(r"^specimens\[(\d+)\]\.?")


def _where(field: str, rows: Sequence[Row]) -> str:
    """``specimens[1].ish.ratio`` -> ``<row label>, column ish_ratio``."""
    row = rows[0]
    path = field
    match = _SPECIMEN.match(field)
    if match:
        index = int(match.group(1))
        row = rows[index] if index < len(rows) else rows[-1]
        path = field[match.end():]
    path = re.sub(r"\[\d+\]$", "", path)
    column = _BY_PATH.get(path)
    if column is None:  # a nested object (e.g. ish): name the first canonical column beneath it
        column = next((name for p, name in _BY_PATH.items() if p.startswith(path + ".")), None) if path else None
    return f"{row_label(row)}, column {column}" if column else row_label(row)


def describe_problems(exc: InvalidInputError, rows: Sequence[Row]) -> str:
    """The engine's field problems, each named by file, row and canonical column."""
    return "; ".join(f"{_where(p.field, rows)}: {p.render()}" for p in exc.problems)


def assess_rows(engine: Engine, rows: Sequence[Row]) -> SlimAnswer:
    """One patient's rows -> the slim answer of the whole assessment (``Engine.assess``), or an error answer naming
    row, column and value. The reference the differential tests compare with, and the benchmark's baseline."""
    case = case_from_rows(rows)
    try:
        assessment = engine.assess(case)
    except InvalidInputError as exc:
        return error_answer(rows[0].get("oncotree_code"), describe_problems(exc, rows), engine.kb.version)
    return slim_answer(assessment)


def answer_rows(engine: Engine, rows: Sequence[Row]) -> SlimAnswer:
    """As :func:`assess_rows`, read from the engine's evaluation (``Engine.evaluate``, what the assessment is built
    from) without building the assessment's objects: the call cohort mode makes."""
    case = case_from_rows(rows)
    try:
        evaluation = engine.evaluate(case)
    except InvalidInputError as exc:
        return error_answer(rows[0].get("oncotree_code"), describe_problems(exc, rows), engine.kb.version)
    return slim_evaluation(evaluation, engine.versions.knowledge_base)
