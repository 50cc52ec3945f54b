"""One specimen: IHC, ISH and NGS findings combined into the specimen's HER2 status by its scoring system."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from her2cds.model._build import build
from her2cds.model.assessment import IhcResult, IshResult, SpecimenResult
from her2cds.model.case import Specimen
from her2cds.model.enums import Amplification, Category, IhcScore, Procedure, Status
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge, CompiledSystem
from her2cds.rules.ihc import IhcFinding, interpret_ihc
from her2cds.rules.ish import IshFinding, interpret_ish
from her2cds.rules.ngs import NgsFinding, interpret_ngs


@dataclass(frozen=True, slots=True)
class SpecimenFinding:
    """The public result plus the typed findings the patient-level rules need."""

    result: SpecimenResult
    specimen: Specimen
    index: int
    ihc: IhcFinding | None
    ish: IshFinding | None
    ngs: NgsFinding | None
    pending: bool
    status: Status
    is_plasma: bool
    usable_tissue: bool
    order: tuple[dt.date, str]  # (collected_on or date.min, id): input-order independent


def _status(
    ihc: IhcFinding | None, ish: IshFinding | None, system: CompiledSystem, col: Collector, sid: str
) -> tuple[Status, str, bool]:
    """(status, basis, pending) from the IHC and ISH findings."""
    combine = system.combine
    if ihc is not None and ihc.outcome == "positive":
        rule = combine["ihc_positive"]
        col.fire(rule, None, sid)
        if ish is not None and ish.outcome == "negative":
            col.flag("modality_discordance", [sid], f"Specimen {sid}: IHC {_score(ihc)} but ISH negative.")
        return Status.POSITIVE, f"IHC {_score(ihc)} ({ihc.rule.id})", False
    ish_may_decide = ish is not None and ish.final and (
        ihc is None or ihc.outcome == "equivocal" or ish.outcome == "negative"
        or system.system.ish_overrides_negative_ihc
    )
    if ish is not None and ish_may_decide:
        rule = combine["ish_decides"]
        col.fire(rule, None, sid)
        if ihc is not None and ihc.outcome == "negative" and ish.outcome == "positive":
            col.flag("modality_discordance", [sid], f"Specimen {sid}: IHC {_score(ihc)} but ISH positive.")
        what = f"ISH group {ish.group}" if ish.group else "ISH"
        ihc_part = f"IHC {_score(ihc)}, " if ihc is not None else ""
        return Status(ish.outcome), f"{ihc_part}{what} {ish.outcome} ({ish.rule.id})", False
    if ihc is not None and ihc.outcome == "negative":
        rule = combine["ihc_negative"]
        col.fire(rule, None, sid)
        if ish is not None and ish.outcome == "positive":
            col.flag("modality_discordance", [sid], f"Specimen {sid}: IHC {_score(ihc)} but ISH amplified.")
        return Status.NEGATIVE, f"IHC {_score(ihc)} ({ihc.rule.id})", False
    if ihc is not None and ihc.outcome == "equivocal" and ish is None:
        rule = combine["equivocal_pending"]
        col.fire(rule, None, sid)
        col.recommend("reflex_ish", sid)
        if ihc.derived_from == "reported" and system.system.id.startswith("heracles"):
            col.recommend("ihc_extent", sid)
        return Status.EQUIVOCAL, f"IHC {_score(ihc)} equivocal; ISH not done ({ihc.rule.id})", True
    rule = combine["not_determined"]
    col.fire(rule, None, sid)
    if ish is not None:
        return Status.INDETERMINATE, f"ISH not final: {ish.rule.rule.text}", ish.pending
    return Status.INDETERMINATE, "No IHC or ISH result", False


def _score(ihc: IhcFinding) -> str:
    return ihc.score.value if ihc.score is not None else "?"


def _category(
    status: Status, ihc: IhcFinding | None, system: CompiledSystem, col: Collector, sid: str
) -> Category | None:
    if not system.system.breast_categories:
        return None
    cats = system.categories
    if status is Status.POSITIVE:
        col.fire(cats["her2-positive"], None, sid)
        return Category.POSITIVE
    if status is not Status.NEGATIVE or ihc is None or ihc.score is None:
        return None
    if ihc.score in (IhcScore.ONE, IhcScore.TWO):
        col.fire(cats["her2-low"], None, sid)
        return Category.LOW
    if ihc.score is IhcScore.ZERO:
        if ihc.any_membrane_pct is None:
            col.fire(cats["ihc0-unresolved"], None, sid)
            col.recommend("ultralow_assessment", sid)
            return None
        if ihc.any_membrane_pct > 0:
            col.fire(cats["her2-ultralow"], f"{cats['her2-ultralow'].rule.text} ({ihc.any_membrane_pct:g}% stained)",
                     sid)
            return Category.ULTRALOW
        col.fire(cats["her2-null"], None, sid)
        return Category.NULL
    return None


def interpret_specimen(
    spec: Specimen, index: int, system: CompiledSystem, ck: CompiledKnowledge, col: Collector
) -> SpecimenFinding:
    sid = spec.id
    field = f"specimens[{index}]"
    plasma = spec.procedure is Procedure.PLASMA
    adequate = plasma or spec.procedure in system.system.validated_procedures
    if not adequate:
        col.flag("inadequate_specimen", [sid],
                 f"Specimen {sid}: {spec.procedure.value} is not validated by {system.system.name}.")
    ihc = interpret_ihc(spec.ihc, spec.procedure, system, col, sid, f"{field}.ihc") if spec.ihc else None
    ish = interpret_ish(spec.ish, ihc.score if ihc else None, system, col, sid) if spec.ish else None
    if ish is not None and ish.outcome == "inadequate":
        adequate = False
    ngs = interpret_ngs(spec.ngs, plasma, ck, col, sid, f"{field}.ngs") if spec.ngs else None
    if plasma:
        status, basis, pending = Status.INDETERMINATE, "Plasma cfDNA: HER2 protein/ISH status is not assessed", False
    else:
        status, basis, pending = _status(ihc, ish, system, col, sid)
        if ngs is not None and status is not Status.INDETERMINATE:
            amp = ngs.result.amplification
            if status is Status.POSITIVE and ihc is not None and ihc.outcome == "positive" and amp in (
                Amplification.NOT_AMPLIFIED, Amplification.GAIN
            ):
                col.flag("modality_discordance", [sid], f"Specimen {sid}: IHC 3+ but ERBB2 not amplified by NGS.")
            elif status is Status.NEGATIVE and amp is Amplification.AMPLIFIED:
                col.flag("modality_discordance", [sid], f"Specimen {sid}: HER2 negative but ERBB2 amplified by NGS.")
    category = _category(status, ihc, system, col, sid) if not plasma else None
    result = build(SpecimenResult,
        id=sid,
        procedure=spec.procedure,
        site=spec.site,
        site_detail=spec.site_detail,
        collected_on=spec.collected_on,
        scoring_system=system.id,
        ihc_score=ihc.score if ihc else None,
        ish_group=ish.group if ish else None,
        status=status,
        category=category,
        basis=basis,
        adequate=adequate,
        ihc=build(IhcResult,
            score=ihc.score, status=_ihc_status(ihc.outcome), derived_from=ihc.derived_from, rule=ihc.rule.id,
            reported_score=ihc.reported,
        ) if ihc else None,
        ish=build(IshResult,
            probe=ish.probe, ratio=round(ish.ratio, 3) if ish.ratio is not None else None,
            her2_per_cell=ish.her2_per_cell, group=ish.group, status=_ish_status(ish.outcome), final=ish.final,
            rule=ish.rule.id, recount_group=ish.recount_group,
        ) if ish else None,
        ngs=ngs.result if ngs else None,
    )
    return SpecimenFinding(
        result=result, specimen=spec, index=index, ihc=ihc, ish=ish, ngs=ngs, pending=pending, status=status,
        is_plasma=plasma, usable_tissue=adequate and not plasma, order=(spec.collected_on or dt.date.min, sid),
    )


def _ihc_status(outcome: str) -> Status:
    return Status(outcome) if outcome in ("positive", "negative", "equivocal") else Status.INDETERMINATE


def _ish_status(outcome: str) -> Status:
    return Status(outcome) if outcome in ("positive", "negative") else Status.INDETERMINATE
