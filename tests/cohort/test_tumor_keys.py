"""Patient keys on what the engine reads of the tumor (D12.7) and of the therapy-only columns (D12.8): rows of
several codes of one decision class, and values no reachable criterion reads, share engine calls; each row keeps
its own code; values the input model rejects are never merged into an accepted value's answer."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from her2cds.cohort.columns import SLIM_COLUMNS
from her2cds.cohort.generate import generate_registry
from her2cds.cohort.local import LocalEngine
from her2cds.cohort.run import grouped_patients
from her2cds.engine import Engine
from tests.cohort.conftest import reference_answers
from tests.cohort.test_differential import differences

_CODES = ["IDC", "ILC", "BRCA", "MDLC", "LUAD", "BLCA", "COAD", "READ", "STAD", "BREAST", " IDC ", "ILC ", "idc"]
_RECEPTOR = [None, "positive", "negative", "positive", "negative", None, "positive", "maybe", "Positive"]
_RAS = [None, "wild_type", "mutant", None, "wild_type", "mutant", None, "WT"]
_CPS = [None, 0.0, 5.0, 10.0, None, 1.0, 50.0, None, 150.0, -1.0]


def _rows(engine: Engine, n: int) -> pl.DataFrame:
    rows = generate_registry(engine.kb, n, seed=5)
    i = pl.int_range(0, n, eager=True)

    def cycle(values: Sequence[object], step: int, dtype: pl.DataType) -> pl.Series:
        return pl.Series(values, dtype=dtype).gather((i // step) % len(values))

    return rows.with_columns(
        oncotree_code=cycle(_CODES, 1, pl.String()), hormone_receptor=cycle(_RECEPTOR, 3, pl.String()),
        kras=cycle(_RAS, 7, pl.String()), pd_l1_cps=cycle(_CPS, 11, pl.Float64()),
    )


def test_shared_keys_answer_as_the_per_case_engine() -> None:
    engine = Engine()
    rows = _rows(engine, 3_000)
    local = LocalEngine(engine)
    frame = pl.concat([local.evaluate(rows, grouped_patients(rows.lazy())), local.finish()]).select(SLIM_COLUMNS)
    reference = reference_answers(engine, rows)
    assert differences(frame, reference)[:20] == []
    # each answered row names its own code, as the engine reads it (spaces stripped by the input model)
    tumors = dict(zip(frame.get_column("id"), frame.get_column("tumor").cast(pl.String), strict=True))
    given = dict(zip(rows.get_column("patient_id"), rows.get_column("oncotree_code"), strict=True))
    answered = [pid for pid, a in reference.items() if a["error"] is None]
    assert {tumors[pid] for pid in answered} == {"IDC", "ILC", "BRCA", "MDLC", "LUAD", "BLCA", "COAD", "READ", "STAD",
                                                   "BREAST"}
    assert all(tumors[pid] == given[pid].strip() for pid in answered)
    assert sum(given[pid] != given[pid].strip() for pid in answered) > 100
    errors = [a["error"] for a in reference.values() if a["error"] is not None]
    assert any("maybe" in e for e in errors) and any("WT" in e for e in errors) and any("150" in e for e in errors)
    # fewer engine calls than without the projections: the same rows keyed on the raw columns
    raw = LocalEngine(engine)
    raw._patient_keys = [*raw.plan.categorical, "__signature"]
    raw.evaluate(rows, grouped_patients(rows.lazy()))
    assert local.stats.decision_keys < raw.stats.decision_keys * 0.7
