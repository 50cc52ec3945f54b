from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from her2cds.cohort.cases import patient_key
from her2cds.cohort.columns import ALL_COLUMNS, SLIM_COLUMNS
from her2cds.cohort.generate import generate
from her2cds.cohort.local import LocalEngine
from her2cds.cohort.percase import assess_rows
from her2cds.cohort.run import grouped_patients
from her2cds.engine import Engine

DIFFERENTIAL_ROWS = 100_000
CHUNK_ROWS = 30_000  # several chunks, so patients split across chunks are exercised too


@pytest.fixture(scope="session")
def generated(engine: Engine) -> pl.DataFrame:
    return generate(engine.kb, DIFFERENTIAL_ROWS, seed=12)


def _chunks(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    for start in range(0, frame.height, size):
        yield frame.slice(start, size)


def reference_answers(engine: Engine, frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """The per-case engine, one call per patient, on every patient: id -> slim answer."""
    patients: dict[str, list[dict[str, Any]]] = {}
    for row in frame.select(ALL_COLUMNS).iter_rows(named=True):
        patients.setdefault(patient_key(row), []).append(row)
    out: dict[str, dict[str, Any]] = {}
    for rows in patients.values():
        answer = assess_rows(engine, rows)
        pid = rows[0]["patient_id"]
        assert pid not in out
        out[pid] = answer
    return out


@pytest.fixture(scope="session")
def reference(engine: Engine, generated: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return reference_answers(engine, generated)


@pytest.fixture(scope="session")
def local_run(generated: pl.DataFrame) -> tuple[pl.DataFrame, LocalEngine]:
    # its own engine (no answers shared with the reference), its engine calls in two processes (cohort/workers.py)
    local = LocalEngine(Engine(), processes=2)
    try:
        grouped = grouped_patients(generated.lazy())
        parts = [local.evaluate(chunk, grouped) for chunk in _chunks(generated, CHUNK_ROWS)]
        parts.append(local.finish())
    finally:
        local.close()
    return pl.concat(parts).select(SLIM_COLUMNS), local
