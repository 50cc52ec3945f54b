"""ISH interpretation: breast groups 1-5 with work-up by concurrent IHC and blinded recount,
single-probe thresholds, the gastric ratio rule and HERACLES per-cell amplification."""

from __future__ import annotations

import math
from dataclasses import dataclass

from her2cds.model.case import Bound, Ish, IshCounts
from her2cds.model.enums import IhcScore, Probe
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge, CompiledRule, CompiledSystem, Interval, MeasureValue, first_match

FINAL = ("positive", "negative")
NeedTuple = tuple[tuple[str, str], ...]
WarningTuple = tuple[tuple[str, str, str], ...]  # (code, field relative to the specimen, text)


@dataclass(slots=True)  # per case, never changed after construction (not frozen: D14.13)
class IshFinding:
    probe: Probe
    ratio: float | None
    her2_per_cell: float | None
    group: int | None
    outcome: str  # positive | negative | indeterminate | inadequate
    rule: CompiledRule
    recount_group: int | None = None
    pending: bool = False  # a further step (recount, IHC, adjudication) could still change it
    needs: NeedTuple = ()
    her2_derived: str | None = None  # HER2 per cell derived from ratio x CEP17, as an interval
    warnings: WarningTuple = ()
    qualitative: bool = False  # decided from a result stated in words

    @property
    def final(self) -> bool:
        return self.outcome in FINAL


def decimals(value: float) -> int:
    """Decimal places a recorded value was given with (shortest repr; 2.0 -> 1, 2.95 -> 2)."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        return 3
    return len(text.split(".")[1]) if "." in text else 0


def recorded(value: float) -> Interval:
    """The true value behind a recorded one: rounded (±half a unit) or truncated (up to one unit more)."""
    unit = 10.0 ** -decimals(value)
    return Interval(max(0.0, value - unit / 2), value + unit, hi_open=True)


def _ratio_of(her2: Interval, cep17: Interval) -> Interval:
    lo = her2.lo / cep17.hi if cep17.hi > 0 else 0.0
    hi = her2.hi / cep17.lo if cep17.lo > 0 else math.inf
    return Interval(lo, hi)


def bound_interval(bound: Bound) -> Interval:
    """The values a recorded bound allows (">6.0": above 6.0; "<=4.0": 0 to 4.0)."""
    if bound.op in (">", ">="):
        return Interval(bound.value, math.inf, lo_open=bound.op == ">")
    return Interval(0.0, bound.value, hi_open=bound.op == "<")


Recorded = float | Bound


def _span(value: Recorded) -> Interval:
    """The true values behind a recorded one: its precision for a number, its range for a bound."""
    return bound_interval(value) if isinstance(value, Bound) else recorded(value)


def _measure(value: Recorded) -> MeasureValue:
    return bound_interval(value) if isinstance(value, Bound) else value


@dataclass(slots=True)  # per case, never changed after construction (not frozen: D14.13)
class _Counts:
    measures: dict[str, MeasureValue | None]
    ratio: float | None  # shown: the reported ratio, else the ratio of the means
    her2: float | None
    her2_derived: str | None
    warnings: WarningTuple
    notes: tuple[str, ...]


def _counts(
    her2: Recorded | None, cep17: Recorded | None, ratio: Recorded | None, ish: Ish, prefix: str = "ish"
) -> _Counts:
    """Measures from the recorded counts (D8.5 derived copies, D8.6 ratio precision, D8.10 bounds)."""
    ratio_m: MeasureValue | None = _measure(ratio) if ratio is not None else None
    her2_m: MeasureValue | None = _measure(her2) if her2 is not None else None
    shown_ratio = ratio if isinstance(ratio, float) else None
    derived: str | None = None
    warnings: list[tuple[str, str, str]] = []
    notes: list[str] = [f"{name} recorded as {value}" for name, value in
                        (("ratio", ratio), ("HER2/cell", her2), ("CEP17/cell", cep17)) if isinstance(value, Bound)]
    if her2 is not None and cep17 is not None:
        means = _ratio_of(_span(her2), _span(cep17))
        computed = her2 / cep17 if isinstance(her2, float) and isinstance(cep17, float) else None
        if ratio is None:
            ratio_m = computed if computed is not None else means
            shown_ratio = computed
        else:
            rep = _span(ratio)
            consistent = rep.lo <= means.hi + 1e-9 and means.lo <= rep.hi + 1e-9
            if consistent and computed is not None and isinstance(ratio, float):
                lo, hi = min(ratio, computed), max(ratio, computed)
                ratio_m = Interval(lo, hi) if lo != hi else ratio
                notes.append(f"reported ratio {ratio:g} agrees with the means ({computed:.3f}) at recorded precision")
            elif not consistent:
                ratio_m = computed if computed is not None else means
                shown_ratio = computed
                means_text = f"{computed:.3f}" if computed is not None else means.describe()
                warnings.append((
                    "ratio_disagrees_with_means", f"{prefix}.ratio",
                    f"The reported ratio {ratio} disagrees with her2_per_cell/cep17_per_cell = {her2}/{cep17} = "
                    f"{means_text} beyond the precision they were recorded at; the ratio of the means is used.",
                ))
    elif her2 is None and ratio is not None and cep17 is not None:
        r, c = _span(ratio), _span(cep17)
        her2_m = Interval(r.lo * c.lo, r.hi * c.hi, lo_open=r.lo_open or c.lo_open, hi_open=r.hi_open or c.hi_open)
        derived = her2_m.describe()
        notes.append(f"HER2 per cell not recorded: derived as ratio x CEP17 = {ratio} x {cep17}, i.e. {derived} "
                     "at the precision the values were recorded with")
    return _Counts(
        measures={
            "ish.ratio": ratio_m,
            "ish.her2_per_cell": her2_m,
            "ish.percent_cells_amplified": ish.percent_cells_amplified,
            "ish.cells_counted": float(ish.cells_counted) if ish.cells_counted is not None else None,
        },
        ratio=shown_ratio, her2=her2 if isinstance(her2, float) else None, her2_derived=derived,
        warnings=tuple(warnings), notes=tuple(notes),
    )


def _fmt(value: MeasureValue) -> str:
    return value.describe() if isinstance(value, Interval) else f"{value:.2f}"


def _describe(m: dict[str, MeasureValue | None]) -> str:
    parts = []
    ratio, her2, pct = m["ish.ratio"], m["ish.her2_per_cell"], m["ish.percent_cells_amplified"]
    if ratio is not None:
        parts.append(f"ratio {_fmt(ratio)}")
    if her2 is not None:
        parts.append(f"HER2 {_fmt(her2)}/cell")
    if pct is not None and not isinstance(pct, Interval):
        parts.append(f"{pct:g}% of cells amplified")
    return ", ".join(parts) or "no counts"


def _undecided(rules: tuple[CompiledRule, ...], m: dict[str, MeasureValue | None], measure: str) -> bool:
    """Whether some rule's condition on ``measure`` cannot be decided from what was recorded."""
    return any(c.measure == measure and c.holds(m) is None for r in rules for c in r.conditions)


def _missing(m: dict[str, MeasureValue | None], rules: tuple[CompiledRule, ...], prefix: str = "ish") -> NeedTuple:
    """Needs for a dual-probe group: the ratio and the average HER2 copies per cell, each a decided value."""
    needs: list[tuple[str, str]] = []
    ratio, her2 = m["ish.ratio"], m["ish.her2_per_cell"]
    if ratio is None:
        needs.append((f"{prefix}.ratio", "HER2/CEP17 ratio (or the HER2 and CEP17 signals per cell)"))
    elif isinstance(ratio, Interval) and _undecided(rules, m, "ish.ratio"):
        needs.append((f"{prefix}.ratio", f"the ratio is known only as {ratio.describe()}, across a cut-off"))
    if her2 is None:
        needs.append((f"{prefix}.her2_per_cell", "average HER2 signals per cell (decides the ISH group)"))
    elif isinstance(her2, Interval) and _undecided(rules, m, "ish.her2_per_cell"):
        needs.append((f"{prefix}.her2_per_cell",
                      f"average HER2 signals per cell: known only as {her2.describe()}, across a group cut-off"))
    return tuple(needs)


_QUALITATIVE = {"amplified": ("qualitative.ish.amplified", "positive"),
                "not_amplified": ("qualitative.ish.not-amplified", "negative"),
                "equivocal": ("qualitative.ish.equivocal", "indeterminate")}


def interpret_ish(
    ish: Ish, concurrent_ihc: IhcScore | None, system: CompiledSystem, col: Collector, specimen: str,
    ck: CompiledKnowledge | None = None,
) -> IshFinding:
    numeric = ish.ratio is not None or ish.her2_per_cell is not None or ish.percent_cells_amplified is not None
    if ish.result is not None and not numeric:
        assert ck is not None
        return _stated(ish, ck, col, specimen, None)
    finding = _counted(ish, concurrent_ihc, system, col, specimen)
    if ish.result is None or ck is None:
        return finding
    stated = _QUALITATIVE[ish.result][1]
    if finding.final and stated in FINAL and stated != finding.outcome:
        col.flag("reported_status_mismatch", [specimen],
                 f"Specimen {specimen}: ISH stated {ish.result.replace('_', ' ')}; the counts give {finding.outcome}.")
    if not finding.final and finding.outcome != "inadequate" and stated in FINAL:
        return _stated(ish, ck, col, specimen, finding)  # e.g. the adjudicated result after a changed recount
    return finding


def _stated(ish: Ish, ck: CompiledKnowledge, col: Collector, specimen: str, counted: IshFinding | None) -> IshFinding:
    assert ish.result is not None
    rule_id, outcome = _QUALITATIVE[ish.result]
    rule = ck.rule(rule_id)
    detail = rule.rule.text
    if counted is not None:
        detail += f" The counts alone are not final ({counted.rule.id}); the stated result is used."
    col.fire(rule, detail, specimen)
    needs = tuple((n.field, n.reason) for n in rule.rule.needs)
    base = counted or IshFinding(ish.probe, None, None, None, outcome, rule)
    return IshFinding(base.probe, base.ratio, base.her2_per_cell, base.group, outcome, rule,
                      recount_group=base.recount_group, pending=outcome not in FINAL, needs=needs,
                      her2_derived=base.her2_derived, warnings=base.warnings, qualitative=True)


def _counted(
    ish: Ish, concurrent_ihc: IhcScore | None, system: CompiledSystem, col: Collector, specimen: str
) -> IshFinding:
    counts = _counts(ish.her2_per_cell, ish.cep17_per_cell, ish.ratio, ish)
    m = counts.measures
    described = _describe(m) + "".join(f"; {note}" for note in counts.notes)

    def finding(outcome: str, rule: CompiledRule, pending: bool = False, needs: NeedTuple = ()) -> IshFinding:
        return IshFinding(ish.probe, counts.ratio, counts.her2, None, outcome, rule, pending=pending, needs=needs,
                          her2_derived=counts.her2_derived, warnings=counts.warnings)

    # adequacy of the count
    for check in system.ish_adequacy:
        if check.conditions and check.matches(m) is True:
            col.fire(check, f"{check.rule.text} ({ish.cells_counted} cells)", specimen)
            col.flag("inadequate_specimen", [specimen], f"Specimen {specimen}: ISH on {ish.cells_counted} cells.")
            col.recommend("repeat_ish", specimen)
            return finding("inadequate", check, pending=True,
                           needs=(("ish.cells_counted", "a repeat ISH count of at least 20 cells"),))

    if ish.probe is Probe.SINGLE:
        return _single(ish, concurrent_ihc, system, col, specimen, m, described)

    if system.ish_dual_group:
        return _breast_dual(ish, concurrent_ihc, system, col, specimen, counts, described)

    if system.ish_percent_cells:
        if ish.percent_cells_amplified is None:
            missing = system.adequacy("percent-cells-missing")
            assert missing is not None
            col.fire(missing, f"{missing.rule.text} ({described})", specimen)
            col.recommend("ish_percent_cells", specimen)
            return finding("indeterminate", missing, pending=True, needs=(
                ("ish.percent_cells_amplified", "percent of counted cells with HER2/CEP17 ratio ≥2 (HERACLES)"),))
        rule = first_match(system.ish_percent_cells, m)
        assert rule is not None and rule.rule.outcome is not None
        col.fire(rule, f"{rule.rule.text} ({described})", specimen)
        return finding(rule.rule.outcome, rule)

    # ratio rule (gastric criteria and systems built like it)
    rule = first_match(system.ish_dual_ratio, m)
    if rule is None:
        missing = system.combine["not_determined"]  # no ratio, or one known only across the cut-off
        col.fire(missing, f"{missing.rule.text} ({described})", specimen)
        return finding("indeterminate", missing, pending=True, needs=_missing(m, system.ish_dual_ratio)[:1] or (
            ("ish.ratio", "HER2/CEP17 ratio"),))
    assert rule.rule.outcome is not None
    col.fire(rule, f"{rule.rule.text} ({described})", specimen)
    if system.high_copy_flag is not None and system.high_copy_flag.matches(m) is True:
        col.fire(system.high_copy_flag, f"{system.high_copy_flag.rule.text} ({described})", specimen)
        col.flag("high_copy_ratio_negative", [specimen])
    return finding(rule.rule.outcome, rule)


def _single(
    ish: Ish, ihc: IhcScore | None, system: CompiledSystem, col: Collector, specimen: str,
    m: dict[str, MeasureValue | None], described: str,
) -> IshFinding:
    rule = first_match(system.ish_single, m)
    assert rule is not None, f"{system.id}: ish_single rules must end with an unconditional rule"
    col.fire(rule, f"{rule.rule.text} ({described})", specimen)
    outcome = rule.rule.outcome or "indeterminate"
    her2 = ish.her2_per_cell if isinstance(ish.her2_per_cell, float) else None
    if outcome == "indeterminate":
        col.recommend("dual_probe_ish", specimen)
        return IshFinding(ish.probe, None, her2, None, "indeterminate", rule, pending=True,
                          needs=(("ish.probe", "dual-probe ISH (ratio and HER2 per cell)"),))
    if outcome != "workup":
        return IshFinding(ish.probe, None, her2, None, outcome, rule)
    if ihc is None:
        workup = system.single_workup_no_ihc
        assert workup is not None
        col.fire(workup, None, specimen)
        col.recommend("concurrent_ihc", specimen)
        return IshFinding(ish.probe, None, her2, None, "indeterminate", workup, pending=True,
                          needs=(("ihc", "IHC on the same tissue (or dual-probe ISH)"),))
    workup = system.single_workup[ihc]
    col.fire(workup, f"{workup.rule.text} (concurrent IHC {ihc.value})", specimen)
    if workup.rule.outcome == "dual_probe":
        col.recommend("dual_probe_ish", specimen)
        return IshFinding(ish.probe, None, her2, None, "indeterminate", workup, pending=True,
                          needs=(("ish.probe", "dual-probe ISH for the final result"),))
    assert workup.rule.outcome is not None
    return IshFinding(ish.probe, None, her2, None, workup.rule.outcome, workup)


def _group(system: CompiledSystem, m: dict[str, MeasureValue | None]) -> CompiledRule | None:
    return first_match(system.ish_dual_group, m)


def _outcome_with_ihc(system: CompiledSystem, group_rule: CompiledRule, ihc: IhcScore | None) -> str | None:
    """The final outcome a group gives with the concurrent IHC, or None when it needs more work-up."""
    if group_rule.rule.outcome in FINAL:
        return group_rule.rule.outcome
    if ihc is None or group_rule.rule.group is None:
        return None
    workup = system.workup.get((group_rule.rule.group, ihc))
    return workup.rule.outcome if workup is not None and workup.rule.outcome in FINAL else None


def _breast_dual(
    ish: Ish, ihc: IhcScore | None, system: CompiledSystem, col: Collector, specimen: str, counts: _Counts,
    described: str,
) -> IshFinding:
    m = counts.measures
    ratio, her2 = counts.ratio, counts.her2
    hd, ws = counts.her2_derived, counts.warnings
    group_rule = _group(system, m)
    if group_rule is None:
        missing = system.adequacy("counts-incomplete")
        assert missing is not None
        needs = _missing(m, system.ish_dual_group)
        # the groups the counts still allow: if every one of them gives the same final result with the
        # concurrent IHC, that result stands (e.g. ratio <2.0 without copies under IHC 0/1+: groups 3-5, negative)
        possible = [r for r in system.ish_dual_group if r.matches(m) is not False]
        outcomes = {_outcome_with_ihc(system, r, ihc) for r in possible}
        groups = ", ".join(str(r.rule.group) for r in possible)
        if possible and len(outcomes) == 1 and None not in outcomes:
            (outcome,) = outcomes
            assert outcome is not None
            col.fire(missing, f"{missing.rule.text} ({described}). Groups still possible: {groups}; with concurrent "
                     f"IHC {ihc.value if ihc else '-'} each gives {outcome}, so the result is {outcome}.", specimen)
            return IshFinding(ish.probe, ratio, her2, None, outcome, missing, her2_derived=hd, warnings=ws)
        col.fire(missing, f"{missing.rule.text} ({described}). Groups still possible: {groups or 'none'}.", specimen)
        return IshFinding(ish.probe, ratio, her2, None, "indeterminate", missing, pending=True, needs=needs,
                          her2_derived=hd, warnings=ws)
    group = group_rule.rule.group
    assert group is not None
    col.fire(group_rule, f"{group_rule.rule.text} ({described})", specimen)
    outcome = group_rule.rule.outcome
    if outcome in FINAL:
        assert outcome is not None
        return IshFinding(ish.probe, ratio, her2, group, outcome, group_rule, her2_derived=hd, warnings=ws)
    if ihc is None:
        workup = system.workup_no_ihc
        assert workup is not None
        col.fire(workup, None, specimen)
        col.recommend("concurrent_ihc", specimen)
        return IshFinding(ish.probe, ratio, her2, group, "indeterminate", workup, pending=True,
                          needs=(("ihc", "IHC on sections of the same tissue used for ISH"),),
                          her2_derived=hd, warnings=ws)
    workup = system.workup[(group, ihc)]
    col.fire(workup, f"{workup.rule.text} (group {group}, concurrent IHC {ihc.value})", specimen)
    if workup.rule.outcome != "recount":
        assert workup.rule.outcome is not None
        return IshFinding(ish.probe, ratio, her2, group, workup.rule.outcome, workup, her2_derived=hd, warnings=ws)
    if ish.recount is None:
        col.recommend("ish_recount", specimen)
        return IshFinding(ish.probe, ratio, her2, group, "indeterminate", workup, pending=True,
                          needs=(("ish.recount", "blinded second-observer recount of at least 20 cells"),),
                          her2_derived=hd, warnings=ws)
    return _recount(ish, ish.recount, group, system, col, specimen, counts)


def _recount(
    ish: Ish, recount: IshCounts, group: int, system: CompiledSystem, col: Collector, specimen: str,
    initial: _Counts,
) -> IshFinding:
    counts = _counts(recount.her2_per_cell, recount.cep17_per_cell, None, ish, prefix="ish.recount")
    m = counts.measures
    m["ish.cells_counted"] = float(recount.cells_counted) if recount.cells_counted is not None else None
    ratio, her2 = initial.ratio, initial.her2
    hd, ws = initial.her2_derived, initial.warnings
    described = _describe(m)
    for check in system.ish_adequacy:
        if check.conditions and check.matches(m) is True:
            col.fire(check, f"Blinded recount: {check.rule.text} ({recount.cells_counted} cells)", specimen)
            col.recommend("ish_recount", specimen, "The recount must cover at least 20 cells.")
            return IshFinding(ish.probe, ratio, her2, group, "indeterminate", check, pending=True,
                              needs=(("ish.recount.cells_counted", "a recount of at least 20 cells"),),
                              her2_derived=hd, warnings=ws)
    new_rule = _group(system, m)
    if new_rule is None:
        missing = system.adequacy("counts-incomplete")
        assert missing is not None
        col.fire(missing, f"Blinded recount: {missing.rule.text} ({described})", specimen)
        col.recommend("ish_recount", specimen, "The recount needs HER2 and CEP17 signals per cell.")
        return IshFinding(ish.probe, ratio, her2, group, "indeterminate", missing, pending=True,
                          needs=(_missing(m, system.ish_dual_group, "ish.recount")
                                 or (("ish.recount.cep17_per_cell", "CEP17 per cell"),)),
                          her2_derived=hd, warnings=ws)
    new_group = new_rule.rule.group
    col.fire(new_rule, f"Blinded recount: {new_rule.rule.text} ({described})", specimen)
    if new_group == group:
        same = system.recount_same[group]
        col.fire(same, None, specimen)
        assert same.rule.outcome is not None
        return IshFinding(ish.probe, ratio, her2, group, same.rule.outcome, same, recount_group=new_group,
                          her2_derived=hd, warnings=ws)
    changed = system.recount_changed
    assert changed is not None
    col.fire(changed, f"{changed.rule.text} (initial group {group}, recount group {new_group})", specimen)
    col.recommend("adjudication", specimen)
    return IshFinding(ish.probe, ratio, her2, group, "indeterminate", changed, recount_group=new_group, pending=True,
                      needs=(("ish.result", "the adjudicated ISH result (amplified or not amplified)"),),
                      her2_derived=hd, warnings=ws)
