"""Superseded breast criteria (ASCO/CAP 2007/2013, knowledge/data/rules/legacy.yaml).

Two uses: recognise a reported status that only follows superseded cut-offs (flag ``legacy_criteria``), and
re-read a case's recorded values under a guideline's criteria, or under the guideline in effect on each
specimen's date (the case's ``criteria``), to explain historical records. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from her2cds.errors import InvalidInputError
from her2cds.knowledge.schema import CriteriaSet
from her2cds.model._build import build
from her2cds.model.assessment import CriteriaReading, CriteriaSpecimen, CriteriaStatus, Her2Summary, Need
from her2cds.model.case import Specimen
from her2cds.model.enums import IhcScore, Probe, Status
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge, CompiledRule, MeasureValue
from her2cds.rules.ihc import ihc_measures
from her2cds.rules.ish import _counts as ish_counts
from her2cds.rules.specimen import SpecimenFinding

BY_DATE = "by-date"
CURRENT = "current"

_WORDS = {
    "positive": Status.POSITIVE, "amplified": Status.POSITIVE, "pos": Status.POSITIVE,
    "negative": Status.NEGATIVE, "not amplified": Status.NEGATIVE, "non-amplified": Status.NEGATIVE,
    "neg": Status.NEGATIVE, "equivocal": Status.EQUIVOCAL, "borderline": Status.EQUIVOCAL,
}
_FIELDS = {"ish.ratio": "ish.ratio", "ish.her2_per_cell": "ish.her2_per_cell"}  # pct.* -> ihc.percent
_OUTCOME: dict[str, CriteriaStatus] = {"positive": "positive", "negative": "negative", "equivocal": "equivocal"}
_KNOWN: dict[Status, CriteriaStatus] = {
    Status.POSITIVE: "positive", Status.NEGATIVE: "negative", Status.EQUIVOCAL: "equivocal",
}


def parse_reported_status(text: str) -> Status | None:
    return _WORDS.get(text.strip().lower())


@dataclass(frozen=True, slots=True)
class LegacyInput:
    """What the legacy rules read from one specimen."""

    measures: dict[str, MeasureValue | None]
    reported_ihc: IhcScore | None  # a reported score without staining percentages (percentages are re-scored)
    probe: Probe | None


def legacy_input(spec: Specimen) -> LegacyInput:
    """The measures as the engine reads them (ISH at recorded precision, bounds as intervals: rules/ish.py)."""
    measures: dict[str, MeasureValue | None] = {}
    reported = None
    if spec.ihc is not None:
        measures.update(ihc_measures(spec.ihc))
        if spec.ihc.percent is None:
            reported = spec.ihc.score
    probe = None
    if spec.ish is not None:
        ish = spec.ish
        probe = ish.probe
        counted = ish_counts(ish.her2_per_cell, ish.cep17_per_cell, ish.ratio, ish).measures
        measures["ish.ratio"] = counted["ish.ratio"]
        measures["ish.her2_per_cell"] = counted["ish.her2_per_cell"]
    return LegacyInput(measures, reported, probe)


def applies(rule: CompiledRule, given: LegacyInput) -> bool | None:
    """True / False, or None when a measure the rule needs is missing or straddles its cut-off."""
    if rule.rule.role == "single_probe" and given.probe is not Probe.SINGLE:
        return False
    if rule.rule.ihc and given.reported_ihc not in rule.rule.ihc:
        return False
    return rule.matches(given.measures)


def guideline_rules(ck: CompiledKnowledge, guideline: str, include_unverified: bool) -> tuple[CompiledRule, ...]:
    return tuple(r for r in ck.legacy if r.id.startswith(f"{guideline}.")
                 and (include_unverified or r.rule.status == "verified"))


def check_reported_status(
    f: SpecimenFinding, ck: CompiledKnowledge, col: Collector, include_unverified: bool = False
) -> None:
    """Flag a reported status that disagrees with the current answer: ``legacy_criteria`` when a superseded
    cut-off explains it (an unverified guideline's rules only with the case's opt-in), else
    ``reported_status_mismatch``."""
    text = f.specimen.reported_status
    if text is None:
        return
    reported = parse_reported_status(text)
    computed = f.result.status
    if reported is None or reported is computed:
        return
    if computed not in (Status.POSITIVE, Status.NEGATIVE):  # no current answer to compare with (D8.7)
        return
    measures: dict[str, MeasureValue | None] = {}
    if f.specimen.ihc is not None:
        measures.update(ihc_measures(f.specimen.ihc))
    if f.ish is not None:
        measures["ish.ratio"] = f.ish.ratio
        measures["ish.her2_per_cell"] = f.ish.her2_per_cell
    given = LegacyInput(measures, None, f.ish.probe if f.ish is not None else None)
    sid = f.specimen.id
    breast = ck.systems[f.result.scoring_system].system.breast_categories  # the legacy cut-offs are breast ones
    # a reported IHC score reads the same under every guideline: those rules cannot explain a disagreement
    legacy = [r for r in ck.legacy if breast and r.rule.outcome == reported.value and not r.rule.ihc
              and (include_unverified or r.rule.status == "verified")]
    for rule in legacy:
        if applies(rule, given) is True:
            col.fire(rule, f"Reported '{text}' matches superseded criteria; current result is {computed.value}.", sid)
            col.flag("legacy_criteria", [sid],
                     f"Specimen {sid}: reported {reported.value} ({rule.id}); current guideline: {computed.value}.")
            return
    col.flag("reported_status_mismatch", [sid],
             f"Specimen {sid}: reported {reported.value}; current guideline: {computed.value}.")


# -- re-reading ----------------------------------------------------------------------------------------------
def check_criteria(ck: CompiledKnowledge, criteria: str, include_unverified: bool) -> None:
    """Refuse an unknown criteria name, or a guideline whose criteria are unverified without the opt-in."""
    sets = ck.kb.criteria_sets
    if criteria in (CURRENT, BY_DATE):
        return
    cset = sets.get(criteria)
    if cset is None:
        names = ", ".join([CURRENT, *(c for c in sets if not sets[c].current), BY_DATE])
        raise InvalidInputError.single("criteria", f"unknown criteria; choose one of {names}", criteria)
    if cset.current:
        return
    if cset.status != "verified" and not include_unverified:
        ids = ", ".join(r.id for r in ck.legacy if r.id.startswith(f"{criteria}."))
        raise InvalidInputError.single(
            "criteria", f"the knowledge base's {cset.name} criteria are unverified and never used by default "
            f"({ids}); set include_unverified: true to use them", criteria)


Window = tuple[dt.date | None, dt.date | None, CriteriaSet | None, str]


def timeline(sets: Sequence[CriteriaSet]) -> tuple[Window, ...]:
    """Consecutive date windows ``[start, end)`` (None: open) with the criteria set in effect, or None and why.

    A set is in effect from its online publication date; where that date is unverified, its verified issue
    date bounds it and the days between the two are uncertain (no set)."""
    windows: list[Window] = []
    previous: CriteriaSet | None = None
    start: dt.date | None = None
    for cset in sets:  # ascending by publication
        certain = cset.published_online if cset.published_online_status == "verified" else cset.issue_date
        assert certain is not None  # the schema requires a verified issue date for an unverified online date
        if previous is None:
            why = f"before the first guideline in the knowledge base ({cset.name})"
        else:
            why = f"{previous.name} was in effect"
        windows.append((start, cset.published_online, previous, why))
        if certain > cset.published_online:
            windows.append((cset.published_online, certain, None,
                            f"between {cset.name}'s online publication ({cset.published_online}, unverified) and "
                            f"its issue date ({certain}): the guideline in effect is uncertain"))
        previous, start = cset, certain
    if previous is not None:
        windows.append((start, None, previous, f"{previous.name} was in effect"))
    return tuple(w for w in windows if w[0] is None or w[1] is None or w[0] < w[1])


def guideline_on(sets: Sequence[CriteriaSet], date: dt.date) -> tuple[CriteriaSet | None, str]:
    """The criteria set in effect on ``date`` (by online publication date), or None with the reason."""
    for start, end, cset, why in timeline(sets):
        if (start is None or date >= start) and (end is None or date < end):
            return cset, f"{date}: {why}"
    raise AssertionError("the timeline covers every date")


def read_specimen(spec: Specimen, index: int, rules: tuple[CompiledRule, ...]
                  ) -> tuple[CompiledRule | None, list[Need]]:
    """The first rule that holds, else None with what would decide (measures missing or at a cut-off)."""
    given = legacy_input(spec)
    needs: dict[str, str] = {}
    for rule in rules:
        result = applies(rule, given)
        if result is True:
            return rule, []
        if result is None:
            for cond in rule.conditions:
                if cond.holds(given.measures) is None:
                    path = _FIELDS.get(cond.measure, "ihc.percent")
                    needs.setdefault(f"specimens[{index}].{path}", f"an exact value to apply {rule.id}")
    return None, [build(Need, field=k, reason=v) for k, v in needs.items()]


def outcome_of(rule: CompiledRule) -> CriteriaStatus:
    return _OUTCOME.get(rule.rule.outcome or "", "unknown")


def reread(criteria: str, findings: Sequence[SpecimenFinding], her2: Her2Summary, breast: bool,
           ck: CompiledKnowledge, col: Collector, include_unverified: bool) -> CriteriaReading:
    """Each specimen under ``criteria`` (a guideline id, or by-date); the patient: the first specimen decided."""
    sets = ck.kb.criteria_sets
    ordered = tuple(sets.values())
    specimens: list[CriteriaSpecimen] = []
    decided: tuple[CriteriaSpecimen, CriteriaStatus] | None = None
    used_unverified = False
    for f in findings:
        sid = f.specimen.id
        current = f.result.status
        guideline: CriteriaSet | None
        needs: list[Need] = []
        if not breast:
            guideline, reason = None, "the superseded ASCO/CAP criteria are breast criteria"
        elif f.specimen.ihc is None and f.specimen.ish is None:
            guideline, reason = None, "no IHC or ISH result to re-read"
        elif criteria == BY_DATE:
            date = f.specimen.collected_on
            if date is None:
                guideline, reason = None, "the specimen has no collected_on date: the guideline in effect is unknown"
                needs = [build(Need, field=f"specimens[{f.index}].collected_on",
                               reason="the collection date selects the guideline in effect")]
            else:
                guideline, reason = guideline_on(ordered, date)
        else:
            guideline, reason = sets[criteria], f"{sets[criteria].name} criteria requested"
        status: CriteriaStatus = "unknown"
        rule_id: str | None = None
        if guideline is not None and guideline.current:
            status = _KNOWN.get(current, "unknown")
            reason += "; read by the current rules (her2cds specimen result)"
        elif guideline is not None and guideline.status != "verified" and not include_unverified:
            reason += "; its criteria are unverified in the knowledge base (include_unverified: true to use them)"
        elif guideline is not None:
            rules = guideline_rules(ck, guideline.guideline, include_unverified)
            rule, needs = read_specimen(f.specimen, f.index, rules)
            if rule is not None:
                used_unverified |= rule.rule.status != "verified"
                status, rule_id = outcome_of(rule), rule.id
                col.fire(rule, f"Re-read under {guideline.name}: {rule.rule.outcome} "
                               f"(current guideline: {current.value}).", sid)
            else:
                reason += f"; no {guideline.name} rule in the knowledge base decides these findings"
        entry = build(CriteriaSpecimen, id=sid, criteria=guideline.guideline if guideline else None, status=status,
                      rule=rule_id, current_status=current, reason=reason, needs=needs)
        specimens.append(entry)
        if decided is None and guideline is not None and (guideline.current or status != "unknown"):
            decided = (entry, _KNOWN.get(her2.status, "unknown") if guideline.current else status)
    all_needs = [n for s in specimens for n in s.needs]
    if decided is None:
        return build(CriteriaReading, requested=criteria, status="unknown", unverified=used_unverified,
                     specimens=specimens, needs=all_needs)
    entry, status = decided
    return build(CriteriaReading, requested=criteria, status=status, specimen=entry.id, criteria=entry.criteria,
                 unverified=used_unverified, specimens=specimens, needs=[] if status != "unknown" else all_needs)
