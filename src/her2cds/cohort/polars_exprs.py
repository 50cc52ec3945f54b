"""The key plan as polars expressions."""

from __future__ import annotations

import polars as pl

from her2cds.cohort.columns import CASE_COLUMNS, META_COLUMNS
from her2cds.cohort.measures import Col, Expr, Interval, KeyPlan, Max, Sum

_DTYPES: dict[str, pl.DataType] = {
    "str": pl.String(), "float": pl.Float64(), "int": pl.Int64(), "bool": pl.Boolean(), "list": pl.String(),
}
SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(), "source": pl.String(), "read_error": pl.String(),
    **{c.name: _DTYPES[c.kind] for c in CASE_COLUMNS},
}


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Every canonical column present, in order, with its type (missing ones null)."""
    exprs = [
        (pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype)).alias(name)
        for name, dtype in SCHEMA.items()
    ]
    assert tuple(SCHEMA)[: len(META_COLUMNS)] == META_COLUMNS
    return frame.select(exprs)


def expr(node: Expr) -> pl.Expr:
    if isinstance(node, Col):
        return pl.col(node.name).cast(pl.Float64)
    if isinstance(node, Sum | Max):
        present = pl.any_horizontal([pl.col(c).is_not_null() for c in node.group])
        parts = [pl.col(c).cast(pl.Float64).fill_null(0.0) for c in node.cols]
        combined = pl.sum_horizontal(parts) if isinstance(node, Sum) else pl.max_horizontal(parts)
        return pl.when(present).then(combined).otherwise(None)
    num, den = pl.col(node.num).cast(pl.Float64), pl.col(node.den).cast(pl.Float64)
    fallback = pl.col(node.fallback).cast(pl.Float64) if node.fallback else pl.lit(None, dtype=pl.Float64)
    return pl.when(num.is_not_null() & den.is_not_null()).then(num / den).otherwise(fallback)


def interval(item: Interval) -> pl.Expr:
    value = expr(item.expr)
    if not item.cuts:
        return pl.when(value.is_null()).then(None).otherwise(pl.lit(0, dtype=pl.Int16)).alias(item.name)
    parts = [(value >= cut).cast(pl.Int16) + (value > cut).cast(pl.Int16) for cut in item.cuts]
    index = pl.sum_horizontal(parts).cast(pl.Int16)  # sum_horizontal reads null as 0: keep null as null
    return pl.when(value.is_null()).then(None).otherwise(index).alias(item.name)


def key_exprs(plan: KeyPlan) -> list[pl.Expr]:
    exact = [
        pl.when(pl.all_horizontal([pl.col(c).is_not_null() for c in present])).then(pl.col(name)).otherwise(None)
        .alias(f"k_exact.{name}")
        for name, present in plan.exact_if
    ]
    return [pl.col(name) for name in plan.categorical] + [interval(i) for i in plan.intervals] + exact


def per_row(plan: KeyPlan) -> pl.Expr:
    """Rows the vectorized path does not decide: non-finite numbers, percentages over 100 (the input model then
    rejects the case), or unsupported KB measures."""
    nonfinite = pl.any_horizontal([
        ~pl.col(c).cast(pl.Float64).is_finite() for c in plan.numeric
    ]).fill_null(False)
    total = expr(next(i.expr for i in plan.intervals if i.name == f"k_{plan.percent_total}"))
    over = (total > 100.0).fill_null(False)
    return nonfinite | over | pl.lit(bool(plan.unsupported))
