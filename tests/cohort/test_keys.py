"""Decision-key columns computed with the chunk's all-null columns skipped equal the ones computed row by row."""

from __future__ import annotations

import polars as pl

from her2cds.cohort.generate import generate, generate_registry
from her2cds.cohort.measures import key_plan
from her2cds.cohort.polars_exprs import conform, key_exprs
from her2cds.engine import Engine


def test_keys_with_absent_columns_equal_computed_keys(engine: Engine) -> None:
    plan = key_plan(engine.kb)
    frames = [conform(generate_registry(engine.kb, 3_000, seed=3)), conform(generate(engine.kb, 3_000, seed=4))]
    # and a mixed frame with a few measure inputs blanked (a derived measure keeps its other inputs)
    frames.append(frames[1].with_columns(pl.lit(None, dtype=pl.Float64).alias(c)
                                         for c in ("ish_cep17_per_cell", "ihc_pct_strong_complete")))
    skipped = 0
    for frame in frames:
        nulls = frame.null_count().row(0, named=True)
        absent = frozenset(name for name, count in nulls.items() if count == frame.height)
        computed, fast = frame.select(key_exprs(plan)), frame.select(key_exprs(plan, absent))
        assert computed.schema == fast.schema
        assert computed.equals(fast, null_equal=True)
        skipped += len(absent)
        assert any(computed.get_column(c).null_count() < frame.height for c in computed.columns if c.startswith("k_"))
    assert skipped > 30
