"""``--criteria``: re-read each patient's results under superseded guideline criteria (ASCO/CAP 2007, 2013).

The knowledge base holds the superseded cut-offs as rules of stage ``legacy`` (knowledge/data/rules/legacy.yaml,
each with its source); they are compiled here into polars expressions over the same measures the decision keys
use (:mod:`her2cds.cohort.measures`). A specimen row gets the outcome of the first of the guideline's rules that
holds (a missing measure never holds); the patient's ``criteria_status`` is the first such outcome in input
order, or empty when the knowledge base has no rule of that guideline for the findings. The cut-offs are breast
ones: other tumor types stay empty. Unverified entries are never used: a guideline whose legacy rules are all
unverified is refused with their ids.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import polars as pl

from her2cds.cohort.measures import MEASURES
from her2cds.cohort.polars_exprs import expr as measure_expr
from her2cds.errors import UsageError
from her2cds.rules.compiled import CompiledKnowledge

CRITERIA = ("current", "asco-cap-2007", "asco-cap-2013")
COLUMN = "criteria_status"
_OPS: dict[Callable[[float, float], bool], Callable[[pl.Expr, float], pl.Expr]] = {
    operator.ge: lambda m, v: m >= v, operator.gt: lambda m, v: m > v, operator.lt: lambda m, v: m < v,
    operator.le: lambda m, v: m <= v, operator.eq: lambda m, v: m == v,
}


def _breast_codes(ck: CompiledKnowledge) -> dict[str, bool]:
    kb = ck.kb
    out: dict[str, bool] = {}
    for code in kb.tumor_types:
        family = kb.family_for(code)
        out[code] = family is not None and ck.systems[family.scoring_system].system.breast_categories
    return out


def criteria_expr(ck: CompiledKnowledge, criteria: str) -> pl.Expr:
    """Per specimen row: the outcome of the first verified legacy rule of ``criteria`` that holds, else null."""
    rules = [r for r in ck.legacy if r.id.startswith(f"{criteria}.")]
    verified = [r for r in rules if r.rule.status == "verified"]
    if not verified:
        ids = ", ".join(r.id for r in rules) or "none"
        raise UsageError(f"--criteria {criteria}: the knowledge base has no verified rule for it "
                         f"(unverified entries are never used: {ids})")
    chain: pl.Expr = pl.lit(None, dtype=pl.String)
    for rule in reversed(verified):  # the first rule that holds wins
        held = pl.lit(True)
        for cond in rule.conditions:
            if cond.measure not in MEASURES:
                raise UsageError(f"--criteria {criteria}: rule {rule.id} reads {cond.measure}, not supported here")
            test = _OPS[cond.op](measure_expr(MEASURES[cond.measure]), cond.value)
            held = held & (test != pl.lit(cond.negate)).fill_null(False)
        chain = pl.when(held).then(pl.lit(rule.rule.outcome)).otherwise(chain)
    system = pl.col("scoring_system")
    breast = pl.col("oncotree_code").replace_strict(_breast_codes(ck), default=False, return_dtype=pl.Boolean)
    explicit = system.replace_strict({sid: s.system.breast_categories for sid, s in ck.systems.items()},
                                     default=False, return_dtype=pl.Boolean)
    applies = pl.when(system.is_not_null()).then(explicit).otherwise(breast)
    return pl.when(applies).then(chain).otherwise(None).alias(COLUMN)


def per_patient(rows: pl.DataFrame, ck: CompiledKnowledge, criteria: str, ids: pl.Expr) -> pl.DataFrame:
    """id -> criteria_status: the first specimen row (in input order) with an outcome."""
    return (rows.select(ids.alias("id"), pl.col("__seq"), criteria_expr(ck, criteria))
            .sort("__seq").group_by("id", maintain_order=True)
            .agg(pl.col(COLUMN).drop_nulls().first()))
