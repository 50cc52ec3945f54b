"""Testing advisor: what to test next, given the tumor, the setting and what has been tested."""

from __future__ import annotations

import re
from collections.abc import Sequence

from her2cds.knowledge.schema import Family, TestingIndication
from her2cds.model.assessment import Her2Summary
from her2cds.model.case import Case
from her2cds.model.enums import Procedure, Status
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge
from her2cds.rules.specimen import SpecimenFinding

ANTI_HER2_CLASS = "drug-class.anti-her2"  # a drug-class id of knowledge/data/therapy/drugs.yaml


def stage_group(stage: str | None) -> str | None:
    """The AJCC stage group of a stage (``IIIB`` -> ``III``, ``0is`` -> ``0``)."""
    if stage is None:
        return None
    match = re.match(r"^(0|IV|III|II|I)", stage)
    return match.group(1) if match else None


def find_indication(
    ck: CompiledKnowledge, family: Family, lineage: Sequence[str], setting: str, stage: str | None = None
) -> TestingIndication | None:
    group = stage_group(stage)
    for ind in ck.testing.get((family.id, setting), ()):  # most specific (stage, then roots) first
        if ind.stages and group not in ind.stages:
            continue
        if not ind.roots or any(code in ind.roots for code in lineage):
            return ind
    return None


def testing_roots(ck: CompiledKnowledge) -> frozenset[str]:
    """Every OncoTree code :func:`find_indication` compares a case's lineage with (the indications' roots): the
    only part of the tumor, besides its family, that the testing advice reads."""
    return frozenset(code for inds in ck.testing.values() for ind in inds for code in ind.roots)


def advise(
    case: Case, family: Family, lineage: Sequence[str], findings: Sequence[SpecimenFinding], her2: Her2Summary,
    ck: CompiledKnowledge, col: Collector,
) -> None:
    setting = case.tumor.setting.value if case.tumor.setting else "unknown"
    indication = find_indication(ck, family, lineage, setting, case.tumor.stage)
    tissue_ihc_ish = [f for f in findings if f.usable_tissue and (f.ihc is not None or f.ish is not None)]
    any_ngs = any(f.ngs is not None for f in findings)
    plasma_only = bool(findings) and all(f.is_plasma for f in findings)
    if indication is not None:
        unknown_setting = setting == "unknown" and "early" not in indication.settings
        detail = "(Setting not given: this applies to advanced disease.)" if unknown_setting else None
        col.record(indication.id, tuple(r.id for r in indication.sources),
                   indication.text + (f" {detail}" if detail else ""), text=indication.text)
        if not indication.indicated:
            if not tissue_ihc_ish and not any_ngs:
                col.recommend("her2_testing_not_indicated", detail=None)
        else:
            if "ihc_ish" in indication.modalities and not tissue_ihc_ish:
                if her2.ngs_amplified:
                    col.recommend("ihc_ish_confirmation")
                elif not plasma_only:
                    col.recommend("her2_testing", detail=detail)
            if "ngs_mutation" in indication.modalities and not any_ngs:
                col.recommend("ngs", detail=detail)
            tissue_ihc = any(f.usable_tissue and f.ihc is not None for f in findings)
            if "ihc_ish" not in indication.modalities and her2.ngs_amplified and not tissue_ihc:
                col.recommend("ihc_tumor_agnostic")  # e.g. NSCLC with ERBB2 amplification by NGS (issue 8)
    if not family.guideline_specific and case.tumor.scoring_system is None and (
        tissue_ihc_ish or col.has_recommendation("her2_testing")
    ):
        col.recommend("gastric_criteria")
    plasma_amplified_only = her2.ngs_amplified and not tissue_ihc_ish and any(f.is_plasma for f in findings)
    plasma_needs_tissue = plasma_only or plasma_amplified_only
    if plasma_needs_tissue and not col.has_recommendation("tissue_confirmation"):
        col.recommend("tissue_confirmation")
    if indication is not None and indication.retest_after_her2_therapy and _had_anti_her2(case, ck) and not any(
        f.specimen.after_her2_therapy for f in findings if f.usable_tissue
    ):
        col.recommend("retest_after_her2_therapy")
    if (
        family.id == "family.gastroesophageal"
        and her2.status in (Status.NEGATIVE, Status.EQUIVOCAL)
        and tissue_ihc_ish
        and all(f.specimen.procedure is Procedure.BIOPSY for f in tissue_ihc_ish)
    ):
        col.recommend("multiple_biopsy_fragments")


def _had_anti_her2(case: Case, ck: CompiledKnowledge) -> bool:
    """Whether the history names any anti-HER2 agent (by the therapy knowledge's drug classes)."""
    tk = ck.kb.therapy
    if tk is None or not case.history.prior_agents:
        return False
    return ANTI_HER2_CLASS in tk.drugs.resolve(case.history.prior_agents).by_class
