"""The key plan as polars expressions."""

from __future__ import annotations

import polars as pl

from her2cds.cohort.columns import CASE_COLUMNS, META_COLUMNS
from her2cds.cohort.measures import Col, Expr, Interval, KeyPlan, Max, Sum

_DTYPES: dict[str, pl.DataType] = {
    "str": pl.String(), "float": pl.Float64(), "int": pl.Int64(), "bool": pl.Boolean(), "list": pl.String(),
}
_KIND = {c.name: c.kind for c in CASE_COLUMNS}
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


def always_null(node: Expr, absent: frozenset[str]) -> bool:
    """Whether ``node`` is null in every row when the columns ``absent`` are (as :func:`expr` computes it)."""
    if isinstance(node, Col):
        return node.name in absent
    if isinstance(node, Sum | Max):
        return set(node.group) <= absent
    return (node.num in absent or node.den in absent) and (node.fallback is None or node.fallback in absent)


def interval(item: Interval, absent: frozenset[str] = frozenset()) -> pl.Expr:
    if always_null(item.expr, absent):  # a chunk without the measure's inputs: no per-row work
        return pl.lit(None, dtype=pl.Int16).alias(item.name)
    value = expr(item.expr)
    if not item.cuts:
        return pl.when(value.is_null()).then(None).otherwise(pl.lit(0, dtype=pl.Int16)).alias(item.name)
    # the interval's index: for each cut, +1 when value >= cut and +1 when value > cut, i.e. the number of cuts
    # <= value plus the number < value: two binary searches in the sorted cuts instead of two comparisons per
    # cut (a third of the time). polars orders NaN (e.g. 0/0 for a derived ratio) above every number in both
    # (tests/cohort/test_keys.py holds this to the comparison form)
    cuts = pl.lit(pl.Series(sorted(item.cuts), dtype=pl.Float64))
    index = (cuts.search_sorted(value, side="left") + cuts.search_sorted(value, side="right")).cast(pl.Int16)
    return pl.when(value.is_null()).then(None).otherwise(index).alias(item.name)


def key_exprs(plan: KeyPlan, absent: frozenset[str] = frozenset()) -> list[pl.Expr]:
    """The key columns; ``absent``: columns null in every row of the frame (their measures are null without
    computing them, row by row)."""
    exact = [
        (pl.lit(None, dtype=_DTYPES[_KIND[name]]) if name in absent or set(present) & absent else
         pl.when(pl.all_horizontal([pl.col(c).is_not_null() for c in present])).then(pl.col(name)).otherwise(None))
        .alias(f"k_exact.{name}")
        for name, present in plan.exact_if
    ]
    return [pl.col(name) for name in plan.categorical] + [interval(i, absent) for i in plan.intervals] + exact


def per_row(plan: KeyPlan) -> pl.Expr:
    """Rows the vectorized path does not decide: non-finite numbers, percentages over 100 (the input model then
    rejects the case), or unsupported KB measures."""
    nonfinite = pl.any_horizontal([
        ~pl.col(c).cast(pl.Float64).is_finite() for c in plan.numeric
    ]).fill_null(False)
    total = expr(next(i.expr for i in plan.intervals if i.name == f"k_{plan.percent_total}"))
    over = (total > 100.0).fill_null(False)
    return nonfinite | over | pl.lit(bool(plan.unsupported))
