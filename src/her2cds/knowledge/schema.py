"""Pydantic schema of the knowledge-base files. Every file is validated at load with ``extra="forbid"``.

Every entry has a stable ``id``, one or more structured ``sources`` (references to ``sources.yaml`` with a
locator such as a table or figure) and a ``status`` (``verified`` | ``unverified``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from her2cds.model.enums import Category, IhcScore, Procedure

SUPPORTED_SCHEMA_VERSIONS = ("1",)

Status = Literal["verified", "unverified"]
Operator = Literal[">=", ">", "<", "<=", "=="]
EntryId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._+-]*$", max_length=120)]

Measure = Literal[
    # IHC, cumulative percentages of invasive tumor cells
    "pct.strong_complete",
    "pct.complete",
    "pct.any_membrane",
    "pct.intense_incomplete",
    # IHC, largest cohesive cluster (cells) with at least this pattern
    "cluster.strong_complete",
    "cluster.complete",
    "cluster.any_membrane",
    # ISH
    "ish.ratio",
    "ish.her2_per_cell",
    "ish.percent_cells_amplified",
    "ish.cells_counted",
    # NGS / plasma
    "ngs.tumor_fraction",
]

Quantity = Literal[
    "percent_cells", "cluster_cells", "ratio", "her2_per_cell", "percent_cells_amplified", "cells_counted",
    "tumor_fraction", "pd_l1_cps",
]

MEASURE_QUANTITY: dict[str, str] = {
    "pct.strong_complete": "percent_cells",
    "pct.complete": "percent_cells",
    "pct.any_membrane": "percent_cells",
    "pct.intense_incomplete": "percent_cells",
    "cluster.strong_complete": "cluster_cells",
    "cluster.complete": "cluster_cells",
    "cluster.any_membrane": "cluster_cells",
    "ish.ratio": "ratio",
    "ish.her2_per_cell": "her2_per_cell",
    "ish.percent_cells_amplified": "percent_cells_amplified",
    "ish.cells_counted": "cells_counted",
    "ngs.tumor_fraction": "tumor_fraction",
}

Stage = Literal[
    "ihc_percent",
    "ihc_biopsy_percent",
    "ihc_cluster",
    "ihc_reported",
    "ish_dual_group",
    "ish_dual_workup",
    "ish_dual_ratio",
    "ish_percent_cells",
    "ish_single",
    "ish_single_workup",
    "ish_adequacy",
    "combine",
    "category",
    "ngs",
    "plasma",
    "patient",
    "legacy",
    "tumor_family",
    "qualitative",
]

Outcome = Literal[
    "positive",
    "negative",
    "equivocal",
    "indeterminate",
    "workup",
    "recount",
    "adjudicate",
    "concurrent_ihc",
    "dual_probe",
    "inadequate",
    "not_informative",
]


class _KB(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class SourceRef(_KB):
    id: EntryId
    locator: str | None = Field(default=None, description="table, figure, section or page in the source")


class Source(_KB):
    id: EntryId
    type: Literal[
        "guideline", "fda_label", "fda_notice", "ema_epar", "paper", "trial", "standard", "dataset", "website"
    ]
    title: str
    citation: str | None = Field(default=None, description="authors, journal, year;volume:pages")
    year: int
    date: dt.date | None = None
    doi: str | None = None
    pmid: str | None = None
    nct: str | None = None
    url: str | None = None
    status: Status
    note: str | None = None


class Entry(_KB):
    id: EntryId
    sources: Annotated[list[SourceRef], Field(min_length=1)]
    status: Status
    note: str | None = None


class Threshold(Entry):
    kind: Literal["threshold"] = "threshold"
    quantity: Quantity
    operator: Operator
    value: float
    unit: str
    text: str


class Condition(_KB):
    """``measure <operator> value`` where the operator/value come from a threshold entry.

    Inline ``operator``/``value`` are only allowed for presence checks (value 0): every clinical number
    lives in a threshold entry.
    """

    measure: Measure
    threshold: EntryId | None = None
    operator: Operator | None = None
    value: float | None = None
    negate: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if self.threshold is None:
            if self.operator is None or self.value is None:
                raise ValueError("a condition needs a threshold id, or an inline operator and value")
            if self.value != 0:
                raise ValueError("inline condition values other than 0 must be threshold entries")
        elif self.operator is not None or self.value is not None:
            raise ValueError("give either a threshold id or an inline operator/value, not both")
        return self


class NeedSpec(_KB):
    """What a non-final result is waiting for: a field path relative to the specimen, with a short reason."""

    field: Annotated[str, Field(pattern=r"^(ihc|ish|ngs)(\.[a-z0-9_]+)*$")]
    reason: str


class Rule(Entry):
    kind: Literal["rule"] = "rule"
    stage: Stage
    text: str
    when: list[Condition] = []
    score: IhcScore | None = None
    outcome: Outcome | None = None
    group: Annotated[int, Field(ge=1, le=5)] | None = None
    ihc: list[IhcScore] = []
    category: Category | None = None
    role: str | None = Field(default=None, description="the engine step this rule explains (combine/patient)")
    ish_positive_outcome: Outcome | None = Field(
        default=None, description="IHC rules: the specimen outcome when ISH is positive, if not the usual one"
    )
    ish_negative_outcome: Outcome | None = Field(
        default=None, description="IHC rules: the specimen outcome when ISH is negative, if not the usual one"
    )
    recommend: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(
        default=[], description="recommendation codes emitted when this rule fires"
    )
    flag: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] | None = Field(
        default=None, description="flag code raised when this rule fires (e.g. an assumption the rule makes)"
    )
    needs: list[NeedSpec] = Field(
        default=[], description="what a non-final result of this rule waits for (field paths in the specimen)"
    )


class ScoringSystem(Entry):
    kind: Literal["scoring_system"] = "scoring_system"
    name: str
    default: bool = Field(description="used by default for its tumor families; unverified proposals are not")
    cluster_procedures: list[Procedure] = []
    validated_procedures: list[Procedure]
    ish_overrides_negative_ihc: bool
    breast_categories: bool = False
    qualitative_positive_decides: bool = Field(
        default=True, description="an IHC stated 'positive' without a score is HER2 positive (false: needs the extent)"
    )
    cytology_preparations: list[Literal["cell_block", "smear", "cytospin", "liquid_based", "other"]] = Field(
        default=[], description="cytology preparations the guideline accepts (scored like a biopsy)"
    )
    thresholds: list[Threshold] = []
    rules: list[Rule]


class Family(Entry):
    kind: Literal["tumor_family"] = "tumor_family"
    name: str
    roots: list[str]
    scoring_system: EntryId
    guideline_specific: bool = Field(description="the family has a HER2 scoring guideline of its own")
    fallback: bool = False
    text: str


Domain = Literal["extracellular", "transmembrane", "juxtamembrane", "kinase", "c_terminal", "other"]
LabelSetId = Literal["fda.tdxd-nsclc-activating", "fda.her2-tkd-activating"]


class LabelSet(_KB):
    """Membership of a variant in the set a label or its companion test names (not the biology)."""

    id: LabelSetId
    status: Status
    sources: Annotated[list[SourceRef], Field(min_length=1)]
    note: str | None = None


class DomainRange(_KB):
    """ERBB2 protein domains by residue range (NP_004439.2); kinase_domain null where sources disagree."""

    domain: Domain
    start: Annotated[int, Field(ge=1)]
    end: Annotated[int, Field(ge=1)]
    kinase_domain: bool | None
    sources: Annotated[list[SourceRef], Field(min_length=1)]
    status: Status
    note: str | None = None


class Variant(Entry):
    kind: Literal["variant"] = "variant"
    hgvs_p: str = Field(description="canonical one-letter HGVS protein change without 'p.'")
    aliases: list[str] = []
    exon: int | None = None
    domain: Domain
    activating: bool | None = Field(description="biology: activating/oncogenic (null: open or conflicting evidence)")
    kinase_domain: bool | None
    label_sets: list[LabelSet] = []
    text: str


class VariantClass(Entry):
    """A class of variants recognised by kind and position (e.g. exon 20 in-frame insertions)."""

    kind: Literal["variant_class"] = "variant_class"
    name: str
    change: Literal["insertion"] = Field(
        description="insertion: in-frame insertion, duplication, or deletion-insertion that adds residues"
    )
    start: int = Field(description="first residue of the change, lowest")
    end: int = Field(description="first residue of the change, highest")
    domain: Domain
    activating: bool | None
    kinase_domain: bool | None
    label_sets: list[LabelSet] = []
    text: str


class CodeDef(Entry):
    kind: Literal["recommendation_code", "flag_code"]
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    text: str


SettingOrUnknown = Literal["early", "locally_advanced", "metastatic", "unknown"]


class TestingIndication(Entry):
    """When HER2 testing changes management, by tumor family (optionally an OncoTree subtree) and setting."""

    kind: Literal["testing_indication"] = "testing_indication"
    families: Annotated[list[EntryId], Field(min_length=1)]
    roots: list[str] = Field(default=[], description="restrict to these OncoTree subtrees (most specific wins)")
    settings: Annotated[list[SettingOrUnknown], Field(min_length=1)]
    stages: list[Literal["0", "I", "II", "III", "IV"]] = Field(
        default=[], description="restrict to these AJCC stage groups (tumor.stage; a stage-specific entry wins)"
    )
    indicated: bool
    modalities: list[Literal["ihc_ish", "ngs_mutation"]] = []
    retest_after_her2_therapy: bool = Field(
        default=False, description="recommend confirming HER2 on a biopsy taken after HER2-directed therapy"
    )
    text: str


class TestingFile(_KB):
    indications: list[TestingIndication]


class TumorTypesFile(_KB):
    release: str
    source: SourceRef
    types: list[tuple[str, str, str | None, str]]


class MetaFile(_KB):
    schema_version: str
    version: str
    as_of: dt.date
    title: str
    disclaimer: str


class SourcesFile(_KB):
    sources: list[Source]


class FamiliesFile(_KB):
    families: list[Family]
    excluded_roots: list[str]
    excluded_sources: Annotated[list[SourceRef], Field(min_length=1)]
    rules: list[Rule] = []


class ScoringFile(_KB):
    system: ScoringSystem


class VariantsFile(_KB):
    gene: Literal["ERBB2"]
    transcript: str
    length: int
    domains: Annotated[list[DomainRange], Field(min_length=1)]
    variants: list[Variant]
    classes: list[VariantClass] = []


class CodesFile(_KB):
    codes: list[CodeDef]


class CriteriaSet(Entry):
    """A guideline's criteria with the dates that delimit when they were in effect (``--criteria by-date``).

    The date of effect is the guideline's online publication date; where that date is unverified, the verified
    print-issue date bounds it (a test dated between the two is read as ``unknown``)."""

    kind: Literal["criteria_set"] = "criteria_set"
    name: str
    guideline: EntryId = Field(description="the source id of the guideline")
    current: bool = Field(default=False, description="the criteria the engine's scoring systems implement")
    published_online: dt.date
    published_online_status: Status
    issue_date: dt.date | None = None
    issue_date_status: Status | None = None
    text: str

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.published_online_status == "unverified" and (
            self.issue_date is None or self.issue_date_status != "verified"
        ):
            raise ValueError(f"{self.id}: an unverified online date needs a verified issue date that bounds it")
        if self.issue_date is not None and self.issue_date < self.published_online:
            raise ValueError(f"{self.id}: issue_date {self.issue_date} is before published_online")
        return self


class RulesFile(_KB):
    thresholds: list[Threshold] = []
    rules: list[Rule] = []
    criteria_sets: list[CriteriaSet] = []
