"""What the vectorized engines compute per row, derived from the knowledge base and the input model.

Every number a rule compares is a knowledge-base condition (``measure <op> threshold``). A row's answer can
depend on a numeric input only through such comparisons, the input model's bounds (``ge``/``le``/``gt``) and
presence checks against 0. So a row is reduced to a *decision key*: its categorical values as they are, and
for each numeric input or KB measure the interval it falls in between the cut points collected here. Rows
with equal keys get equal answers from the per-case engine; the differential test holds the engines to that.

The measure definitions mirror :func:`her2cds.rules.ihc.ihc_measures` and the ISH measures as a tiny
expression tree that the polars and Spark backends translate; the cut points come from the data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from her2cds.cohort.columns import BY_NAME, CASE_COLUMNS
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.knowledge.schema import Condition, Measure
from her2cds.model.case import Case


@dataclass(frozen=True, slots=True)
class Col:
    name: str


@dataclass(frozen=True, slots=True)
class Sum:
    """Sum of ``cols`` with nulls as 0, null when every column of ``group`` is null (defaults of 0 apply)."""

    cols: tuple[str, ...]
    group: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Max:
    cols: tuple[str, ...]
    group: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RatioOr:
    """``num / den`` when both are given, else ``fallback`` (which may be absent)."""

    num: str
    den: str
    fallback: str | None


Expr = Col | Sum | Max | RatioOr

_PCT = ("ihc_pct_strong_complete", "ihc_pct_weak_moderate_complete", "ihc_pct_faint_incomplete",
        "ihc_pct_intense_incomplete")
_CL = ("ihc_cluster_strong_complete", "ihc_cluster_weak_moderate_complete", "ihc_cluster_faint_incomplete")

# KB measure -> expression over canonical columns (see rules/ihc.py ihc_measures and rules/ish.py _measures)
MEASURES: dict[str, Expr] = {
    "pct.strong_complete": Sum(_PCT[:1], _PCT),
    "pct.complete": Sum(_PCT[:2], _PCT),
    "pct.intense_incomplete": Sum(_PCT[3:], _PCT),
    "pct.any_membrane": Sum(_PCT, _PCT),
    "cluster.strong_complete": Max(_CL[:1], _CL),
    "cluster.complete": Max(_CL[:2], _CL),
    "cluster.any_membrane": Max(_CL, _CL),
    "ish.ratio": RatioOr("ish_her2_per_cell", "ish_cep17_per_cell", "ish_ratio"),
    "ish.her2_per_cell": Col("ish_her2_per_cell"),
    "ish.percent_cells_amplified": Col("ish_percent_cells_amplified"),
    "ish.cells_counted": Col("ish_cells_counted"),
    "ngs.tumor_fraction": Col("ngs_tumor_fraction"),
}
# the blinded recount is read with the same measures (rules/ish.py _recount)
RECOUNT: dict[str, tuple[str, Expr]] = {
    "recount.ratio": ("ish.ratio", RatioOr("ish_recount_her2_per_cell", "ish_recount_cep17_per_cell", None)),
    "recount.her2_per_cell": ("ish.her2_per_cell", Col("ish_recount_her2_per_cell")),
    "recount.cells_counted": ("ish.cells_counted", Col("ish_recount_cells_counted")),
}
# numeric inputs whose exact value is kept in the key (therapy criteria compare them in code, not as measures)
EXACT = ("pd_l1_cps", "prior_lines")
# values whose recorded precision the rules read (rules/ish.py: a reported ratio beside CEP17 is checked
# against the means, or turned into HER2 copies, at the precision it was written with): when the condition's
# columns are all present, the key keeps these values exactly
PRECISION: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ish_ratio", ("ish_ratio", "ish_cep17_per_cell")),
    ("ish_cep17_per_cell", ("ish_ratio", "ish_cep17_per_cell")),
    ("ish_her2_per_cell", ("ish_ratio", "ish_cep17_per_cell")),
)
# string columns left out of the key: identifiers and, for one specimen, its date (used only to order several)
NOT_IN_KEY = ("patient_id", "specimen_id", "collected_on")


@dataclass(frozen=True, slots=True)
class Interval:
    """A key column: which interval between ``cuts`` (sorted) an expression's value falls in (null stays null)."""

    name: str
    expr: Expr
    cuts: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class KeyPlan:
    categorical: tuple[str, ...]
    intervals: tuple[Interval, ...]
    numeric: tuple[str, ...]  # numeric canonical columns (NaN/inf rows go to the per-case engine, row by row)
    unsupported: tuple[str, ...]  # KB measures without an expression: every row goes to the per-case engine
    exact_if: tuple[tuple[str, tuple[str, ...]], ...] = PRECISION
    # rows the input model may reject on a combination of values go to the per-case engine one by one:
    percent_total: str = "pct.any_membrane"  # the IHC percentages must not sum to more than 100

    @property
    def key_columns(self) -> tuple[str, ...]:
        return (*self.categorical, *(i.name for i in self.intervals), *(f"k_exact.{c}" for c, _ in self.exact_if))

    @property
    def specimen_key_columns(self) -> tuple[str, ...]:
        """The key columns the specimen stage reads (with the tumor's family: cohort/stages.py): an explicit
        scoring system and every specimen column (every interval and exact value is of a specimen column)."""
        return ("scoring_system", *(c for c in self.categorical if BY_NAME[c].specimen),
                *(i.name for i in self.intervals), *(f"k_exact.{c}" for c, _ in self.exact_if))


def _conditions(kb: KnowledgeBase) -> Iterator[Condition]:
    for rule in kb.rules.values():
        yield from rule.when
    for system in kb.systems.values():
        for rule in system.rules:
            yield from rule.when


def kb_cuts(kb: KnowledgeBase) -> dict[str, set[float]]:
    cuts: dict[str, set[float]] = {}
    for cond in _conditions(kb):
        value = kb.thresholds[cond.threshold].value if cond.threshold is not None else cond.value
        assert value is not None
        cuts.setdefault(cond.measure, {0.0}).add(float(value))
    return cuts


def _model_bounds() -> dict[str, set[float]]:
    """Bounds of each numeric canonical column as the input model declares them (JSON Schema of Case)."""
    schema: Mapping[str, Any] = Case.model_json_schema()
    defs: Mapping[str, Any] = schema.get("$defs", {})

    def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
        if "$ref" in node:
            return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
        for option in node.get("anyOf", ()):
            if option.get("type") != "null":
                return resolve(option)
        return node

    roots = {"specimen": resolve(schema["properties"]["specimens"]["items"])}
    out: dict[str, set[float]] = {}
    for col in CASE_COLUMNS:
        if col.kind not in ("float", "int"):
            continue
        node: Mapping[str, Any] = roots["specimen"] if col.specimen else schema
        path = col.path[1:] if col.specimen else col.path
        found = True
        for part in path:
            props = resolve(node).get("properties", {})
            if part not in props:
                found = False
                break
            node = props[part]
        leaf = resolve(node) if found else {}
        out[col.name] = {float(leaf[k]) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
                         if k in leaf} | {0.0}
    return out


def _model_limits() -> set[float]:
    """The input model's named plausibility limits (``MAX_*`` / ``MIN_*`` in model/case.py): validators that the
    JSON Schema does not show. Every numeric column is cut at all of them (more cuts never change an answer)."""
    import her2cds.model.case as case_module

    return {float(v) for k, v in vars(case_module).items()
            if k.startswith(("MAX_", "MIN_")) and isinstance(v, int | float) and not isinstance(v, bool)}


def key_plan(kb: KnowledgeBase) -> KeyPlan:
    cuts = kb_cuts(kb)
    known = set(get_args(Measure))
    unsupported = tuple(sorted(m for m in cuts if m not in MEASURES or m not in known))
    intervals: list[Interval] = []
    for measure, expr in MEASURES.items():
        intervals.append(Interval(f"k_{measure}", expr, tuple(sorted(cuts.get(measure, {0.0})))))
    for name, (measure, expr) in RECOUNT.items():
        intervals.append(Interval(f"k_{name}", expr, tuple(sorted(cuts.get(measure, {0.0})))))
    bounds = _model_bounds()
    limits = _model_limits()
    numeric = tuple(c.name for c in CASE_COLUMNS if c.kind in ("float", "int"))
    assert all(BY_NAME[name].specimen for name in numeric if name not in EXACT)  # specimen_key_columns relies on it
    for name in numeric:
        if name not in EXACT:
            intervals.append(Interval(f"k_raw.{name}", Col(name), tuple(sorted(bounds.get(name, {0.0}) | limits))))
    categorical = tuple(c.name for c in CASE_COLUMNS
                        if c.name not in NOT_IN_KEY and (c.kind not in ("float", "int") or c.name in EXACT))
    assert all(name in BY_NAME for name in categorical)
    return KeyPlan(categorical=categorical, intervals=tuple(intervals), numeric=numeric, unsupported=unsupported)
