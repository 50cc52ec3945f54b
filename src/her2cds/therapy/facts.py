"""The typed facts therapy matching reads, built from a case and its HER2 summary.

``TherapyFacts`` is a frozen, hashable value: plain strings (the enum values), numbers, booleans and tuples.
Missing information stays ``None`` so that criteria can report *unknown* instead of *not met*.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from her2cds.model.enums import Procedure

if TYPE_CHECKING:
    from her2cds.model.assessment import Her2Summary
    from her2cds.model.case import Case

MutationTesting = Literal["tissue", "plasma_only", "none"]
# regimen settings that count as lines of therapy for advanced disease (maintenance continues a line)
LINE_SETTINGS = frozenset({"metastatic", "locally_advanced"})


@dataclass(frozen=True, slots=True)
class RegimenFact:
    """One prior regimen as matching reads it (``progressed``: stated, or implied by a date or stop reason)."""

    index: int
    agents: tuple[str, ...]
    setting: str | None = None
    line: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    progressed: bool | None = None
    progression_date: dt.date | None = None
    stopped_for: str | None = None

    def label(self) -> str:
        """E.g. ``THP (neoadjuvant, 2024-01-10 to 2024-05-02)``."""
        parts = [self.setting or "setting not reported"]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.start is not None or self.end is not None:
            start = self.start.isoformat() if self.start else "?"
            end = self.end.isoformat() if self.end else "?"
            parts.append(f"{start} to {end}")
        if self.progressed:
            parts.append("progressed" + (f" {self.progression_date.isoformat()}" if self.progression_date else ""))
        return f"{' + '.join(self.agents)} ({', '.join(parts)})"


@dataclass(frozen=True, slots=True)
class HistoryDerivation:
    """prior_lines / prior_agents as derived from ``history.regimens`` (None when not derivable)."""

    lines: int | None
    agents: tuple[str, ...]


def derive_history(regimens: Sequence[RegimenFact]) -> HistoryDerivation:
    """Lines for advanced disease and the agents received, from the regimens.

    A regimen with a ``line`` counts that line; one without counts as a line of its own; a regimen whose
    setting is not reported leaves the line count unknown.
    """
    agents: list[str] = []
    for reg in regimens:
        for agent in reg.agents:
            if agent not in agents:
                agents.append(agent)
    if any(reg.setting is None for reg in regimens):
        return HistoryDerivation(None, tuple(agents))
    advanced = [reg for reg in regimens if reg.setting in LINE_SETTINGS]
    numbered = {reg.line for reg in advanced if reg.line is not None}
    unnumbered = sum(1 for reg in advanced if reg.line is None)
    lines = max(len(numbered) + unnumbered, max(numbered, default=0))
    return HistoryDerivation(lines, tuple(agents))


@dataclass(slots=True, unsafe_hash=True)  # never changed after construction; hashable (not frozen: D14.13)
class TherapyFacts:
    """Everything therapy matching needs to know about one case.

    ``lineage`` is the OncoTree code and its ancestors, nearest first. ``prior_lines`` counts lines of
    systemic therapy for the current advanced disease; ``prior_agents`` lists every prior systemic agent or
    regimen (INN, brand or acronym, any case), including (neo)adjuvant treatment. A given agent list is taken
    as the complete history; ``prior_lines == 0`` means no prior therapy for advanced disease. ``regimens``
    (when given, the complete systemic history) carry settings, dates and progression; ``prior_lines`` and
    ``prior_agents`` are then derived from them unless reported (see :func:`facts_from`).
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
    regimens: tuple[RegimenFact, ...] = ()
    recurrence_date: dt.date | None = None
    surgery_date: dt.date | None = None
    pathologic_response: str | None = None
    assessed_on: dt.date | None = None

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


def regimen_facts(case: Case) -> tuple[RegimenFact, ...]:
    """The case's ``history.regimens`` as facts."""
    return tuple(
        RegimenFact(
            index=i, agents=tuple(r.agents), setting=_value(r.setting), line=r.line, start=r.start, end=r.end,
            progressed=r.progression, progression_date=r.progression_date, stopped_for=_value(r.stopped_for),
        )
        for i, r in enumerate(case.history.regimens)
    )


def facts_from(
    case: Case, her2: Her2Summary, lineage: Sequence[str], assessed_on: dt.date | None = None
) -> TherapyFacts:
    """Build the therapy facts of ``case`` from its validated input and its HER2 summary.

    With ``history.regimens``, ``prior_agents`` is the union of the reported agents and the regimens' agents,
    and ``prior_lines`` is the reported count or, when none is reported, the count derived from the regimens.
    ``assessed_on`` defaults to the case's own ``assessed_on``.
    """
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
    tumor, biomarkers = case.tumor, case.biomarkers
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
        **history_fields(case, assessed_on),
    )


def history_fields(case: Case, assessed_on: dt.date | None = None) -> dict[str, Any]:
    """The history part of the therapy facts (prior lines and agents derived from regimens when given)."""
    history = case.history
    regimens = regimen_facts(case)
    prior_lines, prior_agents = history.prior_lines, tuple(history.prior_agents)
    if regimens:
        derived = derive_history(regimens)
        prior_agents = (*derived.agents, *(a for a in prior_agents if a not in derived.agents))
        if prior_lines is None:
            prior_lines = derived.lines
    surgery = history.surgery
    return {
        "prior_lines": prior_lines,
        "prior_agents": prior_agents,
        "regimens": regimens,
        "recurrence_date": case.tumor.recurrence_date,
        "surgery_date": surgery.date if surgery else None,
        "pathologic_response": _value(surgery.pathologic_response) if surgery else None,
        "assessed_on": assessed_on or case.assessed_on,
    }


def history_notes(case: Case) -> list[tuple[str, str, str]]:
    """Inconsistencies in the history input, as (code, field, text) for input warnings; nothing is replaced."""
    history = case.history
    notes: list[tuple[str, str, str]] = []
    regimens = regimen_facts(case)
    if regimens:
        derived = derive_history(regimens)
        if history.prior_lines is not None and derived.lines is not None and history.prior_lines != derived.lines:
            notes.append((
                "history_disagreement", "history.prior_lines",
                f"prior_lines {history.prior_lines} disagrees with the {derived.lines} line(s) for advanced disease "
                "in history.regimens; the reported prior_lines is used.",
            ))
        extra = [a for a in history.prior_agents if a not in derived.agents]
        if extra:
            notes.append((
                "history_disagreement", "history.prior_agents",
                f"prior_agents {', '.join(repr(a) for a in extra)} are not in history.regimens; they are counted as "
                "received, without setting or dates.",
            ))
    surgery = history.surgery
    if (surgery is not None and surgery.pathologic_response is not None and regimens
            and not any(r.setting == "neoadjuvant" for r in regimens)):
        notes.append((
            "pathologic_response_without_neoadjuvant", "history.surgery.pathologic_response",
            f"pathologic_response {surgery.pathologic_response.value!r} is meaningful after neoadjuvant therapy; "
            "history.regimens has no neoadjuvant regimen.",
        ))
    return notes
