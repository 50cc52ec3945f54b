"""``--criteria``: re-read each patient's results under superseded guideline criteria (ASCO/CAP 2007, 2013),
or under the guideline in effect on each specimen's date (``by-date``).

The same knowledge and the same reading as the per-case engine's ``criteria`` (rules/legacy.py): the
guideline's legacy rules (knowledge/data/rules/legacy.yaml) compiled into polars expressions over the measures
the decision keys use (:mod:`her2cds.cohort.measures`); a specimen row gets the outcome of the first rule that
holds (a missing measure never holds; a reported IHC score is read only without staining percentages;
single-probe rules only for single-probe ISH). Rows whose ISH values the engine reads as intervals (a bound
instead of a number, a reported ratio beside the per-cell means, copies derived from ratio x CEP17) are read
by the per-case functions themselves. ``by-date`` picks each row's guideline from ``collected_on`` through the
knowledge base's criteria-set dates (legacy.timeline); a row in the current guideline's time gives the
patient's current ``her2_status``. The patient's ``criteria_status`` is the first decided row in input order,
else empty. The cut-offs are breast ones: other tumor types stay empty. Unverified entries are used only with
``--include-unverified`` (criteria name suffix ``+unverified``); otherwise such criteria are refused.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import polars as pl
from pydantic import ValidationError

from her2cds.cohort.cases import _specimen
from her2cds.cohort.columns import CASE_COLUMNS
from her2cds.cohort.measures import MEASURES
from her2cds.cohort.polars_exprs import expr as measure_expr
from her2cds.errors import InvalidInputError, UsageError
from her2cds.model.case import Specimen
from her2cds.rules.compiled import CompiledKnowledge, CompiledRule
from her2cds.rules.legacy import BY_DATE, CURRENT, check_criteria, guideline_rules, outcome_of, read_specimen, timeline

CRITERIA = (CURRENT, "asco-cap-2007", "asco-cap-2013", BY_DATE)
UNVERIFIED = "+unverified"
COLUMN = "criteria_status"
_CURRENT_MARK = "__current"  # a row under the current guideline: the patient's her2_status
_OPS: dict[Callable[[float, float], bool], Callable[[pl.Expr, float], pl.Expr]] = {
    operator.ge: lambda m, v: m >= v, operator.gt: lambda m, v: m > v, operator.lt: lambda m, v: m < v,
    operator.le: lambda m, v: m <= v, operator.eq: lambda m, v: m == v,
}
_IHC_ISH = tuple(c.name for c in CASE_COLUMNS if c.specimen and c.path[1] in ("ihc", "ish"))
_PCT = tuple(c.name for c in CASE_COLUMNS if c.path[1:3] == ("ihc", "percent"))
_KNOWN = ("positive", "negative", "equivocal")


def split(criteria: str) -> tuple[str, bool]:
    """``asco-cap-2013+unverified`` -> (``asco-cap-2013``, True): the opt-in rides on the name."""
    return criteria.removesuffix(UNVERIFIED), criteria.endswith(UNVERIFIED)


def check(ck: CompiledKnowledge, criteria: str) -> None:
    """Refuse unknown or (without the opt-in) unverified criteria before reading anything."""
    name, unverified = split(criteria)
    try:
        check_criteria(ck, name, unverified)
    except InvalidInputError as exc:
        raise UsageError(f"--criteria {name}: {exc.problems[0].message}") from None


def _breast_codes(ck: CompiledKnowledge) -> dict[str, bool]:
    kb = ck.kb
    out: dict[str, bool] = {}
    for code in kb.tumor_types:
        family = kb.family_for(code)
        out[code] = family is not None and ck.systems[family.scoring_system].system.breast_categories
    return out


def _rule_expr(rule: CompiledRule) -> pl.Expr:
    held = pl.lit(True)
    if rule.rule.role == "single_probe":
        held = held & (pl.col("ish_probe").str.to_lowercase() == "single").fill_null(False)
    if rule.rule.ihc:
        no_percent = pl.all_horizontal([pl.col(c).is_null() for c in _PCT])
        held = held & no_percent & pl.col("ihc_score").is_in([s.value for s in rule.rule.ihc]).fill_null(False)
    for cond in rule.conditions:
        if cond.measure not in MEASURES:
            raise UsageError(f"--criteria: rule {rule.id} reads {cond.measure}, not supported here")
        test = _OPS[cond.op](measure_expr(MEASURES[cond.measure]), cond.value)
        held = held & (test != pl.lit(cond.negate)).fill_null(False)
    return held


def _chain(rules: tuple[CompiledRule, ...]) -> pl.Expr:
    chain: pl.Expr = pl.lit(None, dtype=pl.String)
    for rule in reversed(rules):  # the first rule that holds wins
        chain = pl.when(_rule_expr(rule)).then(pl.lit(outcome_of(rule))).otherwise(chain)
    return chain


def _date() -> pl.Expr:
    return pl.col("collected_on").cast(pl.String).str.to_date("%Y-%m-%d", strict=False)


def _set_outcome(ck: CompiledKnowledge, guideline: str, unverified: bool) -> pl.Expr:
    cset = ck.kb.criteria_sets[guideline]
    if cset.current:
        return pl.lit(_CURRENT_MARK)
    if cset.status != "verified" and not unverified:
        return pl.lit(None, dtype=pl.String)
    return _chain(guideline_rules(ck, guideline, unverified))


def _applies(ck: CompiledKnowledge) -> pl.Expr:
    system = pl.col("scoring_system")
    breast = pl.col("oncotree_code").replace_strict(_breast_codes(ck), default=False, return_dtype=pl.Boolean)
    explicit = system.replace_strict({sid: s.system.breast_categories for sid, s in ck.systems.items()},
                                     default=False, return_dtype=pl.Boolean)
    has_test = pl.any_horizontal([pl.col(c).is_not_null() for c in _IHC_ISH])
    return pl.when(system.is_not_null()).then(explicit).otherwise(breast) & has_test


def criteria_expr(ck: CompiledKnowledge, criteria: str) -> pl.Expr:
    """Per specimen row: a status, the current-guideline mark (by-date), or null."""
    check(ck, criteria)
    name, unverified = split(criteria)
    if name != BY_DATE:
        outcome = _set_outcome(ck, name, unverified)
    else:
        date = _date()
        outcome = pl.lit(None, dtype=pl.String)
        for start, end, cset, _ in reversed(timeline(tuple(ck.kb.criteria_sets.values()))):
            if cset is None:
                continue
            inside = pl.lit(True)
            if start is not None:
                inside = inside & (date >= pl.lit(start))
            if end is not None:
                inside = inside & (date < pl.lit(end))
            outcome = pl.when(inside.fill_null(False)).then(_set_outcome(ck, cset.guideline, unverified)) \
                .otherwise(outcome)
    return pl.when(_applies(ck)).then(outcome).otherwise(None).alias(COLUMN)


def _interval_rows() -> pl.Expr:
    """Rows whose ISH values the engine reads as intervals (rules/ish.py): read by the per-case functions."""
    given = [pl.col(c).is_not_null() for c in ("ish_ratio_bound", "ish_her2_per_cell_bound")]
    both = pl.col("ish_ratio").is_not_null() & pl.col("ish_cep17_per_cell").is_not_null()
    return pl.any_horizontal([*given, both])


def _row_outcome(row: dict[str, Any], ck: CompiledKnowledge, criteria: str) -> str | None:
    name, unverified = split(criteria)
    try:
        spec = Specimen.model_validate(_specimen(row, "row"))
    except ValidationError:
        return None  # the per-case engine makes this patient an error row: no reading
    if name == BY_DATE:
        date = spec.collected_on
        if date is None:
            return None
        windows = timeline(tuple(ck.kb.criteria_sets.values()))
        cset = next((w[2] for w in windows if (w[0] is None or date >= w[0]) and (w[1] is None or date < w[1])), None)
        if cset is None:
            return None
        name = cset.guideline
    cset = ck.kb.criteria_sets[name]
    if cset.current:
        return _CURRENT_MARK
    if cset.status != "verified" and not unverified:
        return None
    rule, _ = read_specimen(spec, 0, guideline_rules(ck, name, unverified))
    return outcome_of(rule) if rule is not None else None


def per_patient(rows: pl.DataFrame, ck: CompiledKnowledge, criteria: str, ids: pl.Expr) -> pl.DataFrame:
    """id -> criteria_status (or the current-guideline mark): the first decided row, in input order."""
    frame = rows.select(ids.alias("id"), pl.col("__seq"), criteria_expr(ck, criteria), _applies(ck).alias("__ok"),
                        _interval_rows().alias("__interval"))
    hard = rows.filter(frame["__ok"] & frame["__interval"])
    if hard.height:
        seq = hard["__seq"].to_list()
        values = [_row_outcome(row, ck, criteria) for row in hard.to_dicts()]
        fixed = pl.DataFrame({"__seq": seq, "__fixed": values},
                             schema={"__seq": frame.schema["__seq"], "__fixed": pl.String})
        frame = frame.join(fixed, on="__seq", how="left").with_columns(
            pl.when(pl.col("__interval") & pl.col("__ok")).then(pl.col("__fixed")).otherwise(pl.col(COLUMN))
            .alias(COLUMN))
    return (frame.select("id", "__seq", COLUMN).sort("__seq").group_by("id", maintain_order=True)
            .agg(pl.col(COLUMN).drop_nulls().first()))


def attach(answers: pl.DataFrame, rows: pl.DataFrame | None, ck: CompiledKnowledge, criteria: str,
           ids: pl.Expr) -> pl.DataFrame:
    """The slim answers with ``criteria_status`` (an error row has no reading under any criteria)."""
    if rows is None or rows.height == 0:
        return answers.with_columns(pl.lit(None, dtype=pl.String).alias(COLUMN))
    found = per_patient(rows, ck, criteria, ids)
    joined = answers.join(found, on="id", how="left")
    current = pl.when(pl.col("her2_status").is_in(_KNOWN)).then(pl.col("her2_status")).otherwise(None)
    value = pl.when(pl.col(COLUMN) == _CURRENT_MARK).then(current).otherwise(pl.col(COLUMN))
    return joined.with_columns(pl.when(pl.col("error").is_null()).then(value).otherwise(None).alias(COLUMN))

