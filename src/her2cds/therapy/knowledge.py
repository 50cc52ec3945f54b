"""Compile the therapy knowledge for matching.

The knowledge layer loads and cross-checks the files (:mod:`her2cds.knowledge.therapy`); here each criterion
tree is compiled once into evaluators (which checks every criterion value, drug and class name) and the static
parts of each option (regulatory status, evidence, sort rank) are built. Matching then only evaluates small
objects (see :mod:`her2cds.therapy.matching`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.drugs import DrugTable
from her2cds.knowledge.schema import Source
from her2cds.knowledge.therapy import TherapyData, criteria_of, load_therapy_data
from her2cds.knowledge.therapy_schema import AGENCY_OF_REGION, Criterion, Histology, Indication, Trial, TumorSet
from her2cds.model.therapy import (
    Evidence as EvidenceOut,
)
from her2cds.model.therapy import (
    EvidenceLevel,
    KeyFigure,
    RegulatoryEvent,
    RegulatoryStatus,
)
from her2cds.therapy.criteria import Node, compile_criterion
from her2cds.therapy.decide import compile_deciders

TumorKind = Literal["include", "unclear", "related", "any_solid"]

_EVIDENCE_RANK: Mapping[str, int] = {"phase3_randomized": 0, "phase2_randomized": 1, "single_arm": 2, "none": 3}
_MEMO_LIMIT = 8192


@dataclass(frozen=True, slots=True)
class CompiledIndication:
    """One indication ready for matching: compiled criteria plus the static parts of its output."""

    index: int
    entry: Indication
    tumors: TumorSet
    setting_node: Node
    nodes: tuple[Node, ...]
    regulatory: tuple[RegulatoryStatus, ...]  # the FDA record(s): what every option shows
    regional: Mapping[str, tuple[RegulatoryStatus, ...]]  # region (eu) -> that region's records, e.g. EMA
    evidence: tuple[EvidenceOut, ...]
    evidence_level: EvidenceLevel
    sources: tuple[str, ...]
    sort_rank: tuple[int, int, int, int, int, int]


class TherapyKnowledge:
    """The validated, compiled therapy knowledge. Immutable apart from a bounded result memo."""

    def __init__(self, data: TherapyData, indications: tuple[CompiledIndication, ...]) -> None:
        self.data = data
        self.drugs: DrugTable = data.drugs
        self.trials: Mapping[str, Trial] = data.trials
        self.tumor_sets: Mapping[str, TumorSet] = data.tumor_sets
        self.histology: Histology = data.histology
        self.indications = indications
        self._by_id: Mapping[str, CompiledIndication] = {ind.entry.id: ind for ind in indications}
        # code -> [(indication index, kind)] for the tumor pre-filter; agnostic ones are checked separately
        index: dict[str, list[tuple[int, TumorKind]]] = {}
        agnostic: list[tuple[int, frozenset[str]]] = []
        for ind in indications:
            ts = ind.tumors
            if ts.any_solid:
                agnostic.append((ind.index, frozenset(ts.exclude_roots)))
                continue
            for kind, codes in (("include", ts.include), ("unclear", ts.unclear), ("related", ts.related)):
                for code in codes:
                    index.setdefault(code, []).append((ind.index, kind))  # type: ignore[arg-type]
        self.tumor_index: Mapping[str, tuple[tuple[int, TumorKind], ...]] = {k: tuple(v) for k, v in index.items()}
        self.agnostic: tuple[tuple[int, frozenset[str]], ...] = tuple(agnostic)
        # each indication's criteria as one generated decision function, and the leaf slots they read (D14.10)
        self.deciders, self.reads, self.slots = compile_deciders(
            [(ind.entry.id, (ind.setting_node, *ind.nodes)) for ind in indications])
        # Memos, each bounded by memo_limit entries; values are frozen models with tuple fields, safe to share
        # between threads and assessments. They only ever cache pure functions of their keys.
        self.plans: dict[tuple[str, ...], Any] = {}  # lineage -> indications reached + fact projection
        self.criterion_memo: dict[tuple[Any, ...], Any] = {}  # (indication, criterion, result, reason)
        self.memo_limit = _MEMO_LIMIT

    def lineage_codes(self) -> frozenset[str]:
        """Every OncoTree code therapy matching compares a case's lineage with: the codes of the indications'
        tumor sets (``tumor_index``: include, unclear, related), the tumor-agnostic sets' excluded roots
        (``agnostic``) and the histology codes (criteria.decide_squamous). Nothing else of the tumor is read but
        texts and whether the code itself is an ``unclear`` one (:meth:`identity_codes`)."""
        h = self.histology
        return frozenset((*self.tumor_index, *(code for _, excluded in self.agnostic for code in excluded),
                          *h.squamous_codes, *h.non_squamous_codes, *h.mixed_codes))

    def identity_codes(self) -> frozenset[str]:
        """The codes whose own identity matching reads: an ``unclear`` tumor-set code matches the case's code
        itself, never its descendants (matching.py ``_plan``)."""
        return frozenset(code for code, entries in self.tumor_index.items()
                         if any(kind == "unclear" for _, kind in entries))

    def get(self, indication_id: str) -> CompiledIndication:
        """The compiled indication with this id; KeyError when there is none."""
        return self._by_id[indication_id]


# ------------------------------------------------------------------------------------------- compiler
def _figure(trial: Trial, result_ids: list[str] | None) -> tuple[KeyFigure, ...]:
    wanted = trial.results if result_ids is None else [r for r in trial.results if r.id in result_ids]
    return tuple(
        KeyFigure(
            endpoint=r.endpoint,
            population=r.population,
            value=r.value,
            hazard_ratio=r.hazard_ratio,
            ci=r.ci,
            analysis=r.analysis,
            basis=r.basis,
            sources=tuple(s.id for s in r.sources),
            status=r.status,
        )
        for r in wanted
    )


def _evidence_level(trials: list[Trial]) -> EvidenceLevel:
    best: EvidenceLevel = "none"
    for trial in trials:
        level: EvidenceLevel
        if trial.design == "randomized":
            level = "phase3_randomized" if trial.phase == "3" else "phase2_randomized"
        else:
            level = "single_arm"
        if _EVIDENCE_RANK[level] < _EVIDENCE_RANK[best]:
            best = level
    return best


def _regulatory(ind: Indication) -> tuple[RegulatoryStatus, ...]:
    """Every regulatory record of the indication, any agency, in file order."""
    return tuple(
        RegulatoryStatus(
            agency=r.agency,
            status=r.status,
            approval_date=r.approval_date,
            approval_date_precision=r.approval_date_precision,
            initial_status=r.initial_status or r.status,
            regular_approval_date=r.regular_approval_date,
            regular_approval_date_precision=r.regular_approval_date_precision if r.regular_approval_date else None,
            label_wording=r.label_wording,
            companion_diagnostics=tuple(r.companion_diagnostics),
            history=tuple(
                RegulatoryEvent(
                    date=e.date,
                    date_precision=e.date_precision,
                    action=e.action,
                    sources=tuple(s.id for s in e.sources),
                )
                for e in r.history
            ),
            sources=tuple(s.id for s in r.sources),
            verification=r.verification,
            note=r.note,
        )
        for r in ind.regulatory
    )


def _compile_indication(index: int, ind: Indication, data: TherapyData) -> CompiledIndication:
    """One indication compiled; raises KnowledgeBaseError for a criterion value, drug or class that does not
    exist. Cross-references were checked by the knowledge layer."""
    table = data.drugs
    tumor_set = data.tumor_sets[ind.tumors]
    linked: list[Trial] = []
    evidence: list[EvidenceOut] = []
    for ref in ind.trials:
        trial = data.trials[ref.id]
        if ref.role == "pivotal":
            linked.append(trial)
        evidence.append(
            EvidenceOut(
                trial=trial.id,
                name=trial.name,
                nct=trial.nct,
                phase=trial.phase,
                design=trial.design,
                role=ref.role,
                figures=_figure(trial, ref.results),
                caveats=tuple(trial.caveats),
                sources=tuple(s.id for s in trial.sources),
            )
        )
    nodes = tuple(compile_criterion(c, table) for c in criteria_of(ind))
    setting_node = compile_criterion(
        Criterion.model_validate(
            {"id": "setting", "text": ind.setting_text, "fact": "setting", "in": list(ind.setting)}
        ),
        table,
    )
    level = _evidence_level(linked)
    records = _regulatory(ind)
    fda = [r for r in ind.regulatory if r.agency == "FDA"]
    pathway_rank = 2 if not fda else (0 if fda[0].status == "regular" else 1)
    approval_rank = 0 if ind.approval_kind == "fda_approved" else 1
    recency = -fda[0].approval_date.toordinal() if fda else 0  # newer approvals first among equals
    return CompiledIndication(
        index=index,
        entry=ind,
        tumors=tumor_set,
        setting_node=setting_node,
        nodes=nodes,
        regulatory=tuple(r for r in records if r.agency == "FDA"),
        regional={region: tuple(r for r in records if r.agency == agency)
                  for region, agency in AGENCY_OF_REGION.items() if agency != "FDA"},
        evidence=tuple(evidence),
        evidence_level=level,
        sources=tuple(dict.fromkeys(s.id for s in ind.sources)),
        # tumor-agnostic labels require "no satisfactory alternative": after tumor-specific options
        sort_rank=(
            1 if tumor_set.any_solid else 0,
            ind.line.order,
            approval_rank,
            _EVIDENCE_RANK[level],
            pathway_rank,
            recency,
        ),
    )


def compile_therapy(data: TherapyData) -> TherapyKnowledge:
    """Compile the validated therapy knowledge for matching.

    Raises :class:`her2cds.errors.KnowledgeBaseError` listing every criterion that does not compile.
    """
    problems: list[str] = []
    compiled: list[CompiledIndication] = []
    for ind in data.indications:
        try:
            compiled.append(_compile_indication(len(compiled), ind, data))
        except KnowledgeBaseError as exc:
            problems.append(f"{ind.id}: {exc}")
    if problems:
        raise KnowledgeBaseError("therapy knowledge is inconsistent:\n  " + "\n  ".join(problems))
    return TherapyKnowledge(data, tuple(compiled))


def load_therapy_knowledge(root: Path, sources: Mapping[str, Source], tumor_codes: Collection[str]) -> TherapyKnowledge:
    """Load, validate and compile the therapy knowledge of a knowledge-base folder (tools and tests)."""
    return compile_therapy(load_therapy_data(root, sources, tumor_codes))
