"""``--full FILE.jsonl``: the whole assessment of every patient, one JSON line each, from the per-case engine.

This runs at the per-case engine's speed (every patient is assessed in full); the slim output is unchanged.
Each line is ``{"id": ..., "assessment": {...}}`` or ``{"id": ..., "error": "..."}``, in input order except
that patients with several rows come last (as in the slim output).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from her2cds.cohort.cases import Row, case_from_rows, output_id, patient_key, row_label
from her2cds.cohort.columns import ALL_COLUMNS
from her2cds.cohort.local import patient_hash_expr
from her2cds.cohort.percase import describe_problems
from her2cds.cohort.polars_exprs import conform
from her2cds.cohort.sources import Source
from her2cds.engine import Engine
from her2cds.errors import InvalidInputError, UsageError


def _line(engine: Engine, rows: list[Row]) -> str:
    pid = json.dumps(output_id(rows[0]), ensure_ascii=False)
    unreadable = [f"{row_label(r)}: {r['read_error']}" for r in rows if r.get("read_error") is not None]
    if unreadable:
        return f'{{"id":{pid},"error":{json.dumps("; ".join(unreadable), ensure_ascii=False)}}}'
    try:
        assessment: Any = engine.assess_json(case_from_rows(rows))  # the engine's own JSON text
    except InvalidInputError as exc:
        return f'{{"id":{pid},"error":{json.dumps(describe_problems(exc, rows), ensure_ascii=False)}}}'
    text = assessment if isinstance(assessment, str) else json.dumps(assessment, ensure_ascii=False)
    return f'{{"id":{pid},"assessment":{text}}}'


def _write(out: IO[str], line: str) -> None:
    out.write(line + "\n")


def write_full(sources: list[Source], path: Path, engine: Engine, chunk_rows: int, grouped_of: Any) -> int:
    """Write the full assessments; returns the number of lines."""
    lines = 0
    try:
        out = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    with out:
        for source in sources:
            grouped = set(grouped_of(source.frame))
            pending: dict[str, list[Row]] = {}
            for batch in source.frame.collect_batches(chunk_size=chunk_rows):
                frame = conform(batch).with_columns(patient_hash_expr().alias("__h"))
                for row in frame.select([*ALL_COLUMNS, "__h"]).iter_rows(named=True):
                    if row["__h"] in grouped:
                        pending.setdefault(patient_key(row), []).append(row)
                    else:
                        _write(out, _line(engine, [row]))
                        lines += 1
            for rows in pending.values():
                _write(out, _line(engine, rows))
                lines += 1
    return lines

