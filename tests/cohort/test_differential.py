"""Vectorized engines vs the per-case engine on ≥100,000 generated rows: zero differences in the slim columns."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from her2cds.cohort.columns import SLIM_COLUMNS
from her2cds.cohort.generate import generate_registry
from her2cds.cohort.local import LocalEngine
from her2cds.cohort.polars_exprs import key_exprs
from her2cds.cohort.run import grouped_patients
from her2cds.engine import Engine
from tests.cohort.conftest import DIFFERENTIAL_ROWS, reference_answers


def differences(frame: pl.DataFrame, reference: dict[str, dict[str, Any]]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for row in frame.iter_rows(named=True):
        pid = row["id"]
        if pid in seen:
            out.append(f"{pid}: answered twice")
            continue
        seen.add(pid)
        expected = reference.get(pid)
        if expected is None:
            out.append(f"{pid}: not a patient of the input")
            continue
        for column in SLIM_COLUMNS[1:]:
            if row[column] != expected[column]:
                out.append(f"{pid}.{column}: {row[column]!r} != per-case {expected[column]!r}")
    out.extend(f"{pid}: no output row" for pid in reference.keys() - seen)
    return out


@pytest.mark.slow
def test_local_engine_matches_the_per_case_engine(
    generated: pl.DataFrame, reference: dict[str, dict[str, Any]], local_run: tuple[pl.DataFrame, LocalEngine]
) -> None:
    frame, local = local_run
    assert generated.height >= DIFFERENTIAL_ROWS
    assert differences(frame, reference)[:20] == []
    stats = local.stats
    assert stats.rows == generated.height and stats.patients == len(reference) == frame.height
    # the comparison must exercise the vectorized path, not only the hand-over to the per-case engine
    assert stats.vectorized_rows > generated.height / 2
    assert stats.decision_keys < stats.vectorized_rows / 1.5
    assert 0 < stats.specimen_keys < stats.vectorized_rows  # the two stages were keyed (D12.4)
    assert stats.engine_rows + stats.vectorized_rows + stats.read_errors == stats.rows
    assert local.calls.started == 1  # the engine calls were shared with a worker process


@pytest.mark.slow
def test_generated_rows_cover_families_answers_and_errors(
    generated: pl.DataFrame, reference: dict[str, dict[str, Any]]
) -> None:
    statuses = {a["her2_status"] for a in reference.values()}
    assert {"positive", "negative", "equivocal", "indeterminate", None} <= statuses
    categories = {a["her2_category"] for a in reference.values()}
    assert {"HER2-positive", "HER2-low", "HER2-ultralow", "HER2-null"} <= categories
    assert any(a["eligible_therapies"] for a in reference.values())
    errors = [a["error"] for a in reference.values() if a["error"]]
    assert len(errors) > 100 and all(", column " in e or "row" in e for e in errors[:50])


@pytest.mark.slow
def test_registry_rows_two_stage_keys(engine: Engine) -> None:
    """Registry-shaped rows (bench/cohort.py's profile): 0 differences, and far fewer engine calls than distinct
    whole decision keys (the specimen stage is keyed apart from the patient: D12.4)."""
    rows = generate_registry(engine.kb, 10_000, seed=77)
    local = LocalEngine(Engine())
    frame = pl.concat([local.evaluate(rows, grouped_patients(rows.lazy())), local.finish()]).select(SLIM_COLUMNS)
    assert differences(frame, reference_answers(engine, rows))[:20] == []
    whole = rows.with_columns(key_exprs(local.plan)).select(local.plan.key_columns).n_unique()
    assert local.stats.vectorized_rows == rows.height
    assert local.stats.decision_keys < whole * 0.9 and local.stats.specimen_keys < whole / 4
