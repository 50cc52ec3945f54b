"""ISH interpretation: breast groups 1-5 with work-up by concurrent IHC and blinded recount,
single-probe thresholds, the gastric ratio rule and HERACLES per-cell amplification."""

from __future__ import annotations

from dataclasses import dataclass

from her2cds.model.case import Ish, IshCounts
from her2cds.model.enums import IhcScore, Probe
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledRule, CompiledSystem, first_match

FINAL = ("positive", "negative")


@dataclass(frozen=True, slots=True)
class IshFinding:
    probe: Probe
    ratio: float | None
    her2_per_cell: float | None
    group: int | None
    outcome: str  # positive | negative | indeterminate | inadequate
    rule: CompiledRule
    recount_group: int | None = None
    pending: bool = False  # a further step (recount, IHC, adjudication) could still change it

    @property
    def final(self) -> bool:
        return self.outcome in FINAL


def _measures(her2: float | None, cep17: float | None, ratio: float | None, ish: Ish) -> dict[str, float | None]:
    computed = her2 / cep17 if her2 is not None and cep17 is not None else ratio
    return {
        "ish.ratio": computed,
        "ish.her2_per_cell": her2,
        "ish.percent_cells_amplified": ish.percent_cells_amplified,
        "ish.cells_counted": float(ish.cells_counted) if ish.cells_counted is not None else None,
    }


def _describe(m: dict[str, float | None]) -> str:
    parts = []
    if m["ish.ratio"] is not None:
        parts.append(f"ratio {m['ish.ratio']:.2f}")
    if m["ish.her2_per_cell"] is not None:
        parts.append(f"HER2 {m['ish.her2_per_cell']:.2f}/cell")
    if m["ish.percent_cells_amplified"] is not None:
        parts.append(f"{m['ish.percent_cells_amplified']:g}% of cells amplified")
    return ", ".join(parts) or "no counts"


def interpret_ish(
    ish: Ish, concurrent_ihc: IhcScore | None, system: CompiledSystem, col: Collector, specimen: str
) -> IshFinding:
    m = _measures(ish.her2_per_cell, ish.cep17_per_cell, ish.ratio, ish)
    ratio, her2 = m["ish.ratio"], m["ish.her2_per_cell"]
    described = _describe(m)

    def finding(outcome: str, rule: CompiledRule, pending: bool = False) -> IshFinding:
        return IshFinding(ish.probe, ratio, her2, None, outcome, rule, pending=pending)

    # adequacy of the count
    for check in system.ish_adequacy:
        if check.conditions and check.matches(m) is True:
            col.fire(check, f"{check.rule.text} ({ish.cells_counted} cells)", specimen)
            col.flag("inadequate_specimen", [specimen], f"Specimen {specimen}: ISH on {ish.cells_counted} cells.")
            col.recommend("repeat_ish", specimen)
            return finding("inadequate", check, pending=True)

    if ish.probe is Probe.SINGLE:
        return _single(ish, concurrent_ihc, system, col, specimen, m, described)

    if system.ish_dual_group:
        return _breast_dual(ish, concurrent_ihc, system, col, specimen, m, described)

    if system.ish_percent_cells:
        if ish.percent_cells_amplified is None:
            missing = system.adequacy("percent-cells-missing")
            assert missing is not None
            col.fire(missing, f"{missing.rule.text} ({described})", specimen)
            col.recommend("ish_percent_cells", specimen)
            return finding("indeterminate", missing, pending=True)
        rule = first_match(system.ish_percent_cells, m)
        assert rule is not None and rule.rule.outcome is not None
        col.fire(rule, f"{rule.rule.text} ({described})", specimen)
        return finding(rule.rule.outcome, rule)

    # ratio rule (gastric criteria and systems built like it)
    rule = first_match(system.ish_dual_ratio, m)
    if rule is None:
        missing = system.combine["not_determined"]  # no ratio reported: nothing to decide on
        col.fire(missing, f"{missing.rule.text} ({described})", specimen)
        return finding("indeterminate", missing, pending=True)
    assert rule.rule.outcome is not None
    col.fire(rule, f"{rule.rule.text} ({described})", specimen)
    if system.high_copy_flag is not None and system.high_copy_flag.matches(m) is True:
        col.fire(system.high_copy_flag, f"{system.high_copy_flag.rule.text} ({described})", specimen)
        col.flag("high_copy_ratio_negative", [specimen])
    return finding(rule.rule.outcome, rule)


def _single(
    ish: Ish, ihc: IhcScore | None, system: CompiledSystem, col: Collector, specimen: str,
    m: dict[str, float | None], described: str,
) -> IshFinding:
    rule = first_match(system.ish_single, m)
    assert rule is not None, f"{system.id}: ish_single rules must end with an unconditional rule"
    col.fire(rule, f"{rule.rule.text} ({described})", specimen)
    outcome = rule.rule.outcome or "indeterminate"
    her2 = m["ish.her2_per_cell"]
    if outcome == "indeterminate":
        col.recommend("dual_probe_ish", specimen)
        return IshFinding(ish.probe, None, her2, None, "indeterminate", rule, pending=True)
    if outcome != "workup":
        return IshFinding(ish.probe, None, her2, None, outcome, rule)
    if ihc is None:
        workup = system.single_workup_no_ihc
        assert workup is not None
        col.fire(workup, None, specimen)
        col.recommend("concurrent_ihc", specimen)
        return IshFinding(ish.probe, None, her2, None, "indeterminate", workup, pending=True)
    workup = system.single_workup[ihc]
    col.fire(workup, f"{workup.rule.text} (concurrent IHC {ihc.value})", specimen)
    if workup.rule.outcome == "dual_probe":
        col.recommend("dual_probe_ish", specimen)
        return IshFinding(ish.probe, None, her2, None, "indeterminate", workup, pending=True)
    assert workup.rule.outcome is not None
    return IshFinding(ish.probe, None, her2, None, workup.rule.outcome, workup)


def _group(system: CompiledSystem, m: dict[str, float | None]) -> CompiledRule | None:
    return first_match(system.ish_dual_group, m)


def _breast_dual(
    ish: Ish, ihc: IhcScore | None, system: CompiledSystem, col: Collector, specimen: str,
    m: dict[str, float | None], described: str,
) -> IshFinding:
    ratio, her2 = m["ish.ratio"], m["ish.her2_per_cell"]
    group_rule = _group(system, m) if ratio is not None and her2 is not None else None
    if group_rule is None:
        missing = system.adequacy("counts-incomplete")
        assert missing is not None
        col.fire(missing, f"{missing.rule.text} ({described})", specimen)
        return IshFinding(ish.probe, ratio, her2, None, "indeterminate", missing, pending=True)
    group = group_rule.rule.group
    assert group is not None
    col.fire(group_rule, f"{group_rule.rule.text} ({described})", specimen)
    outcome = group_rule.rule.outcome
    if outcome in FINAL:
        assert outcome is not None
        return IshFinding(ish.probe, ratio, her2, group, outcome, group_rule)
    if ihc is None:
        workup = system.workup_no_ihc
        assert workup is not None
        col.fire(workup, None, specimen)
        col.recommend("concurrent_ihc", specimen)
        return IshFinding(ish.probe, ratio, her2, group, "indeterminate", workup, pending=True)
    workup = system.workup[(group, ihc)]
    col.fire(workup, f"{workup.rule.text} (group {group}, concurrent IHC {ihc.value})", specimen)
    if workup.rule.outcome != "recount":
        assert workup.rule.outcome is not None
        return IshFinding(ish.probe, ratio, her2, group, workup.rule.outcome, workup)
    if ish.recount is None:
        col.recommend("ish_recount", specimen)
        return IshFinding(ish.probe, ratio, her2, group, "indeterminate", workup, pending=True)
    return _recount(ish, ish.recount, group, system, col, specimen)


def _recount(
    ish: Ish, recount: IshCounts, group: int, system: CompiledSystem, col: Collector, specimen: str
) -> IshFinding:
    m = _measures(recount.her2_per_cell, recount.cep17_per_cell, None, ish)
    m["ish.cells_counted"] = float(recount.cells_counted) if recount.cells_counted is not None else None
    ratio, her2 = m["ish.ratio"], m["ish.her2_per_cell"]
    described = _describe(m)
    for check in system.ish_adequacy:
        if check.conditions and check.matches(m) is True:
            col.fire(check, f"Blinded recount: {check.rule.text} ({recount.cells_counted} cells)", specimen)
            col.recommend("ish_recount", specimen, "The recount must cover at least 20 cells.")
            return IshFinding(ish.probe, ratio, her2, group, "indeterminate", check, pending=True)
    new_rule = _group(system, m) if ratio is not None and her2 is not None else None
    if new_rule is None:
        missing = system.adequacy("counts-incomplete")
        assert missing is not None
        col.fire(missing, f"Blinded recount: {missing.rule.text} ({described})", specimen)
        col.recommend("ish_recount", specimen, "The recount needs HER2 and CEP17 signals per cell.")
        return IshFinding(ish.probe, ratio, her2, group, "indeterminate", missing, pending=True)
    new_group = new_rule.rule.group
    col.fire(new_rule, f"Blinded recount: {new_rule.rule.text} ({described})", specimen)
    if new_group == group:
        same = system.recount_same[group]
        col.fire(same, None, specimen)
        assert same.rule.outcome is not None
        return IshFinding(ish.probe, ratio, her2, group, same.rule.outcome, same, recount_group=new_group)
    changed = system.recount_changed
    assert changed is not None
    col.fire(changed, f"{changed.rule.text} (initial group {group}, recount group {new_group})", specimen)
    col.recommend("adjudication", specimen)
    return IshFinding(ish.probe, ratio, her2, group, "indeterminate", changed, recount_group=new_group, pending=True)
