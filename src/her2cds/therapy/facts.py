"""The typed facts therapy matching reads, built from a case and its HER2 summary.

``TherapyFacts`` is a frozen, hashable value: plain strings (the enum values), numbers, booleans and tuples.
Missing information stays ``None`` so that criteria can report *unknown* instead of *not met*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from her2cds.model.enums import Procedure

if TYPE_CHECKING:
    from her2cds.model.assessment import Her2Summary
    from her2cds.model.case import Case

MutationTesting = Literal["tissue", "plasma_only", "none"]


@dataclass(frozen=True, slots=True)
class TherapyFacts:
    """Everything therapy matching needs to know about one case.

    ``lineage`` is the OncoTree code and its ancestors, nearest first. ``prior_lines`` counts lines of
    systemic therapy for the current advanced disease; ``prior_agents`` lists every prior systemic agent or
    regimen (INN, brand or acronym, any case), including (neo)adjuvant treatment. A given agent list is taken
    as the complete history; ``prior_lines == 0`` means no prior therapy for advanced disease.
    """

    tumor_code: str
    lineage: tuple[str, ...]
    setting: str | None = None
    histology: str | None = None
    her2_status: str | None = None
    ihc_score: str | None = None
    pan_tumor_ihc_3plus: bool | None = None  # IHC 3+ on the gastric criteria (tumor-agnostic label), D8.3
    pan_tumor_ihc_basis: str | None = None
    category: str | None = None
    ish_amplified: bool | None = None
    ngs_amplified: bool | None = None
    erbb2_amplified: bool | None = None
    activating_mutations: tuple[str, ...] = ()
    kinase_domain_mutations: tuple[str, ...] = ()
    unclassified_variants: tuple[str, ...] = ()  # ERBB2 variants of unknown significance (D8.9)
    unclassified_kinase_variants: tuple[str, ...] = ()  # ... that are, or may be, in the kinase domain
    reported_variants: tuple[str, ...] = ()
    mutation_testing: MutationTesting = "none"
    pd_l1_cps: float | None = None
    kras: str | None = None
    nras: str | None = None
    hormone_receptor: str | None = None
    prior_lines: int | None = None
    prior_agents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.lineage or self.lineage[0] != self.tumor_code:
            raise ValueError("lineage must start with the tumor code itself")
        if self.pan_tumor_ihc_basis is None and self.ihc_score is not None:
            # facts given directly (not from an assessment): the IHC score is taken as read on the gastric criteria
            three = self.ihc_score == "3+" and self.her2_status != "negative"
            object.__setattr__(self, "pan_tumor_ihc_3plus", three)
            object.__setattr__(self, "pan_tumor_ihc_basis", f"HER2 IHC {self.ihc_score}")


def _value(x: StrEnum | None) -> str | None:
    return None if x is None else x._value_


def facts_from(case: Case, her2: Her2Summary, lineage: Sequence[str]) -> TherapyFacts:
    """Build the therapy facts of ``case`` from its validated input and its HER2 summary."""
    tissue_ngs = plasma_ngs = False
    variants: list[str] = []
    for specimen in case.specimens:
        ngs = specimen.ngs
        if ngs is None:
            continue
        if specimen.procedure is Procedure.PLASMA:
            plasma_ngs = True
        else:
            tissue_ngs = True
        for variant in ngs.erbb2_variants:
            if variant not in variants:
                variants.append(variant)
    testing: MutationTesting = "tissue" if tissue_ngs else "plasma_only" if plasma_ngs else "none"
    code = case.tumor.oncotree_code
    chain = tuple(lineage) if lineage else (code,)
    if chain[0] != code:
        chain = (code, *chain)
    tumor, biomarkers, history = case.tumor, case.biomarkers, case.history
    return TherapyFacts(
        tumor_code=code, lineage=chain, setting=_value(tumor.setting), histology=tumor.histology,
        her2_status=_value(her2.status), ihc_score=_value(her2.ihc_score),
        pan_tumor_ihc_3plus=her2.pan_tumor_ihc_3plus, pan_tumor_ihc_basis=her2.pan_tumor_ihc_basis,
        category=_value(her2.category),
        ish_amplified=her2.ish_amplified, ngs_amplified=her2.ngs_amplified, erbb2_amplified=her2.erbb2_amplified,
        activating_mutations=tuple(her2.erbb2_activating_mutations),
        kinase_domain_mutations=tuple(her2.erbb2_kinase_domain_mutations), reported_variants=tuple(variants),
        unclassified_variants=tuple(her2.erbb2_variants_unknown_significance),
        unclassified_kinase_variants=tuple(her2.erbb2_vus_kinase_domain),
        mutation_testing=testing, pd_l1_cps=biomarkers.pd_l1_cps, kras=_value(biomarkers.kras),
        nras=_value(biomarkers.nras), hormone_receptor=_value(biomarkers.hormone_receptor),
        prior_lines=history.prior_lines, prior_agents=tuple(history.prior_agents),
    )
