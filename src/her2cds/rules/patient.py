"""Patient level: one HER2 assessment from several specimens and modalities (policy in docs/decisions.md D7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from her2cds.model._build import build
from her2cds.model.assessment import Her2Summary, Need, SpecimenCategory
from her2cds.model.enums import Amplification, Category, IhcScore, Status
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge
from her2cds.rules.pantumor import pan_tumor_3plus
from her2cds.rules.specimen import SpecimenFinding


def chronological(findings: Sequence[SpecimenFinding]) -> list[SpecimenFinding]:
    """Date order (undated first), ties broken by specimen id: independent of input order."""
    return sorted(findings, key=_order)


def _order(f: SpecimenFinding) -> tuple[dt.date, str]:
    return f.order


def _ids(findings: Sequence[SpecimenFinding]) -> list[str]:
    return sorted(f.specimen.id for f in findings)


def integrate(findings: Sequence[SpecimenFinding], ck: CompiledKnowledge, col: Collector) -> Her2Summary:
    findings = chronological(findings)  # once: every list below is then in date order (specimen ids are unique)
    tissue = [f for f in findings if f.usable_tissue]
    positives = [f for f in tissue if f.status is Status.POSITIVE]
    negatives = [f for f in tissue if f.status is Status.NEGATIVE]
    equivocal = [f for f in tissue if f.status is Status.EQUIVOCAL]
    pending = [f for f in tissue if f.status is Status.INDETERMINATE and f.pending]

    if positives:
        status, rule_id, deciding = Status.POSITIVE, "patient.any-positive-tissue", positives
    elif equivocal:
        status, rule_id, deciding = Status.EQUIVOCAL, "patient.equivocal-pending", equivocal
    elif pending:
        status, rule_id, deciding = Status.INDETERMINATE, "patient.pending-result", pending
    elif negatives:
        status, rule_id, deciding = Status.NEGATIVE, "patient.negative", negatives
    else:
        status, rule_id, deciding = Status.INDETERMINATE, "patient.no-usable-result", []
    rule = ck.rule(rule_id)
    col.fire(rule, f"{rule.rule.text} Deciding: {', '.join(_ids(deciding)) or 'none'}.")

    scores = [f.result.ihc_score for f in tissue if f.result.ihc_score is not None]
    ihc_score = max(scores, key=lambda s: s.rank) if scores else None

    ish_final = [f for f in tissue if f.ish is not None and f.ish.final]
    ish_amplified: bool | None = None
    if ish_final:
        ish_amplified = any(f.ish is not None and f.ish.outcome == "positive" for f in ish_final)
    ngs_results = [f.ngs.result for f in findings if f.ngs is not None]
    ngs_amplified: bool | None = None
    if any(r.amplification is Amplification.AMPLIFIED for r in ngs_results):
        ngs_amplified = True
    elif any(r.amplification in (Amplification.NOT_AMPLIFIED, Amplification.GAIN) for r in ngs_results):
        ngs_amplified = False
    erbb2_amplified: bool | None
    if ish_amplified or ngs_amplified:
        erbb2_amplified = True
    elif ish_amplified is False or ngs_amplified is False:
        erbb2_amplified = False
    else:
        erbb2_amplified = None
    if ngs_amplified and not ish_amplified and status is not Status.POSITIVE:
        col.fire(ck.rule("patient.ngs-supports"))

    activating: list[str] = []
    kinase: list[str] = []
    vus: list[str] = []
    vus_kinase: list[str] = []
    for f in findings:
        if f.ngs is None:
            continue
        for target, found in ((activating, f.ngs.activating), (kinase, f.ngs.kinase_domain_activating),
                              (vus, f.ngs.unknown_significance), (vus_kinase, f.ngs.unknown_kinase)):
            target.extend(v for v in found if v not in target)

    category, categories, comment = _breast_category(tissue, ck, col)
    pan_tumor, pan_tumor_basis = pan_tumor_3plus(
        [(f.specimen.id, f.status, f.gastric_3plus) for f in tissue if f.ihc is not None], status, col
    )
    basis = _basis(status, deciding, ihc_score, activating, erbb2_amplified)
    needs: list[Need] = []
    if status not in (Status.POSITIVE, Status.NEGATIVE):
        for f in deciding:
            needs.extend(n for n in f.result.needs if n not in needs)
        if not needs:
            needs.append(build(Need, field="specimens", reason=(
                "an adequate tissue specimen (biopsy or resection) with a HER2 IHC or ISH result")))
    return build(Her2Summary,
        status=status,
        ihc_score=ihc_score,
        category=category,
        erbb2_activating_mutations=activating,
        erbb2_kinase_domain_mutations=kinase,
        erbb2_variants_unknown_significance=vus,
        erbb2_vus_kinase_domain=vus_kinase,
        erbb2_amplified=erbb2_amplified,
        ish_amplified=ish_amplified,
        ngs_amplified=ngs_amplified,
        pan_tumor_ihc_3plus=pan_tumor,
        pan_tumor_ihc_basis=pan_tumor_basis,
        basis=basis,
        needs=needs,
        deciding_specimens=_ids(deciding),
        specimen_categories=categories,
        category_comment=comment,
    )


def _breast_category(
    tissue: Sequence[SpecimenFinding], ck: CompiledKnowledge, col: Collector
) -> tuple[Category | None, list[SpecimenCategory], str | None]:
    breast = [f for f in tissue if ck.systems[f.result.scoring_system].system.breast_categories]
    if not breast:
        return None, [], None
    ordered = breast  # tissue is in date order (integrate)
    listed = [build(SpecimenCategory, specimen=f.specimen.id, category=f.result.category,
                                               collected_on=f.specimen.collected_on) for f in ordered]
    determined = [f for f in ordered if f.result.category is not None]
    if not determined:
        return None, listed, None
    latest = determined[-1]
    rule = ck.rule("patient.breast-category-most-recent")
    col.fire(rule, f"Category {latest.result.category} from specimen {latest.specimen.id}.")
    comment = (
        "ASCO/CAP 2023: distinguishing IHC 0 from 1+ is now clinically relevant (trastuzumab deruxtecan "
        "eligibility for HER2-low; HER2-ultralow per the FDA label), without new result categories."
    )
    return latest.result.category, listed, comment


def _basis(
    status: Status, deciding: Sequence[SpecimenFinding], ihc: IhcScore | None, activating: list[str],
    amplified: bool | None,
) -> str:
    if deciding:
        parts = [f"{f.specimen.id}: {f.result.basis}" for f in deciding]  # in date order (integrate)
        text = f"HER2 {status.value}: " + "; ".join(parts)
    else:
        text = "HER2 status indeterminate: no adequate tissue IHC/ISH result"
        if amplified:
            text += " (ERBB2 amplified by NGS, which supports but does not replace IHC/ISH)"
    if activating:
        text += f"; activating ERBB2 mutation(s): {', '.join(activating)}"
    return text + "."
