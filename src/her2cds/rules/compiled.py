"""Knowledge-base rules compiled once per engine into fast, immutable structures."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.knowledge.schema import Condition, Rule, ScoringSystem, TestingIndication
from her2cds.model.enums import IhcScore

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}



@dataclass(frozen=True, slots=True)
class Interval:
    """A measure known only within bounds: a value recorded as ">6.0" or "<2.0", or one derived from values
    truncated or rounded at their recorded precision. ``lo``/``hi`` may be open (excluded) or infinite."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def holds(self, op: str, value: float) -> bool | None:
        """True if ``x op value`` for every x in the interval, False if for none, None if it depends."""
        lo, hi = self.lo, self.hi
        if op == ">=":
            every, none = lo >= value, hi < value or (hi == value and self.hi_open)
        elif op == ">":
            every, none = lo > value or (lo == value and self.lo_open), hi <= value
        elif op == "<":
            every, none = hi < value or (hi == value and self.hi_open), lo >= value
        elif op == "<=":
            every, none = hi <= value, lo > value or (lo == value and self.lo_open)
        else:  # "==": only a point interval decides
            every = lo == hi == value
            none = value < lo or value > hi
        return True if every else False if none else None

    def describe(self, digits: int = 2) -> str:
        if self.lo == self.hi:
            return f"{self.lo:.{digits}f}"
        if self.hi == float("inf"):
            return f"{'>' if self.lo_open else '≥'}{self.lo:.{digits}f}"
        if self.lo <= 0 and not self.lo_open:
            return f"{'<' if self.hi_open else '≤'}{self.hi:.{digits}f}"
        return f"{self.lo:.{digits}f}-{self.hi:.{digits}f}"


MeasureValue = float | Interval
Measures = Mapping[str, MeasureValue | None]


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    measure: str
    op: Callable[[float, float], bool]
    value: float
    negate: bool
    threshold_id: str | None
    op_symbol: str = ">="

    def holds(self, measures: Measures) -> bool | None:
        """True/False, or None when the measure is not available or an interval straddles the threshold."""
        observed = measures.get(self.measure)
        if observed is None:
            return None
        if isinstance(observed, Interval):
            result = observed.holds(self.op_symbol, self.value)
            return None if result is None else result is not self.negate
        return self.op(observed, self.value) is not self.negate


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    conditions: tuple[CompiledCondition, ...]
    sources: tuple[str, ...]
    text: str

    @property
    def id(self) -> str:
        return self.rule.id

    def matches(self, measures: Measures) -> bool | None:
        """All conditions hold (True), one fails (False), or a needed measure is missing (None)."""
        unknown = False
        for cond in self.conditions:
            result = cond.holds(measures)
            if result is False:
                return False
            if result is None:
                unknown = True
        return None if unknown else True


def compile_condition(kb: KnowledgeBase, cond: Condition) -> CompiledCondition:
    if cond.threshold is not None:
        threshold = kb.thresholds[cond.threshold]
        return CompiledCondition(cond.measure, _OPS[threshold.operator], threshold.value, cond.negate, threshold.id,
                                 threshold.operator)
    assert cond.operator is not None and cond.value is not None  # guaranteed by the schema
    return CompiledCondition(cond.measure, _OPS[cond.operator], cond.value, cond.negate, None, cond.operator)


def compile_rule(kb: KnowledgeBase, rule: Rule) -> CompiledRule:
    return CompiledRule(
        rule=rule,
        conditions=tuple(compile_condition(kb, c) for c in rule.when),
        sources=tuple(ref.id for ref in rule.sources),
        text=rule.text,
    )


def first_match(rules: tuple[CompiledRule, ...], measures: Measures) -> CompiledRule | None:
    """The first rule whose conditions all hold; rules with a missing measure are skipped."""
    for rule in rules:
        if rule.matches(measures) is True:
            return rule
    return None


COMBINE_ROLES = ("ihc_positive", "ish_decides", "ihc_negative", "equivocal_pending", "not_determined")


@dataclass(frozen=True)
class CompiledSystem:
    system: ScoringSystem
    ihc_percent: tuple[CompiledRule, ...]
    ihc_biopsy_percent: tuple[CompiledRule, ...]
    ihc_cluster: tuple[CompiledRule, ...]
    ihc_reported: Mapping[IhcScore, CompiledRule]
    ish_dual_group: tuple[CompiledRule, ...]
    ish_dual_ratio: tuple[CompiledRule, ...]
    ish_percent_cells: tuple[CompiledRule, ...]
    ish_single: tuple[CompiledRule, ...]
    ish_adequacy: tuple[CompiledRule, ...]
    workup: Mapping[tuple[int, IhcScore], CompiledRule]
    workup_no_ihc: CompiledRule | None
    recount_same: Mapping[int, CompiledRule]
    recount_changed: CompiledRule | None
    single_workup: Mapping[IhcScore, CompiledRule]
    single_workup_no_ihc: CompiledRule | None
    combine: Mapping[str, CompiledRule]
    categories: Mapping[str, CompiledRule]
    high_copy_flag: CompiledRule | None

    @property
    def id(self) -> str:
        return self.system.id

    def adequacy(self, suffix: str) -> CompiledRule | None:
        for rule in self.ish_adequacy:
            if rule.id.endswith(suffix):
                return rule
        return None


def compile_system(kb: KnowledgeBase, system: ScoringSystem) -> CompiledSystem:
    by_stage: dict[str, list[CompiledRule]] = {}
    for raw in system.rules:
        by_stage.setdefault(raw.stage, []).append(compile_rule(kb, raw))

    def stage(name: str) -> tuple[CompiledRule, ...]:
        return tuple(by_stage.get(name, ()))

    ihc_percent = stage("ihc_percent")
    if not ihc_percent or ihc_percent[-1].conditions:
        raise KnowledgeBaseError(f"{system.id}: ihc_percent rules must end with an unconditional rule")
    biopsy_percent = stage("ihc_biopsy_percent")
    if biopsy_percent and biopsy_percent[-1].conditions:
        raise KnowledgeBaseError(f"{system.id}: ihc_biopsy_percent rules must end with an unconditional rule")
    reported: dict[IhcScore, CompiledRule] = {}
    for rule in stage("ihc_reported"):
        for score in rule.rule.ihc:
            reported[score] = rule
    for rule in ihc_percent:  # default: the first percentage rule that yields the score
        if rule.rule.score is not None:
            reported.setdefault(rule.rule.score, rule)
    missing = [s.value for s in IhcScore if s not in reported]
    if missing:
        raise KnowledgeBaseError(f"{system.id}: no rule gives reported IHC score(s) {missing}")

    workup: dict[tuple[int, IhcScore], CompiledRule] = {}
    recount_same: dict[int, CompiledRule] = {}
    workup_no_ihc = recount_changed = None
    for rule in stage("ish_dual_workup"):
        role = rule.rule.role
        if role == "no_ihc":
            workup_no_ihc = rule
        elif role == "recount_changed":
            recount_changed = rule
        elif role == "recount_same":
            assert rule.rule.group is not None
            recount_same[rule.rule.group] = rule
        else:
            assert rule.rule.group is not None
            for score in rule.rule.ihc:
                workup[(rule.rule.group, score)] = rule
    single_workup: dict[IhcScore, CompiledRule] = {}
    single_workup_no_ihc = None
    for rule in stage("ish_single_workup"):
        if rule.rule.role == "no_ihc":
            single_workup_no_ihc = rule
        for score in rule.rule.ihc:
            single_workup[score] = rule
    combine = {rule.rule.role: rule for rule in stage("combine") if rule.rule.role}
    absent = [role for role in COMBINE_ROLES if role not in combine]
    if absent:
        raise KnowledgeBaseError(f"{system.id}: combine rules missing for roles {absent}")
    categories = {rule.id.rsplit(".", 1)[-1]: rule for rule in stage("category")}
    if system.breast_categories:
        needed = {"her2-positive", "her2-low", "her2-ultralow", "her2-null", "ihc0-unresolved"}
        if not needed <= categories.keys():
            raise KnowledgeBaseError(f"{system.id}: category rules missing {sorted(needed - categories.keys())}")
    ratio_rules = tuple(r for r in stage("ish_dual_ratio") if r.rule.role is None)
    high_copy = next((r for r in stage("ish_dual_ratio") if r.rule.role == "high_copy_flag"), None)
    return CompiledSystem(
        system=system,
        ihc_percent=ihc_percent,
        ihc_biopsy_percent=biopsy_percent,
        ihc_cluster=stage("ihc_cluster"),
        ihc_reported=reported,
        ish_dual_group=stage("ish_dual_group"),
        ish_dual_ratio=ratio_rules,
        ish_percent_cells=stage("ish_percent_cells"),
        ish_single=stage("ish_single"),
        ish_adequacy=stage("ish_adequacy"),
        workup=workup,
        workup_no_ihc=workup_no_ihc,
        recount_same=recount_same,
        recount_changed=recount_changed,
        single_workup=single_workup,
        single_workup_no_ihc=single_workup_no_ihc,
        combine=combine,
        categories=categories,
        high_copy_flag=high_copy,
    )


@dataclass(frozen=True)
class CompiledKnowledge:
    """Everything the rules need, compiled once per engine."""

    kb: KnowledgeBase
    systems: Mapping[str, CompiledSystem]
    rules: Mapping[str, CompiledRule]
    legacy: tuple[CompiledRule, ...]
    testing: Mapping[tuple[str, str], tuple[TestingIndication, ...]]

    def rule(self, rule_id: str) -> CompiledRule:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise KnowledgeBaseError(f"the engine needs rule {rule_id!r}, which the knowledge base lacks") from None


def compile_knowledge(kb: KnowledgeBase) -> CompiledKnowledge:
    systems = {sid: compile_system(kb, system) for sid, system in kb.systems.items()}
    rules = {rid: compile_rule(kb, rule) for rid, rule in kb.rules.items()}
    legacy = tuple(r for r in rules.values() if r.rule.stage == "legacy")
    testing: dict[tuple[str, str], list[TestingIndication]] = {}
    for ind in kb.testing:
        for family in ind.families:
            for setting in ind.settings:
                testing.setdefault((family, setting), []).append(ind)
    testing_index = {key: tuple(sorted(v, key=lambda i: (0 if i.stages else 1, 0 if i.roots else 1)))
                     for key, v in testing.items()}
    return CompiledKnowledge(kb=kb, systems=systems, rules=rules, legacy=legacy, testing=testing_index)
