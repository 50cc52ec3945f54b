"""The input contract: one patient's case."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from her2cds.model.enums import (
    BestResponse,
    CopyNumberCall,
    IhcScore,
    PathologicResponse,
    Probe,
    Procedure,
    RasStatus,
    ReceptorStatus,
    RegimenSetting,
    Setting,
    Site,
    StoppedFor,
)

# Plausibility bounds of the numeric inputs: what is physically possible, not clinical thresholds (those live in
# the knowledge base). A value outside them is an input error naming the field, never a result (decision D10.1).
#: mean HER2 (or CEP17) signals per nucleus: amplified tumors reach a few dozen; clusters are estimated
MAX_SIGNALS_PER_CELL = 100.0
#: mean CEP17 signals per nucleus: below one signal per two nuclei the count is not interpretable (and a tiny
#: divisor would make any HER2/CEP17 ratio "amplified")
MIN_CEP17_PER_CELL = 0.5
#: a HER2/CEP17 ratio: at most MAX_SIGNALS_PER_CELL / MIN_CEP17_PER_CELL
MAX_RATIO = 200.0
#: nuclei counted for one ISH result (practice: 20-100)
MAX_CELLS_COUNTED = 10_000
#: cells in one cohesive tumor cluster of a specimen
MAX_CLUSTER_CELLS = 1_000_000
#: ERBB2 copy number reported by NGS (highly amplified tumors reach 100-200)
MAX_COPY_NUMBER = 1_000.0
#: the PD-L1 combined positive score is capped at 100 by definition
MAX_CPS = 100.0

Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
SignalsPerCell = Annotated[float, Field(ge=0, le=MAX_SIGNALS_PER_CELL, allow_inf_nan=False)]
Cep17PerCell = Annotated[float, Field(ge=MIN_CEP17_PER_CELL, le=MAX_SIGNALS_PER_CELL, allow_inf_nan=False)]
Ratio = Annotated[float, Field(ge=0, le=MAX_RATIO, allow_inf_nan=False)]
CellsCounted = Annotated[int, Field(ge=1, le=MAX_CELLS_COUNTED)]
ClusterSize = Annotated[int, Field(ge=0, le=MAX_CLUSTER_CELLS)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
#: percentages recorded to the unit may sum a little above 100 by rounding; beyond this it is an input error
PERCENT_SUM_ROUNDING = 1.0



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


_IHC_INT = {0: "0", 1: "1+", 2: "2+", 3: "3+"}


def _int_as_text(value: object) -> object:
    """An unquoted YAML integer id (``id: 1``) is the text a person typed; other values are checked as given."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Bound(_Strict):
    """A value recorded only as a bound (registries code "ratio < 2.0", "≥ 2.0"; reports write ">6.0")."""

    op: Literal[">", ">=", "<", "<="]
    value: Annotated[float, Field(ge=0, allow_inf_nan=False)]

    def __str__(self) -> str:
        return f"{self.op}{self.value:g}"


_BOUND = re.compile(r"^(>=|<=|≥|≤|>|<)\s*(\d+(?:\.\d+)?)$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_OPS = {"≥": ">=", "≤": "<="}


def _measured(lo: float, hi: float) -> Callable[[object], object]:
    """A validator for a measured value: a finite number in [lo, hi], or text - a plain number or a bound such as
    ">6.0", "<2.0", "≥2.0" (becomes a Bound). One error at the field itself, whatever went wrong."""

    def check(value: object) -> object:
        if isinstance(value, Bound):
            bound: Bound | None = value
            number: object = value.value
        else:
            bound = None
            number = value
            if isinstance(value, str):
                text = value.strip()
                match = _BOUND.match(text)
                if match is not None:
                    bound = Bound(op=_OPS.get(match.group(1), match.group(1)), value=float(match.group(2)))
                    number = bound.value
                elif _NUMBER.match(text):
                    number = float(text)
                else:
                    raise ValueError(f"expected a number or a bound such as '>6.0', '<2.0' or '≥2.0', got {value!r}")
            elif isinstance(value, dict):
                bound = Bound.model_validate(value)
                number = bound.value
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError("expected a number or a bound such as '>6.0'")
        try:
            as_float = float(number)
        except OverflowError:
            raise ValueError("Input should be a finite number") from None
        if not math.isfinite(as_float):
            raise ValueError("Input should be a finite number")
        if as_float < lo:
            raise ValueError(f"Input should be greater than or equal to {lo:g}")
        if as_float > hi:
            raise ValueError(f"Input should be less than or equal to {hi:g}")
        return bound if bound is not None else as_float

    return check


SignalsOrBound = Annotated[float | Bound, BeforeValidator(_measured(0.0, MAX_SIGNALS_PER_CELL),
                                                          json_schema_input_type=float | str | Bound)]
Cep17OrBound = Annotated[float | Bound, BeforeValidator(_measured(MIN_CEP17_PER_CELL, MAX_SIGNALS_PER_CELL),
                                                        json_schema_input_type=float | str | Bound)]
RatioOrBound = Annotated[float | Bound, BeforeValidator(_measured(0.0, MAX_RATIO),
                                                        json_schema_input_type=float | str | Bound)]
Stage = Annotated[str, Field(pattern=r"^(0|0a|0is|I|II|III|IV)([A-C][1-3]?)?$", description=(
    "AJCC stage group: 0, I, II, III or IV, optionally with its letter (e.g. IIIB)"))]
Preparation = Literal["cell_block", "smear", "cytospin", "liquid_based", "other"]


class Tumor(_Strict):
    oncotree_code: Annotated[str, Field(min_length=1, max_length=40)]
    setting: Setting | None = None
    stage: Stage | None = Field(default=None, description="AJCC stage group at diagnosis (e.g. II, IIIB, IV)")
    histology: ShortText | None = None
    scoring_system: Annotated[str, Field(max_length=80)] | None = Field(
        default=None,
        description="explicitly select a scoring system (e.g. an unverified proposal); default: by tumor family",
    )
    recurrence_date: dt.date | None = Field(
        default=None, description="date of first recurrence or of the metastatic diagnosis"
    )


class IhcPercent(_Strict):
    """Percent of invasive tumor cells showing *exactly* each pattern (mutually exclusive; sum ≤ 100).

    For gastroesophageal and colorectal tumors "complete" includes basolateral and lateral staining.
    """

    strong_complete: Percent = 0
    weak_moderate_complete: Percent = 0
    faint_incomplete: Percent = 0
    intense_incomplete: Percent = Field(
        default=0,
        description="moderate-to-intense but incomplete staining (an unusual breast pattern, ASCO/CAP 2018)",
    )

    @model_validator(mode="after")
    def _sum_at_most_100(self) -> Self:
        total = self.total
        if total > 100 + PERCENT_SUM_ROUNDING + 1e-9:
            raise ValueError(f"percentages sum to {total:g}, more than 100")
        return self

    @property
    def total(self) -> float:
        return self.strong_complete + self.weak_moderate_complete + self.faint_incomplete + self.intense_incomplete


class ClusterCells(_Strict):
    """Size (cells) of the largest cohesive cluster showing at least each pattern (biopsy scoring)."""

    strong_complete: ClusterSize = 0
    weak_moderate_complete: ClusterSize = 0
    faint_incomplete: ClusterSize = 0


class Ihc(_Strict):
    score: IhcScore | None = None
    result: Literal["positive", "negative", "equivocal"] | None = Field(
        default=None, description="the IHC result as stated in words (e.g. 'negative, score not stated')"
    )
    percent: IhcPercent | None = None
    cluster_cells: ClusterCells | None = None
    antibody: ShortText | None = None

    @field_validator("score", mode="before")
    @classmethod
    def _integer_score(cls, value: object) -> object:
        """``score: 0`` / ``score: 2`` (unquoted in YAML) mean IHC 0 / 2+; other integers stay invalid."""
        if isinstance(value, int) and not isinstance(value, bool) and value in _IHC_INT:
            return _IHC_INT[value]
        return value

    @model_validator(mode="after")
    def _has_a_result(self) -> Self:
        if self.score is None and self.percent is None and self.cluster_cells is None and self.result is None:
            raise ValueError("give a score, result, percent or cluster_cells")
        return self


class IshCounts(_Strict):
    her2_per_cell: SignalsPerCell
    cep17_per_cell: Cep17PerCell | None = None
    cells_counted: CellsCounted | None = None


class Ish(_Strict):
    probe: Probe = Probe.DUAL
    result: Literal["amplified", "not_amplified", "equivocal"] | None = Field(
        default=None, description="the ISH result as stated in words (registries, older reports, adjudication)"
    )
    her2_per_cell: SignalsOrBound | None = None
    cep17_per_cell: Cep17OrBound | None = None
    ratio: RatioOrBound | None = None
    cells_counted: CellsCounted | None = None
    percent_cells_amplified: Percent | None = Field(
        default=None, description="percent of counted cells with HER2/CEP17 ratio ≥ 2 (HERACLES)"
    )
    recount: IshCounts | None = Field(default=None, description="blinded second-observer recount")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.probe is Probe.SINGLE:
            if self.her2_per_cell is None and self.result is None:
                raise ValueError("single-probe ISH needs her2_per_cell (or a stated result)")
            if self.cep17_per_cell is not None or self.ratio is not None:
                raise ValueError("single-probe ISH has no CEP17 signal or ratio")
            return self
        no_ratio = self.ratio is None and (self.her2_per_cell is None or self.cep17_per_cell is None)
        if no_ratio and self.percent_cells_amplified is None and self.result is None:
            raise ValueError(
                "dual-probe ISH needs a ratio, or her2_per_cell and cep17_per_cell, or percent_cells_amplified, "
                "or a stated result"
            )
        return self


class Ngs(_Strict):
    erbb2_amplified: bool | None = None
    erbb2_copy_number: Annotated[float, Field(ge=0, le=MAX_COPY_NUMBER, allow_inf_nan=False)] | None = None
    erbb2_cn_call: CopyNumberCall | None = Field(
        default=None, description="the caller's copy-number category; 'gain' is not amplification"
    )
    erbb2_variants: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)] = []
    tumor_fraction: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = Field(
        default=None, description="circulating tumor fraction, 0–1 (plasma)"
    )
    assay: ShortText | None = None

    @model_validator(mode="after")
    def _call_agrees(self) -> Self:
        if self.erbb2_amplified is not None and self.erbb2_cn_call is not None:
            says_amp = self.erbb2_cn_call is CopyNumberCall.AMPLIFICATION
            if says_amp != self.erbb2_amplified:
                raise ValueError(
                    f"erbb2_amplified={self.erbb2_amplified} contradicts erbb2_cn_call={self.erbb2_cn_call.value!r}"
                )
        return self


class Specimen(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    _id_as_text = field_validator("id", mode="before")(_int_as_text)
    procedure: Procedure
    site: Site | None = None
    site_detail: ShortText | None = None
    collected_on: dt.date | None = None
    after_her2_therapy: bool | None = Field(
        default=None, description="collected after HER2-directed therapy had been given"
    )
    preparation: Preparation | None = Field(
        default=None, description="cytology preparation (a cell block is accepted for gastroesophageal HER2 testing)"
    )
    reported_status: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="the status as written on the original report (checked for legacy cut-offs)"
    )
    ihc: Ihc | None = None
    ish: Ish | None = None
    ngs: Ngs | None = None

    @field_validator("preparation")
    @classmethod
    def _cytology_preparation(cls, value: Preparation | None, info: ValidationInfo) -> Preparation | None:
        procedure = info.data.get("procedure")
        if value is not None and procedure is not Procedure.CYTOLOGY:
            shown = procedure.value if isinstance(procedure, Procedure) else procedure
            raise ValueError(f"preparation describes a cytology specimen, not a {shown} specimen")
        return value

    @field_validator("site")
    @classmethod
    def _plasma_has_no_site(cls, site: Site | None, info: ValidationInfo) -> Site | None:
        if site is not None and info.data.get("procedure") is Procedure.PLASMA:
            raise ValueError("a plasma specimen has no site")
        return site

    @field_validator("ihc", "ish")
    @classmethod
    def _plasma_has_only_ngs(cls, value: Ihc | Ish | None, info: ValidationInfo) -> Ihc | Ish | None:
        if value is not None and info.data.get("procedure") is Procedure.PLASMA:
            raise ValueError("a plasma specimen can carry only ngs results")
        return value

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.procedure is Procedure.PLASMA and self.ngs is None:
            raise ValueError("a plasma specimen needs ngs results")
        if self.ihc is None and self.ish is None and self.ngs is None:
            raise ValueError("a specimen needs at least one of ihc, ish or ngs")
        return self


class Biomarkers(_Strict):
    pd_l1_cps: Annotated[float, Field(ge=0, le=MAX_CPS, allow_inf_nan=False)] | None = None
    kras: RasStatus | None = None
    nras: RasStatus | None = None
    hormone_receptor: ReceptorStatus | None = None


AgentName = Annotated[str, Field(min_length=1, max_length=80)]
_LINE_SETTINGS = frozenset({RegimenSetting.METASTATIC, RegimenSetting.LOCALLY_ADVANCED, RegimenSetting.MAINTENANCE})


class Regimen(_Strict):
    """One prior systemic regimen: what was given, in which setting, when, and how it ended."""

    agents: Annotated[list[AgentName], Field(min_length=1, max_length=20)] = Field(
        description="INN, brand or regimen acronym (resolved by the drug table)"
    )
    setting: RegimenSetting | None = None
    line: Annotated[int, Field(ge=1, le=30)] | None = Field(
        default=None, description="line of therapy for advanced disease (metastatic / locally advanced only)"
    )
    start: dt.date | None = None
    end: dt.date | None = Field(default=None, description="last dose; missing = unknown (ongoing or not reported)")
    best_response: BestResponse | None = None
    progressed: bool | None = Field(default=None, description="disease progressed on (or during) this regimen")
    progression_date: dt.date | None = None
    stopped_for: StoppedFor | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.line is not None and self.setting is not None and self.setting not in _LINE_SETTINGS:
            raise ValueError(f"line is given for a regimen in the {self.setting.value} setting; "
                             "lines count therapy for advanced disease only")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.start is not None and self.progression_date is not None and self.progression_date < self.start:
            raise ValueError(f"progression_date {self.progression_date} is before start {self.start}")
        if self.progressed is False and self.progression_date is not None:
            raise ValueError("progressed is false but a progression_date is given")
        if self.progressed is False and self.stopped_for is StoppedFor.PROGRESSION:
            raise ValueError("progressed is false but stopped_for is 'progression'")
        return self

    @property
    def progression(self) -> bool | None:
        """Whether the disease progressed on this regimen: stated, or implied by a date or the stop reason."""
        if self.progressed is not None:
            return self.progressed
        if self.progression_date is not None or self.stopped_for is StoppedFor.PROGRESSION:
            return True
        if self.best_response is BestResponse.PROGRESSIVE:
            return True
        return None


class Surgery(_Strict):
    """Definitive surgery of the primary tumor (early disease)."""

    date: dt.date | None = None
    pathologic_response: PathologicResponse | None = Field(
        default=None, description="pcr | residual_invasive; meaningful after neoadjuvant therapy"
    )


class History(_Strict):
    prior_lines: Annotated[int, Field(ge=0, le=30)] | None = None
    prior_agents: Annotated[list[AgentName], Field(max_length=100)] = []
    regimens: Annotated[list[Regimen], Field(max_length=50)] = Field(
        default=[], description="the prior systemic regimens; when given, the complete systemic history"
    )
    surgery: Surgery | None = None


#: The regulatory region a case is assessed for (docs/therapy.md "Regions").
Region = Literal["us", "eu"]


class Case(_Strict):
    id: Annotated[str, Field(max_length=128)] | None = None
    _id_as_text = field_validator("id", mode="before")(_int_as_text)
    tumor: Tumor
    specimens: Annotated[list[Specimen], Field(max_length=100)] = []
    biomarkers: Biomarkers = Biomarkers()
    history: History = History()
    assessed_on: dt.date | None = Field(
        default=None, description="the date the case is assessed (timing criteria); default: today"
    )
    include_unverified: bool = Field(
        default=False, description="opt-in: also list unverified therapy entries (e.g. guideline-only options)"
    )
    criteria: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=40)] | None = Field(
        default=None,
        description="also re-read the breast results under superseded criteria: asco-cap-2007 | asco-cap-2013 | "
        "by-date (each specimen under the guideline in effect on its collected_on) | current (no re-reading)",
    )
    region: Region | None = Field(
        default=None,
        description="whose regulatory status the therapies show: us (FDA; the default) or eu (European Commission "
        "decisions on EMA opinions); `--region` / `region=` set it for cases that do not",
    )

    @model_validator(mode="after")
    def _dates_not_after_assessment(self) -> Self:
        if self.assessed_on is None:
            return self
        for name, value in self.dated_facts():
            if value > self.assessed_on:
                raise ValueError(f"{name} {value} is after assessed_on {self.assessed_on}")
        return self

    def dated_facts(self) -> list[tuple[str, dt.date]]:
        """Every history date of the case with its field path (for checks against ``assessed_on``)."""
        out: list[tuple[str, dt.date]] = []
        if self.tumor.recurrence_date is not None:
            out.append(("tumor.recurrence_date", self.tumor.recurrence_date))
        surgery = self.history.surgery
        if surgery is not None and surgery.date is not None:
            out.append(("history.surgery.date", surgery.date))
        for i, reg in enumerate(self.history.regimens):
            for name in ("start", "end", "progression_date"):
                value = getattr(reg, name)
                if value is not None:
                    out.append((f"history.regimens[{i}].{name}", value))
        return out

    def duplicate_specimen(self) -> int | None:
        """Index of the first specimen whose id repeats an earlier one (the engine rejects such cases)."""
        seen: set[str] = set()
        for index, spec in enumerate(self.specimens):
            if spec.id in seen:
                return index
            seen.add(spec.id)
        return None
