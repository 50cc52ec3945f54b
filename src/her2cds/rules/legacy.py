"""Recognise a reported status that only follows superseded cut-offs (ASCO/CAP 2007/2013)."""

from __future__ import annotations

from her2cds.model.enums import Status
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge
from her2cds.rules.ihc import ihc_measures
from her2cds.rules.specimen import SpecimenFinding

_WORDS = {
    "positive": Status.POSITIVE, "amplified": Status.POSITIVE, "pos": Status.POSITIVE,
    "negative": Status.NEGATIVE, "not amplified": Status.NEGATIVE, "non-amplified": Status.NEGATIVE,
    "neg": Status.NEGATIVE, "equivocal": Status.EQUIVOCAL, "borderline": Status.EQUIVOCAL,
}


def parse_reported_status(text: str) -> Status | None:
    return _WORDS.get(text.strip().lower())


def check_reported_status(f: SpecimenFinding, ck: CompiledKnowledge, col: Collector) -> None:
    text = f.specimen.reported_status
    if text is None:
        return
    reported = parse_reported_status(text)
    computed = f.result.status
    if reported is None or reported is computed:
        return
    if computed not in (Status.POSITIVE, Status.NEGATIVE):  # no current answer to compare with (D8.7)
        return
    measures: dict[str, float | None] = {}
    if f.specimen.ihc is not None:
        measures.update(ihc_measures(f.specimen.ihc))
    if f.ish is not None:
        measures["ish.ratio"] = f.ish.ratio
        measures["ish.her2_per_cell"] = f.ish.her2_per_cell
    sid = f.specimen.id
    breast = ck.systems[f.result.scoring_system].system.breast_categories  # the legacy cut-offs are breast ones
    legacy = [r for r in ck.legacy if breast and r.rule.outcome == reported.value]
    for rule in legacy:
        if rule.matches(measures) is True:
            col.fire(rule, f"Reported '{text}' matches superseded criteria; current result is {computed.value}.", sid)
            col.flag("legacy_criteria", [sid],
                     f"Specimen {sid}: reported {reported.value} ({rule.id}); current guideline: {computed.value}.")
            return
    col.flag("reported_status_mismatch", [sid],
             f"Specimen {sid}: reported {reported.value}; current guideline: {computed.value}.")
