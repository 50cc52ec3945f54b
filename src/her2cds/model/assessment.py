"""The output contract: one assessment of one case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_serializer

from her2cds.model._build import build
from her2cds.model.enums import Amplification, Category, IhcScore, Probe, Procedure, Site, Status
from her2cds.model.therapy import TherapyOption, TherapySummary


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _null(value: Any) -> bool:
    return value is None


class TraceStep(_Out):
    """One rule that fired, compact form (the default output, D14.5, D14.11): the rule's id and what the case adds
    to the rule's fixed text (``values``); the text and the sources are the rule's knowledge-base entry
    (``her2cds kb show RULE``), so they are left out, as is a null ``specimen`` (a patient-level rule).
    ``--expand`` / ``expand=therapies`` restore the whole ``detail`` and the sources (:class:`TraceEntry`)."""

    rule: str = Field(description="knowledge-base id of the rule that fired (her2cds kb show RULE: text, sources)")
    sources: tuple[str, ...] = Field(default=(), exclude=True, description="expanded form only")
    detail: str = Field(
        default="", exclude=True,
        description="expanded form only (empty when read back from a compact document): the rule's text and values",
    )
    values: str | None = Field(
        default=None, exclude_if=_null,
        description="what the case adds to the rule's text: the detail without the rule's text (kb show RULE) and "
        "the space after it; the whole detail when it does not start with the rule's text; left out when the "
        "detail is exactly the rule's text",
    )
    specimen: str | None = Field(
        default=None, exclude_if=_null, description="the specimen the rule read (left out for a patient-level rule)"
    )


class TraceEntry(TraceStep):
    """One rule that fired, expanded form (what the engine builds; every field inline)."""

    sources: tuple[str, ...] = Field(description="knowledge-base ids of the rule's sources")
    detail: str = Field(description="what the rule found on this case: its text, with the case's values")
    values: str | None = Field(default=None, exclude=True, description="compact form only")
    specimen: str | None = None


class RecommendationStep(_Out):
    """A recommendation, compact form (D14.11): its code and what the case adds to the code's fixed text (the
    code's text and sources: docs/codes.md, her2cds kb show rec.*); ``--expand`` restores them
    (:class:`Recommendation`)."""

    code: str
    text: str = Field(default="", exclude=True,
                      description="expanded form only (empty when read back from a compact document)")
    detail: str | None = Field(
        default=None, exclude_if=_null,
        description="what the case adds to the code's text (left out when nothing)",
    )
    specimen: str | None = None
    sources: list[str] = Field(default=[], exclude=True, description="expanded form only")


class Recommendation(RecommendationStep):
    """A recommendation, expanded form (what the engine builds)."""

    text: str = Field(description="the code's text, then what the case adds")
    detail: str | None = Field(default=None, exclude=True, description="compact form only")
    sources: list[str] = []


class FlagStep(_Out):
    """A flag, compact form (D14.11): its code, what the case adds to the code's fixed text and the specimens
    (the code's text: docs/codes.md, her2cds kb show flag.*); ``--expand`` restores the text (:class:`Flag`)."""

    code: str
    text: str = Field(default="", exclude=True,
                      description="expanded form only (empty when read back from a compact document)")
    detail: str | None = Field(
        default=None, exclude_if=_null,
        description="what the case adds to the code's text (left out when nothing)",
    )
    specimens: list[str] = []


class Flag(FlagStep):
    """A flag, expanded form (what the engine builds)."""

    text: str = Field(description="the code's text, then what the case adds")
    detail: str | None = Field(default=None, exclude=True, description="compact form only")


class Need(_Out):
    """What a non-final result waits for: the input field path to fill in, and why."""

    field: str = Field(description="input field path, e.g. specimens[0].ish.her2_per_cell")
    reason: str


class IhcResult(_Out):
    score: IhcScore | None = Field(description="the guideline's IHC score (null where the guideline gives none)")
    intensity: IhcScore | None = Field(
        default=None, description="strongest staining observed on the 0-3+ scale whatever its extent (not a score)"
    )
    status: Status
    derived_from: Literal["reported", "percent", "cluster", "qualitative"]
    rule: str
    reported_score: IhcScore | None = None
    derived_score: IhcScore | None = Field(
        default=None, description="the score the guideline gives for the reported percentages or cluster sizes"
    )
    gastric_criteria_score: IhcScore | None = Field(
        default=None,
        description="the score on the gastric criteria (resection >=10%, biopsy cluster >=5 cells), as the "
        "tumor-agnostic trastuzumab deruxtecan label (DESTINY-PanTumor02) scores IHC; null when undetermined",
    )


class IshResult(_Out):
    probe: Probe
    ratio: float | None
    her2_per_cell: float | None
    her2_per_cell_derived: str | None = Field(
        default=None, description="HER2 per cell derived from ratio x CEP17 (an interval at recorded precision)"
    )
    group: int | None
    status: Status
    final: bool
    rule: str
    recount_group: int | None = None


class VariantResult(_Out):
    input: str
    hgvs_p: str | None = Field(description="normalised one-letter HGVS protein notation")
    knowledge_id: str | None
    known: bool
    activating: bool | None = Field(description="biology: activating/oncogenic; null = unknown significance")
    kinase_domain: bool | None
    domain: str | None = None
    label_sets: list[str] = Field(default=[], description="verified label/companion-test sets the variant is in")


class NgsResult(_Out):
    amplification: Amplification
    copy_number: float | None = None
    tumor_fraction: float | None = None
    variants: list[VariantResult] = []
    informative: bool = True


class SpecimenResult(_Out):
    id: str
    procedure: Procedure
    site: Site | None
    site_detail: str | None = None
    collected_on: dt.date | None = None
    scoring_system: str
    ihc_score: IhcScore | None
    ish_group: int | None
    status: Status
    category: Category | None = None
    basis: str
    adequate: bool = True
    needs: list[Need] = Field(default=[], description="what a non-final result waits for")
    ihc: IhcResult | None = None
    ish: IshResult | None = None
    ngs: NgsResult | None = None


class SpecimenCategory(_Out):
    specimen: str
    category: Category | None
    collected_on: dt.date | None = None


class Her2Summary(_Out):
    status: Status
    ihc_score: IhcScore | None
    category: Category | None
    erbb2_activating_mutations: list[str] = []
    erbb2_kinase_domain_mutations: list[str] = []
    erbb2_variants_unknown_significance: list[str] = Field(
        default=[], description="ERBB2 variants not classified (not listed, unverified entry, or open biology)"
    )
    erbb2_vus_kinase_domain: list[str] = Field(
        default=[], description="the unclassified variants that are, or may be, in the tyrosine kinase domain"
    )
    erbb2_amplified: bool | None = Field(
        default=None, description="ERBB2 amplified by ISH or NGS in any adequate specimen (NGS gain is not)"
    )
    ish_amplified: bool | None = Field(default=None, description="ISH positive in any adequate tissue specimen")
    ngs_amplified: bool | None = Field(default=None, description="NGS amplification call (tissue or plasma)")
    pan_tumor_ihc_3plus: bool | None = Field(
        default=None,
        description="IHC 3+ on the gastric criteria in an adequate specimen (tumor-agnostic trastuzumab deruxtecan "
        "label); null when undetermined or when the tumor's own guideline calls that specimen negative",
    )
    pan_tumor_ihc_basis: str | None = None
    basis: str
    needs: list[Need] = Field(default=[], description="what a non-final status waits for")
    deciding_specimens: list[str] = []
    specimen_categories: list[SpecimenCategory] = []
    category_comment: str | None = None


class TumorSummary(_Out):
    oncotree_code: str
    name: str
    family: str
    scoring_system: str
    scoring_fallback: bool = Field(description="true when no tumor-specific guideline exists and a fallback is used")
    setting: str | None = None


class InputWarning(_Out):
    """Something in the input that was not used (e.g. an unmapped FHIR resource), never silently dropped."""

    code: str
    text: str
    field: str | None = None


class Versions(_Out):
    engine: str
    knowledge_base: str
    as_of: dt.date
    oncotree: str


CriteriaStatus = Literal["positive", "negative", "equivocal", "unknown"]


class CriteriaSpecimen(_Out):
    """One specimen re-read under a guideline's criteria (the case's ``criteria``)."""

    id: str
    criteria: str | None = Field(
        description="the guideline whose criteria read the specimen (by-date: the one in effect on its date)"
    )
    status: CriteriaStatus
    rule: str | None = Field(default=None, description="the knowledge-base rule that gave the status")
    current_status: Status = Field(description="the specimen's status under the current guideline")
    reason: str
    needs: list[Need] = []


class CriteriaReading(_Out):
    """The case re-read under superseded criteria, to explain historical records (never replaces ``her2``)."""

    requested: str = Field(description="the case's criteria: a guideline id or by-date")
    status: CriteriaStatus = Field(
        description="the first specimen's (input order) status with a known outcome; unknown when none"
    )
    specimen: str | None = Field(default=None, description="the specimen that gave the status")
    criteria: str | None = Field(default=None, description="the guideline that gave the status")
    unverified: bool = Field(default=False, description="unverified knowledge-base entries were used (opt-in)")
    specimens: list[CriteriaSpecimen] = []
    needs: list[Need] = []


def _considered(options: list[TherapySummary]) -> list[TherapySummary]:
    """The compact ``therapies``: the options still in play (eligible or undecided); the ruled-out ones are in
    ``ruled_out`` (D14.9)."""
    return [option for option in options if option.outcome != "not_eligible"]


#: the compact form's options: every option in memory; serialized without the ruled-out ones (D14.9)
ConsideredOptions = Annotated[list[TherapySummary], PlainSerializer(_considered, return_type=list[TherapySummary])]


class Assessment(_Out):
    # what a person reads first leads: the id, the HER2 result, then what to do and what to check
    id: str | None = None
    her2: Her2Summary
    tumor: TumorSummary
    recommendations: list[RecommendationStep] = Field(
        description="what to do next (compact: code, what the case adds, specimen; the code's text: docs/codes.md)"
    )
    flags: list[FlagStep] = Field(
        description="what to check (compact: code, what the case adds, specimens; the code's text: docs/codes.md)"
    )
    warnings: list[InputWarning] = []
    specimens: list[SpecimenResult]
    criteria: CriteriaReading | None = Field(
        default=None, description="the re-reading under superseded criteria, when the case asked for one"
    )
    therapies: ConsideredOptions = Field(
        default=[],
        description="compact therapy options that are eligible or undecided (ruled-out ones: ruled_out); the "
        "indication text is in the knowledge base (by id)",
    )
    ruled_out: dict[str, tuple[str, ...]] = Field(
        default={},
        description="the options not eligible, compact: indication id -> the ids of the criteria it does not meet, "
        "in the options' order (title, drugs, every criterion's result: her2cds kb show ID or the expanded form)",
    )
    trace: list[TraceStep] = Field(
        description="the rules that fired, in order (compact: rule id, what the case adds to the rule's text, "
        "specimen; the rule's text and sources by rule id)"
    )
    assessed_on: dt.date | None = Field(
        default=None, description="the date the case was assessed on (the input's assessed_on, else the day of the run)"
    )
    versions: Versions
    disclaimer: str

    @field_serializer("ruled_out")
    def _ruled_out(self, value: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
        """The ruled-out options (D14.9): those read back from a compact document, then those among ``therapies``
        (an assessment the engine built holds every option in ``therapies``)."""
        out = {key: list(ids) for key, ids in value.items()}
        for option in self.therapies:
            if option.outcome == "not_eligible":
                out[option.id] = [c.id for c in option.criteria if c.result == "not_met"]
        return out

    def expanded(self) -> ExpandedAssessment:
        """The same assessment with every therapy option and trace entry in its full form (``--expand``,
        ``expand=therapies``): the document the default output was before D14.1 / D14.5.

        The engine builds full options and entries, so this copies no data: only the declared (serialized) type
        changes. An option or entry built in the compact form only cannot be expanded and raises ``TypeError``.
        """
        parts: tuple[tuple[str, Sequence[BaseModel], type[BaseModel], str], ...] = (
            ("therapy option", self.therapies, TherapyOption, "id"), ("trace entry", self.trace, TraceEntry, "rule"),
            ("recommendation", self.recommendations, Recommendation, "code"), ("flag", self.flags, Flag, "code"),
        )
        for kind, items, full, name in parts:
            for item in items:
                if not isinstance(item, full):
                    raise TypeError(f"{kind} {getattr(item, name)!r} has no expanded form")
        return build(ExpandedAssessment, **self.__dict__)


class ExpandedAssessment(Assessment):
    """An assessment whose therapy options carry the indication text inline (regulatory, evidence, sources,
    criterion texts and reasons), whose trace entries carry their whole detail and sources, and whose
    recommendations and flags carry their text (and sources)."""

    therapies: list[TherapyOption] = Field(  # type: ignore[assignment]
        default=[], description="full therapy options, ruled-out ones included (regulatory status, evidence, "
        "sources inline)"
    )
    ruled_out: dict[str, tuple[str, ...]] = Field(default={}, exclude=True,
                                                  description="compact form only: every option is in therapies")
    trace: list[TraceEntry] = Field(  # type: ignore[assignment]
        description="the rules that fired, in order, with their sources"
    )
    recommendations: list[Recommendation]  # type: ignore[assignment]
    flags: list[Flag]  # type: ignore[assignment]
