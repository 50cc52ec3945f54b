"""Decision-key columns computed with the chunk's all-null columns skipped equal the ones computed row by row."""

from __future__ import annotations

import math

import polars as pl

from her2cds.cohort.generate import generate, generate_registry
from her2cds.cohort.measures import Col, key_plan
from her2cds.cohort.polars_exprs import conform, interval, key_exprs
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


def interval_reference(value: pl.Expr, cuts: tuple[float, ...]) -> pl.Expr:
    """An interval's index as its definition reads: +1 for each cut the value reaches, +1 for each it exceeds."""
    parts = [(value >= cut).cast(pl.Int16) + (value > cut).cast(pl.Int16) for cut in cuts]
    return pl.when(value.is_null()).then(None).otherwise(pl.sum_horizontal(parts).cast(pl.Int16))


def test_interval_index_equals_its_definition_at_the_edges(engine: Engine) -> None:
    plan = key_plan(engine.kb)
    for item in plan.intervals:
        if not isinstance(item.expr, Col) or not item.cuts:
            continue
        cuts = item.cuts
        edges = [c + d for c in cuts for d in (-1e-9, 0.0, 1e-9)] + [-0.0, 0.0, -1.0, 1e9, None]
        values = pl.DataFrame({item.expr.name: [*edges, math.nan, math.inf, -math.inf]},
                              schema={item.expr.name: pl.Float64})
        got = values.select(interval(item).alias("got"), interval_reference(pl.col(item.expr.name), cuts).alias("want"))
        assert got.get_column("got").equals(got.get_column("want"), null_equal=True), item.name
