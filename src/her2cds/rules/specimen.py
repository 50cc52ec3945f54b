"""One specimen: IHC, ISH and NGS findings combined into the specimen's HER2 status by its scoring system."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from her2cds.model._build import build
from her2cds.model.assessment import IhcResult, InputWarning, IshResult, Need, SpecimenResult
from her2cds.model.case import Specimen
from her2cds.model.enums import Amplification, Category, IhcScore, Procedure, Status
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge, CompiledSystem
from her2cds.rules.ihc import IhcFinding, interpret_ihc
from her2cds.rules.ish import IshFinding, interpret_ish
from her2cds.rules.ngs import NgsFinding, interpret_ngs
from her2cds.rules.pantumor import gastric_reading

NeedTuple = tuple[tuple[str, str], ...]


@dataclass(slots=True)  # per case, never changed after construction (not frozen: D14.13)
class SpecimenFinding:
    """The public result plus the typed findings the patient-level rules need."""

    result: SpecimenResult
    specimen: Specimen
    index: int
    ihc: IhcFinding | None
    ish: IshFinding | None
    ngs: NgsFinding | None
    pending: bool
    needs: NeedTuple
    gastric_3plus: bool | None
    status: Status
    is_plasma: bool
    usable_tissue: bool
    order: tuple[dt.date, str]  # (collected_on or date.min, id): input-order independent


_REFLEX = (("ish", "reflex ISH on the same specimen (IHC is equivocal)"),)
_ANY_RESULT = (("ihc", "an IHC or ISH result that determines HER2 status"),)


def _status(
    ihc: IhcFinding | None, ish: IshFinding | None, system: CompiledSystem, col: Collector, sid: str
) -> tuple[Status, str, bool, NeedTuple]:
    """(status, basis, pending, needs) from the IHC and ISH findings. An inadequate ISH count is no ISH."""
    combine = system.combine
    ish_unusable = ish is not None and ish.outcome == "inadequate"
    usable_ish = None if ish_unusable else ish
    if ihc is not None and ihc.outcome == "positive":
        col.fire(combine["ihc_positive"], None, sid)
        if usable_ish is not None and usable_ish.outcome == "negative":
            col.flag("modality_discordance", [sid], f"Specimen {sid}: IHC {_score(ihc)} but ISH negative.")
        if ish_unusable:  # IHC 3+ needs no ISH: no repeat count either
            col.drop_recommendation("repeat_ish", sid)
        return Status.POSITIVE, f"IHC {_score(ihc)} ({ihc.rule.id})", False, ()
    if usable_ish is not None and usable_ish.final and ihc is not None:
        override = ihc.rule.rule.ish_positive_outcome if usable_ish.outcome == "positive" else (
            ihc.rule.rule.ish_negative_outcome)
        if override is not None:  # e.g. HERACLES score reported without its extent
            col.fire(combine["ish_decides"], f"{combine['ish_decides'].text} With {ihc.rule.id}: "
                                             f"ISH {usable_ish.outcome} -> {override}.", sid)
            basis = f"IHC {_score(ihc)} ({ihc.rule.id}), ISH {usable_ish.outcome}"
            if override in ("positive", "negative"):
                return Status(override), basis, False, ()
            return Status.INDETERMINATE, basis + "; not decidable without the IHC extent", True, ihc.needs
    ish_may_decide = usable_ish is not None and usable_ish.final and (
        ihc is None or ihc.outcome == "equivocal" or usable_ish.outcome == "negative"
        or system.system.ish_overrides_negative_ihc
    )
    if usable_ish is not None and ish_may_decide:
        col.fire(combine["ish_decides"], None, sid)
        if ihc is not None and ihc.outcome == "negative" and usable_ish.outcome == "positive":
            col.flag("modality_discordance", [sid], f"Specimen {sid}: IHC {_score(ihc)} but ISH positive.")
        what = f"ISH group {usable_ish.group}" if usable_ish.group else "ISH"
        ihc_part = f"IHC {_score(ihc)}, " if ihc is not None else ""
        return (Status(usable_ish.outcome), f"{ihc_part}{what} {usable_ish.outcome} ({usable_ish.rule.id})", False,
                ())
    if ihc is not None and ihc.outcome == "negative":
        if usable_ish is not None and not usable_ish.final and system.system.ish_overrides_negative_ihc:
            # an unfinished ISH could still make this specimen positive (D8.4): never dropped
            col.fire(combine["not_determined"], f"{combine['not_determined'].text} IHC {_score(ihc)} is negative, "
                     f"but the ISH result is not final ({usable_ish.rule.id}) and could make it positive.", sid)
            return (Status.INDETERMINATE, f"IHC {_score(ihc)} ({ihc.rule.id}); ISH not final: "
                    f"{usable_ish.rule.rule.text}", True, usable_ish.needs or _ANY_RESULT)
        col.fire(combine["ihc_negative"], None, sid)
        if usable_ish is not None and usable_ish.outcome == "positive":
            col.flag("modality_discordance", [sid], f"Specimen {sid}: IHC {_score(ihc)} but ISH amplified.")
        basis = f"IHC {_score(ihc)} ({ihc.rule.id})"
        if usable_ish is not None and not usable_ish.final:
            basis += f"; ISH not final ({usable_ish.rule.id}), which does not change IHC 0/1+ under {system.id}"
        return Status.NEGATIVE, basis, False, ()
    if ihc is not None and ihc.outcome == "equivocal" and usable_ish is None:
        col.fire(combine["equivocal_pending"], None, sid)
        if not ish_unusable:  # with an inadequate count, repeat_ish has been recommended instead
            col.recommend("reflex_ish", sid)
        needs = ish.needs if ish_unusable and ish is not None and ish.needs else (*ihc.needs, *_REFLEX)
        return Status.EQUIVOCAL, f"IHC {_score(ihc)} equivocal; no usable ISH ({ihc.rule.id})", True, needs
    col.fire(combine["not_determined"], None, sid)
    if usable_ish is not None:
        needs = usable_ish.needs or (ihc.needs if ihc is not None else ()) or _ANY_RESULT
        return Status.INDETERMINATE, f"ISH not final: {usable_ish.rule.rule.text}", usable_ish.pending, needs
    if ihc is not None:  # IHC that cannot be read without more detail (e.g. extent or cluster size not reported)
        return Status.INDETERMINATE, f"IHC {_score(ihc)}: {ihc.rule.text}", True, ihc.needs or _ANY_RESULT
    if ish is not None and ish.needs:
        return Status.INDETERMINATE, "No usable IHC or ISH result", False, ish.needs
    return Status.INDETERMINATE, "No usable IHC or ISH result", False, _ANY_RESULT


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
        if not ihc.faint_only:  # e.g. weak-moderate complete staining in ≤10%: not the ultralow definition
            col.fire(cats["ihc0-unresolved"], "IHC 0 with staining other than faint incomplete staining in ≤10% of "
                     "cells: the HER2-ultralow definition (faint incomplete staining) does not cover it.", sid)
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
    spec: Specimen, index: int, system: CompiledSystem, ck: CompiledKnowledge, col: Collector,
    include_unverified: bool = False,
) -> SpecimenFinding:
    """Interpret one specimen (``include_unverified``: the case's opt-in to unverified variant entries)."""
    sid = spec.id
    field = f"specimens[{index}]"
    plasma = spec.procedure is Procedure.PLASMA
    cell_block = (spec.procedure is Procedure.CYTOLOGY and spec.preparation is not None
                  and spec.preparation in system.system.cytology_preparations)
    adequate = plasma or spec.procedure in system.system.validated_procedures or cell_block
    if not adequate:
        hint = ""
        if spec.procedure is Procedure.CYTOLOGY and system.system.cytology_preparations:
            accepted = ", ".join(p.replace("_", " ") for p in system.system.cytology_preparations)
            shown = spec.preparation.replace("_", " ") if spec.preparation else "preparation not given"
            hint = f" ({shown}; the guideline accepts: {accepted})"
        col.flag("inadequate_specimen", [sid],
                 f"Specimen {sid}: {spec.procedure.value} is not validated by {system.system.name}{hint}.")
    # a cytology cell block is a small sample: scored like a biopsy (clusters; percentages only where they decide)
    scored_as = Procedure.BIOPSY if cell_block else spec.procedure
    if cell_block:
        col.fire(ck.rule("qualitative.cytology.cell-block"), None, sid)
    ihc = interpret_ihc(spec.ihc, scored_as, system, col, sid, f"{field}.ihc", ck) if spec.ihc else None
    ish = interpret_ish(spec.ish, ihc.score if ihc else None, system, col, sid, ck) if spec.ish else None
    ngs = interpret_ngs(spec.ngs, plasma, ck, col, sid, f"{field}.ngs", include_unverified) if spec.ngs else None
    needs: NeedTuple = ()
    if plasma:
        status, basis, pending = Status.INDETERMINATE, "Plasma cfDNA: HER2 protein/ISH status is not assessed", False
    else:
        status, basis, pending, needs = _status(ihc, ish, system, col, sid)
        if ngs is not None and status is not Status.INDETERMINATE:
            amp = ngs.result.amplification
            if status is Status.POSITIVE and ihc is not None and ihc.outcome == "positive" and amp in (
                Amplification.NOT_AMPLIFIED, Amplification.GAIN
            ):
                col.flag("modality_discordance", [sid], f"Specimen {sid}: IHC 3+ but ERBB2 not amplified by NGS.")
            elif status is Status.NEGATIVE and amp is Amplification.AMPLIFIED:
                col.flag("modality_discordance", [sid], f"Specimen {sid}: HER2 negative but ERBB2 amplified by NGS.")
    if not adequate:  # shown, not used: no work-up advice for a specimen the guideline does not validate
        col.drop_recommendations(sid)
    category = _category(status, ihc, system, col, sid) if not plasma else None
    gastric_score: IhcScore | None = None
    gastric_3plus: bool | None = None
    if ihc is not None and spec.ihc is not None:
        gastric_score, gastric_3plus = gastric_reading(spec.ihc, ihc, scored_as, system, ck)
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
        needs=[build(Need, field=f"{field}.{rel}", reason=reason) for rel, reason in needs],
        ihc=build(IhcResult,
            score=ihc.score, intensity=ihc.intensity, status=_ihc_status(ihc.outcome), derived_from=ihc.derived_from,
            rule=ihc.rule.id, reported_score=ihc.reported, derived_score=ihc.derived_score,
            gastric_criteria_score=gastric_score,
        ) if ihc else None,
        ish=build(IshResult,
            probe=ish.probe, ratio=round(ish.ratio, 3) if ish.ratio is not None else None,
            her2_per_cell=ish.her2_per_cell, her2_per_cell_derived=ish.her2_derived, group=ish.group,
            status=_ish_status(ish.outcome), final=ish.final, rule=ish.rule.id, recount_group=ish.recount_group,
        ) if ish else None,
        ngs=ngs.result if ngs else None,
    )
    return SpecimenFinding(
        result=result, specimen=spec, index=index, ihc=ihc, ish=ish, ngs=ngs, pending=pending, needs=needs,
        gastric_3plus=gastric_3plus, status=status,
        is_plasma=plasma, usable_tissue=adequate and not plasma, order=(spec.collected_on or dt.date.min, sid),
    )


def _ihc_status(outcome: str) -> Status:
    return Status(outcome) if outcome in ("positive", "negative", "equivocal") else Status.INDETERMINATE


def _ish_status(outcome: str) -> Status:
    return Status(outcome) if outcome in ("positive", "negative") else Status.INDETERMINATE


def finding_warnings(findings: Sequence[SpecimenFinding]) -> list[InputWarning]:
    """Input the rules used with a caveat (e.g. a ratio that disagrees with the means), per specimen field."""
    out: list[InputWarning] = []
    for f in findings:
        if f.ish is None:
            continue
        for code, rel, text in f.ish.warnings:
            out.append(build(InputWarning, code=code, field=f"specimens[{f.index}].{rel}",
                             text=f"Specimen {f.specimen.id}: {text}"))
    return out
