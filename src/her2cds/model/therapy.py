"""Output models of therapy matching: one :class:`TherapyOption` per HER2-directed indication considered.

Every option carries its eligibility criteria with a three-valued result (``met`` / ``not_met`` /
``unknown``), what is missing, the conditions the engine cannot check, the regulatory status per agency,
the pivotal evidence with the analysis each figure comes from, and the knowledge-base sources.

Two forms (docs/decisions.md D14.1, D14.5): the assessment's default output serializes each option in its
compact form, :class:`TherapySummary` (what the case decided: ``id``, ``title``, ``drugs``, ``eligible``,
``outcome``, the criterion results as ``{id: result}``, ``needs``, ``line_of_therapy``, ``alternatives``; empty
lists and nulls left out), because the rest is fixed indication text that is the same in every case and is
available once (``her2cds kb show ID``, ``/v1/knowledge/{id}``), or the criteria's reasons (``history_used``).
The engine still builds the full :class:`TherapyOption` (a subclass), which ``--expand`` / ``expand=therapies``
serialize exactly as before.

The models are frozen and use tuples, so an option can be shared safely between assessments.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

CriterionOutcome = Literal["met", "not_met", "unknown"]
OptionOutcome = Literal["eligible", "insufficient_data", "not_eligible"]
ApprovalKind = Literal["fda_approved", "guideline_supported_not_approved"]
EvidenceLevel = Literal["phase3_randomized", "phase2_randomized", "single_arm", "none"]
DatePrecision = Literal["day", "month", "year"]
KnowledgeStatus = Literal["verified", "unverified"]


class _TherapyOut(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class CriterionStatus(_TherapyOut):
    """The result of one eligibility criterion (compact form; the text is in the knowledge base)."""

    id: str = Field(description="criterion id, unique within its indication")
    result: CriterionOutcome


class CriterionResult(CriterionStatus):
    """One eligibility criterion of an indication, evaluated on the case (expanded form)."""

    text: str = Field(description="what the label or guideline requires")
    reason: str = Field(description="what the case shows, and why that gives this result")


def _criteria_map(criteria: tuple[CriterionStatus, ...]) -> dict[str, CriterionOutcome]:
    return {c.id: c.result for c in criteria}


def _criteria_from_map(value: Any) -> Any:
    """A compact document read back: ``{id: result}`` -> the criteria in their order."""
    if isinstance(value, dict):
        return tuple({"id": cid, "result": result} for cid, result in value.items())
    return value


def _empty(value: Any) -> bool:
    return not value


def _null(value: Any) -> bool:
    return value is None


#: the compact form's criteria: serialized as ``{"tumor": "met", "setting": "unknown", ...}`` (the indication's
#: order; criterion ids are unique within an indication), read back from that map or from the list form
CriteriaMap = Annotated[
    tuple[CriterionStatus, ...],
    BeforeValidator(_criteria_from_map),
    PlainSerializer(_criteria_map, return_type=dict[str, CriterionOutcome]),
]


class RegulatoryEvent(_TherapyOut):
    """A dated regulatory action on the indication (approval, conversion, restriction)."""

    date: dt.date | None
    date_precision: DatePrecision
    action: str
    sources: tuple[str, ...] = ()


class RegulatoryStatus(_TherapyOut):
    """The status of the indication with one agency: the FDA; with region eu also the EMA (EU)."""

    agency: Literal["FDA", "EMA"]
    status: Literal["accelerated", "regular", "conditional", "standard"] = Field(
        description="approval pathway currently in force: FDA accelerated|regular; EU conditional|standard "
        "marketing authorisation"
    )
    approval_date: dt.date | None = Field(description="date of the first approval of this indication")
    approval_date_precision: DatePrecision
    initial_status: Literal["accelerated", "regular", "conditional", "standard"] = Field(
        default="regular", description="pathway of the first approval"
    )
    regular_approval_date: dt.date | None = Field(
        default=None,
        description="when an accelerated (conditional) approval became regular (standard): conversion; null otherwise",
    )
    regular_approval_date_precision: DatePrecision | None = None
    label_wording: str = Field(description="paraphrase of the labelled indication; key terms kept exact")
    companion_diagnostics: tuple[str, ...] = ()
    history: tuple[RegulatoryEvent, ...] = ()
    sources: tuple[str, ...] = ()
    verification: KnowledgeStatus
    note: str | None = None


class KeyFigure(_TherapyOut):
    """One efficacy figure, tied to the analysis and population it comes from."""

    endpoint: str = Field(description="ORR, PFS, OS, DOR, pCR, iDFS, TTP ...")
    population: str
    value: str = Field(description="the figure as reported, e.g. '40.5% vs 11.3%' or '12.5 vs 8.4 months'")
    hazard_ratio: float | None = None
    ci: str | None = Field(default=None, description="confidence interval as reported, with its level")
    analysis: str = Field(description="which analysis (primary, interim, final, label) the figure is from")
    basis: Literal["fda_label", "publication"]
    sources: tuple[str, ...] = ()
    status: KnowledgeStatus


class Evidence(_TherapyOut):
    """A pivotal or supporting trial of the indication with its key figures."""

    trial: str = Field(description="knowledge-base id of the trial")
    name: str
    nct: str | None
    phase: str
    design: str
    role: Literal["pivotal", "supporting"]
    figures: tuple[KeyFigure, ...] = ()
    caveats: tuple[str, ...] = Field(
        default=(), description="how the trial population differs from the label; evidence context, never a criterion"
    )
    sources: tuple[str, ...] = ()


class TherapySummary(_TherapyOut):
    """One HER2-directed therapy indication considered for the case, compact form (the default output).

    The indication's fixed text (regimen, regulatory status, evidence, sources, criterion texts ...) is the
    knowledge-base entry ``id`` (``her2cds kb show ID``); the criteria's reasons (``history_used`` among them)
    are in the expanded form; ``--expand`` / ``expand=therapies`` put both inline (:class:`TherapyOption`).
    Empty lists and nulls are left out of the compact form (absent ``needs`` = nothing missing).
    """

    id: str = Field(description="knowledge-base id of the indication (her2cds kb show ID)")
    title: str
    drugs: tuple[str, ...] = Field(description="the regimen's named drugs by INN, lowercase")
    eligible: bool = Field(description="true only when every criterion is met")
    outcome: OptionOutcome = Field(
        description="eligible; insufficient_data (nothing failed but something is unknown); not_eligible"
    )
    criteria: CriteriaMap = Field(
        description="each criterion's result by criterion id, in the indication's order, e.g. "
        "{\"tumor\": \"met\", \"setting\": \"unknown\"} (texts: her2cds kb show ID)"
    )
    needs: tuple[str, ...] = Field(
        default=(), exclude_if=_empty,
        description="information missing to decide the unknown criteria (left out when nothing is missing)",
    )
    line_of_therapy: str | None = Field(
        default=None, exclude_if=_null,
        description="the line this option would be on the case's history, e.g. 'second line, after THP (...)'",
    )
    history_used: tuple[str, ...] = Field(
        default=(), exclude=True,
        description="expanded form only: the reasons of the criteria that read the treatment history",
    )
    alternatives: tuple[str, ...] = Field(
        default=(), exclude_if=_empty,
        description="when not eligible: up to three eligible option ids covering one of its settings (left out "
        "when none)",
    )
    region_status: str | None = Field(
        default=None, exclude_if=_null,
        description="with region eu: the EU regulatory status, e.g. 'EU: conditional marketing authorisation "
        "2021-01-18 (EMA)' or 'EU: no EU marketing authorisation recorded'; left out in the default region us",
    )


class TherapyOption(TherapySummary):
    """One HER2-directed therapy indication considered for the case, expanded form (every field inline, empty
    ones included: the document ``--expand`` has always printed)."""

    criteria: tuple[CriterionResult, ...] = Field(
        description="each criterion's id, result, text and reason"
    )
    needs: tuple[str, ...] = Field(default=(), description="information missing to decide the unknown criteria")
    line_of_therapy: str | None = Field(
        default=None,
        description="the line this option would be on the case's history, e.g. 'second line, after THP (...)'",
    )
    history_used: tuple[str, ...] = Field(
        default=(), description="the treatment-history facts the criteria read, as '<criterion id>: <reason>'"
    )
    alternatives: tuple[str, ...] = Field(
        default=(), description="when not eligible: up to three eligible option ids covering one of its settings"
    )
    region_status: str | None = Field(
        default=None,
        description="with region eu: the EU regulatory status, e.g. 'EU: conditional marketing authorisation "
        "2021-01-18 (EMA)' or 'EU: no EU marketing authorisation recorded'; null for the default region us",
    )
    regimen: str = Field(description="the regimen as labelled, e.g. 'zanidatamab monotherapy'")
    approval_kind: ApprovalKind
    conditions_to_confirm: tuple[str, ...] = Field(
        default=(), description="label conditions the engine cannot check; never assumed"
    )
    line: str = Field(description="line of therapy, e.g. 'first line', 'previously treated'")
    setting: tuple[str, ...] = Field(description="disease settings the indication covers")
    tumor_scope: str
    evidence_level: EvidenceLevel
    regulatory: tuple[RegulatoryStatus, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    sources: tuple[str, ...] = ()
    status: KnowledgeStatus
