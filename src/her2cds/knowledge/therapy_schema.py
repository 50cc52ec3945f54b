"""Pydantic schema of the therapy knowledge files (``knowledge/data/therapy/*.yaml``), ``extra="forbid"``.

* ``drugs.yaml``: drug classes, drugs (INN, aliases, classes) and regimen acronyms.
* ``indications.yaml``: tumor sets, histology mapping and indications with eligibility criteria.
* ``trials.yaml``: trials with arms and key figures.
* ``sources.yaml``: the sources these files cite (merged with every other ``sources*.yaml``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from her2cds.knowledge import schema
from her2cds.knowledge.schema import EntryId, SourceRef, Status

Operator = Literal[">=", ">", "<", "<=", "=="]

# Fact types a criterion may test. Each has exactly one parameter form (see Criterion).
FactName = Literal[
    "setting",
    "her2.status",
    "her2.ihc_score",
    "her2.ihc_3plus_gastric_criteria",
    "her2.category",
    "her2.ish_amplified",
    "her2.ngs_amplified",
    "her2.erbb2_amplified",
    "her2.activating_mutation",
    "her2.kinase_domain_mutation",
    "biomarker.pd_l1_cps",
    "biomarker.kras",
    "biomarker.nras",
    "biomarker.hormone_receptor",
    "histology.squamous",
    "history.prior_lines",
    "history.prior_class",
    "history.prior_systemic_therapy",
    "history.regimen_count",
    "history.early_relapse",
    "history.residual_disease",
    "history.progressed_on",
]

SET_FACTS: frozenset[str] = frozenset(
    {
        "setting",
        "her2.status",
        "her2.ihc_score",
        "her2.category",
        "biomarker.kras",
        "biomarker.nras",
        "biomarker.hormone_receptor",
    }
)
BOOL_FACTS: frozenset[str] = frozenset(
    {
        "her2.ihc_3plus_gastric_criteria",
        "her2.ish_amplified",
        "her2.ngs_amplified",
        "her2.erbb2_amplified",
        "her2.activating_mutation",
        "her2.kinase_domain_mutation",
        "histology.squamous",
        "history.prior_systemic_therapy",
        "history.residual_disease",
    }
)
NUMBER_FACTS: frozenset[str] = frozenset({"biomarker.pd_l1_cps", "history.prior_lines"})
CLASS_FACTS: frozenset[str] = frozenset({"history.prior_class"})

# fact → (required parameters, optional parameters); parameter names as written in YAML
_FORMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    **{f: (frozenset({"in"}), frozenset()) for f in SET_FACTS},
    **{f: (frozenset({"equals"}), frozenset()) for f in BOOL_FACTS},
    **{f: (frozenset({"op", "value"}), frozenset()) for f in NUMBER_FACTS},
    "history.prior_class": (frozenset({"classes"}), frozenset({"settings"})),
    "history.regimen_count": (frozenset({"classes", "op", "value"}), frozenset({"settings"})),
    "history.early_relapse": (frozenset({"classes", "months"}), frozenset({"settings"})),
    "history.progressed_on": (frozenset({"drugs"}), frozenset()),
}

RegimenSettingName = Literal["neoadjuvant", "adjuvant", "metastatic", "locally_advanced", "maintenance"]
Setting = Literal["early", "locally_advanced", "metastatic"]
ShortText = Annotated[str, Field(min_length=1, max_length=400)]


class _KB(schema._KB, BaseModel):  # BaseModel named so linters see a pydantic model
    """The knowledge layer's base model, also filled by field name where a field has a YAML alias."""

    model_config = ConfigDict(populate_by_name=True)


class Entry(schema.Entry, _KB):
    """A therapy-knowledge entry: the knowledge layer's entry (id, sources, status, note)."""


# --------------------------------------------------------------------------------------------- drugs
class DrugClass(Entry):
    name: str
    parents: list[EntryId] = []


class Drug(Entry):
    inn: Annotated[str, Field(pattern=r"^[a-z][a-z0-9 -]*[a-z0-9]$", max_length=80)]
    classes: Annotated[list[EntryId], Field(min_length=1)]
    aliases: list[str] = Field(default=[], description="brand names, code names, abbreviations (any case)")


class Regimen(Entry):
    name: str = Field(description="the acronym as usually written, e.g. FOLFOX")
    aliases: list[str] = []
    drugs: list[str] = Field(default=[], description="component drugs by INN")
    classes: list[EntryId] = Field(default=[], description="components named only by class (e.g. the taxane of THP)")

    @model_validator(mode="after")
    def _has_components(self) -> Self:
        if not self.drugs and not self.classes:
            raise ValueError(f"regimen {self.id} names no component")
        return self


class DrugsFile(_KB):
    classes: list[DrugClass]
    drugs: list[Drug]
    regimens: list[Regimen]


# ------------------------------------------------------------------------------------------- trials
class TrialArm(_KB):
    label: str
    drugs: list[str] = Field(default=[], description="drugs by INN; empty for placebo or observation")


class TrialResult(_KB):
    id: EntryId
    endpoint: str
    population: str
    value: str
    hazard_ratio: float | None = None
    ci: str | None = None
    analysis: str
    basis: Literal["fda_label", "publication"]
    sources: Annotated[list[SourceRef], Field(min_length=1)]
    status: Status
    note: str | None = None


class Trial(Entry):
    name: str
    nct: Annotated[str, Field(pattern=r"^NCT\d{8}$")] | None = None
    phase: Literal["1", "1/2", "2", "2b", "3"]
    design: Literal["randomized", "dose_randomized", "single_arm", "pooled_single_arm"] = Field(
        description="dose_randomized: randomized between doses, no control arm (ranked as single-arm evidence)"
    )
    population: str
    arms: Annotated[list[TrialArm], Field(min_length=1)]
    results: list[TrialResult] = []
    caveats: list[str] = Field(
        default=[], description="how the trial population differs from the label (shown as evidence, never a criterion)"
    )


class TrialsFile(_KB):
    trials: list[Trial]


# -------------------------------------------------------------------------------------- indications
class TumorSet(Entry):
    """OncoTree codes an indication applies to, resolved nearest-first along the case's lineage.

    ``include`` (with descendants) → the tumor criterion is met; ``related`` (with descendants) → not met but
    listed as a close miss (same organ, outside the label); ``unclear`` (the code itself only, for NOS nodes
    such as ``EGC`` or ``BILIARY_TRACT``) → unknown, confirm the primary.
    ``any_solid`` → every code whose lineage avoids ``exclude_roots`` (tumor-agnostic labels).
    """

    text: str
    include: list[str] = []
    unclear: list[str] = []
    related: list[str] = []
    related_note: str | None = Field(default=None, description="why related codes fall outside the label")
    any_solid: bool = False
    exclude_roots: list[str] = []

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.any_solid == bool(self.include):
            raise ValueError(f"tumor set {self.id}: give include codes or any_solid, not both or neither")
        codes = [*self.include, *self.unclear, *self.related]
        if len(codes) != len(set(codes)):
            raise ValueError(f"tumor set {self.id}: a code is listed twice")
        return self


class Histology(_KB):
    """How the engine decides squamous vs non-squamous from OncoTree codes (text rules are in code)."""

    squamous_codes: list[str]
    non_squamous_codes: list[str]
    mixed_codes: list[str] = Field(default=[], description="adenosquamous: squamous status unknown")
    sources: Annotated[list[SourceRef], Field(min_length=1)]
    status: Status


class Criterion(_KB):
    """A node of an eligibility tree: a leaf over one typed fact, or ``all`` / ``any`` / ``not``."""

    id: EntryId
    text: ShortText
    fact: FactName | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    op: Operator | None = None
    value: float | None = None
    equals: bool | None = None
    classes: list[EntryId] | None = None
    settings: list[RegimenSettingName] | None = Field(
        default=None, description="history facts: only regimens given in these settings count"
    )
    months: Annotated[int, Field(ge=0, le=120)] | None = Field(
        default=None, description="history.early_relapse: recurrence within this many months (boundary included)"
    )
    drugs: list[str] | None = Field(default=None, description="history.progressed_on: drugs by INN")
    all: list[Criterion] | None = None
    any: list[Criterion] | None = None
    not_: Criterion | None = Field(default=None, alias="not")
    need: ShortText | None = Field(default=None, description="what to obtain when the result is unknown")
    explain_not_met: ShortText | None = Field(default=None, description="appended to the reason when not met")

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        forms = [self.fact is not None, self.all is not None, self.any is not None, self.not_ is not None]
        if sum(forms) != 1:
            raise ValueError(f"criterion {self.id}: give exactly one of fact, all, any, not")
        if self.fact is None:
            params = (self.in_, self.op, self.value, self.equals, self.classes, self.settings, self.months, self.drugs)
            if any(x is not None for x in params):
                raise ValueError(f"criterion {self.id}: parameters are only allowed on a fact leaf")
            if (self.all is not None and not self.all) or (self.any is not None and not self.any):
                raise ValueError(f"criterion {self.id}: an empty all/any is not allowed")
            return self
        given = {
            "in": self.in_ is not None,
            "op": self.op is not None,
            "value": self.value is not None,
            "equals": self.equals is not None,
            "classes": self.classes is not None,
            "settings": self.settings is not None,
            "months": self.months is not None,
            "drugs": self.drugs is not None,
        }
        required, optional = _FORMS[self.fact]
        missing = sorted(k for k in required if not given[k])
        extra = sorted(k for k, v in given.items() if v and k not in required | optional)
        if missing or extra:
            wanted = ", ".join(f"'{k}'" for k in sorted(required))
            also = f" (optional: {', '.join(sorted(optional))})" if optional else ""
            raise ValueError(f"criterion {self.id}: fact {self.fact} takes {wanted}{also} and nothing else")
        for name in ("in_", "classes", "settings", "drugs"):
            value = getattr(self, name)
            if value is not None and not value:
                raise ValueError(f"criterion {self.id}: '{name.rstrip('_')}' must list at least one value")
        return self


class Line(_KB):
    order: Annotated[int, Field(ge=0, le=3)] = Field(
        description="0 perioperative, 1 first line, 2 previously treated, 3 after two or more lines"
    )
    text: str


class RegulatoryEventDef(_KB):
    date: dt.date
    date_precision: Literal["day", "month", "year"] = "day"
    action: str
    sources: Annotated[list[SourceRef], Field(min_length=1)]


#: The regulator whose decisions a region shows (``--region``, API ``region=``): the FDA for the US (default),
#: the European Commission on the EMA's opinion for the EU.
AGENCY_OF_REGION: dict[str, str] = {"us": "FDA", "eu": "EMA"}
#: Approval pathways per agency: (provisional, full). FDA accelerated/regular approval; EU conditional/standard
#: marketing authorisation (Regulation (EC) No 507/2006 for the conditional one).
PATHWAYS: dict[str, tuple[str, str]] = {"FDA": ("accelerated", "regular"), "EMA": ("conditional", "standard")}

Pathway = Literal["accelerated", "regular", "conditional", "standard"]


class RegulatoryDef(_KB):
    agency: Literal["FDA", "EMA"]
    status: Pathway
    approval_date: dt.date = Field(description="FDA approval, or European Commission decision, of the indication")
    approval_date_precision: Literal["day", "month", "year"] = "day"
    initial_status: Pathway | None = Field(
        default=None, description="pathway of the first approval (default: the current status)"
    )
    regular_approval_date: dt.date | None = Field(
        default=None, description="when an accelerated (conditional) approval became regular (standard): conversion"
    )
    regular_approval_date_precision: Literal["day", "month", "year"] = "day"
    label_wording: str
    companion_diagnostics: list[str] = []
    history: list[RegulatoryEventDef] = []
    sources: Annotated[list[SourceRef], Field(min_length=1)]
    verification: Status = Field(description="verified against the regulator's notice/label/EPAR, or unverified")
    note: str | None = None

    @model_validator(mode="after")
    def _pathway(self) -> Self:
        provisional, full = PATHWAYS[self.agency]
        first = self.initial_status or self.status
        if {self.status, first} - {provisional, full}:
            raise ValueError(f"{self.agency} pathways are {provisional!r} and {full!r}")
        if self.status == provisional and (first == full or self.regular_approval_date is not None):
            raise ValueError(f"an indication still under {provisional} approval has no regular (full) approval date")
        if first == provisional and self.status == full and self.regular_approval_date is None:
            raise ValueError(f"a {provisional} approval converted to {full} needs its regular_approval_date")
        if self.regular_approval_date is not None and self.regular_approval_date < self.approval_date:
            raise ValueError("regular_approval_date precedes the first approval")
        return self


class TrialRef(_KB):
    id: EntryId
    role: Literal["pivotal", "supporting"] = "pivotal"
    results: list[EntryId] | None = Field(
        default=None, description="which of the trial's results to show (default: all)"
    )


class Indication(Entry):
    title: str
    regimen: str
    drugs: Annotated[list[str], Field(min_length=1)]
    approval_kind: Literal["fda_approved", "guideline_supported_not_approved"]
    tumors: EntryId
    setting: Annotated[list[Setting], Field(min_length=1)]
    setting_text: str
    line: Line
    criteria: list[Criterion]
    conditions_to_confirm: list[str] = []
    not_after_progression_on: list[str] = Field(
        default=[],
        description="drugs (INN) not offered again after progression on them: generates the not-progressed criterion",
    )
    regulatory: list[RegulatoryDef] = []
    trials: list[TrialRef] = []

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.approval_kind == "fda_approved" and not any(r.agency == "FDA" for r in self.regulatory):
            raise ValueError(f"indication {self.id}: an FDA-approved indication needs its FDA record")
        if self.approval_kind != "fda_approved" and any(r.agency == "FDA" for r in self.regulatory):
            raise ValueError(f"indication {self.id}: a non-approved indication cannot carry an FDA approval")
        return self


class IndicationsFile(_KB):
    tumor_sets: list[TumorSet]
    histology: Histology
    indications: list[Indication]


def walk(crit: Criterion) -> list[Criterion]:
    """The criterion and all its descendants, depth first."""
    out = [crit]
    for child in (*(crit.all or ()), *(crit.any or ()), *((crit.not_,) if crit.not_ else ())):
        out.extend(walk(child))
    return out
