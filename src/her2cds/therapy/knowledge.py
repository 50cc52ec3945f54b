"""Load, validate and compile the therapy knowledge (``<kb root>/therapy/*.yaml``).

Everything that can be checked at load is checked here: every source reference, every OncoTree code,
every drug and class name, every trial and result id, every criterion value. Criteria are compiled once;
matching then only evaluates small objects (see :mod:`her2cds.therapy.matching`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.loader import parse_file
from her2cds.knowledge.schema import Source, SourceRef
from her2cds.model.therapy import (
    Evidence as EvidenceOut,
)
from her2cds.model.therapy import (
    EvidenceLevel,
    KeyFigure,
    RegulatoryEvent,
    RegulatoryStatus,
)
from her2cds.therapy.criteria import Node, compile_criterion, walk
from her2cds.therapy.drugs import DrugTable
from her2cds.therapy.schema import (
    Criterion,
    DrugsFile,
    Histology,
    Indication,
    IndicationsFile,
    Trial,
    TrialsFile,
    TumorSet,
)

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
    reads: tuple[str, ...]
    key_of: Callable[[Any], Any]
    regulatory: tuple[RegulatoryStatus, ...]
    evidence: tuple[EvidenceOut, ...]
    evidence_level: EvidenceLevel
    sources: tuple[str, ...]
    sort_rank: tuple[int, int, int, int, int, int]


class TherapyKnowledge:
    """The validated, compiled therapy knowledge. Immutable apart from a bounded result memo."""

    def __init__(
        self,
        drugs: DrugTable,
        drugs_file: DrugsFile,
        trials: Mapping[str, Trial],
        tumor_sets: Mapping[str, TumorSet],
        histology: Histology,
        indications: tuple[CompiledIndication, ...],
    ) -> None:
        self.drugs = drugs
        self._drugs_file = drugs_file
        self.trials = trials
        self.tumor_sets = tumor_sets
        self.histology = histology
        self.indications = indications
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
        # Memos, each bounded by memo_limit entries; values are frozen models with tuple fields, safe to share
        # between threads and assessments. They only ever cache pure functions of their keys.
        self.plans: dict[tuple[str, ...], Any] = {}  # lineage -> indications reached + fact projection
        self.case_memo: dict[Any, Any] = {}  # (lineage, projected facts) -> ordered options
        self.memo: dict[tuple[Any, ...], Any] = {}  # (indication, tumor hit, code, facts read) -> option
        self.criterion_memo: dict[tuple[Any, ...], Any] = {}  # (indication, criterion, result, reason)
        self.memo_limit = _MEMO_LIMIT

    def get(self, indication_id: str) -> CompiledIndication:
        for ind in self.indications:
            if ind.entry.id == indication_id:
                return ind
        raise KeyError(indication_id)

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every therapy entry as a JSON-ready dict with at least id, kind, sources and status."""

        def dump(model: BaseModel, kind: str) -> dict[str, Any]:
            data = model.model_dump(mode="json", exclude_none=True, by_alias=True)
            return {"kind": kind, **data}

        for cls in self._drugs_file.classes:
            yield dump(cls, "drug_class")
        for drug in self._drugs_file.drugs:
            yield dump(drug, "drug")
        for regimen in self._drugs_file.regimens:
            yield dump(regimen, "regimen")
        for tumor_set in self.tumor_sets.values():
            yield dump(tumor_set, "tumor_set")
        for trial in self.trials.values():
            yield dump(trial, "trial")
        for ind in self.indications:
            yield dump(ind.entry, "indication")


# ------------------------------------------------------------------------------------------- loader
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


def _progression_criteria(ind: Indication) -> list[Criterion]:
    """The generated criterion: the disease has not progressed on the regimen's key drug(s)."""
    if not ind.not_after_progression_on:
        return []
    names = " or ".join(ind.not_after_progression_on)
    return [
        Criterion.model_validate({
            "id": "not-progressed",
            "text": f"no prior progression on {names} (a drug the disease progressed on is not a new option)",
            "not": {"id": "progressed-on", "text": f"disease progressed on {names}", "fact": "history.progressed_on",
                    "drugs": list(ind.not_after_progression_on)},
        })
    ]


def _check_refs(owner: str, refs: list[SourceRef], sources: Mapping[str, Source], problems: list[str]) -> None:
    for ref in refs:
        if ref.id not in sources:
            problems.append(f"{owner}: unknown source {ref.id!r}")


def load_therapy_knowledge(root: Path, sources: Mapping[str, Source], tumor_codes: Collection[str]) -> TherapyKnowledge:
    """Load ``root / "therapy"``, validate it against ``sources`` and the OncoTree codes, and compile it.

    Raises :class:`her2cds.errors.KnowledgeBaseError` listing every problem found.
    """
    folder = root / "therapy"
    drugs_file = parse_file(DrugsFile, folder / "drugs.yaml", "therapy knowledge file")
    trials_file = parse_file(TrialsFile, folder / "trials.yaml", "therapy knowledge file")
    ind_file = parse_file(IndicationsFile, folder / "indications.yaml", "therapy knowledge file")
    table = DrugTable(drugs_file)
    codes = frozenset(tumor_codes)
    problems: list[str] = []
    seen_ids: set[str] = set()

    def unique(entry_id: str) -> None:
        if entry_id in seen_ids:
            problems.append(f"id {entry_id!r} is used twice in the therapy knowledge")
        seen_ids.add(entry_id)

    for cls in drugs_file.classes:
        unique(cls.id)
        _check_refs(cls.id, cls.sources, sources, problems)
    for drug in drugs_file.drugs:
        unique(drug.id)
        _check_refs(drug.id, drug.sources, sources, problems)
    for regimen in drugs_file.regimens:
        unique(regimen.id)
        _check_refs(regimen.id, regimen.sources, sources, problems)

    trials: dict[str, Trial] = {}
    for trial in trials_file.trials:
        unique(trial.id)
        trials[trial.id] = trial
        _check_refs(trial.id, trial.sources, sources, problems)
        for arm in trial.arms:
            for inn in arm.drugs:
                if not table.has_inn(inn):
                    problems.append(f"{trial.id}: arm {arm.label!r} names unknown drug {inn!r}")
        result_ids = [r.id for r in trial.results]
        if len(result_ids) != len(set(result_ids)):
            problems.append(f"{trial.id}: a result id is used twice")
        for result in trial.results:
            _check_refs(f"{trial.id}.{result.id}", result.sources, sources, problems)

    tumor_sets: dict[str, TumorSet] = {}
    for ts in ind_file.tumor_sets:
        unique(ts.id)
        tumor_sets[ts.id] = ts
        _check_refs(ts.id, ts.sources, sources, problems)
        for code in (*ts.include, *ts.unclear, *ts.related, *ts.exclude_roots):
            if code not in codes:
                problems.append(f"{ts.id}: {code!r} is not a known OncoTree code")
    histology = ind_file.histology
    _check_refs("histology", histology.sources, sources, problems)
    for code in (*histology.squamous_codes, *histology.non_squamous_codes, *histology.mixed_codes):
        if code not in codes:
            problems.append(f"histology: {code!r} is not a known OncoTree code")

    compiled: list[CompiledIndication] = []
    for ind in ind_file.indications:
        unique(ind.id)
        _check_refs(ind.id, ind.sources, sources, problems)
        tumor_set = tumor_sets.get(ind.tumors)
        if tumor_set is None:
            problems.append(f"{ind.id}: unknown tumor set {ind.tumors!r}")
            continue
        for inn in ind.drugs:
            if not table.has_inn(inn):
                problems.append(f"{ind.id}: unknown drug {inn!r} (not in the drug-class table)")
        crit_ids: set[str] = {"tumor", "setting"}
        for crit in (*ind.criteria, *_progression_criteria(ind)):
            for node in walk(crit):
                if node.id in crit_ids:
                    problems.append(f"{ind.id}: criterion id {node.id!r} is used twice")
                crit_ids.add(node.id)
        for reg in ind.regulatory:
            _check_refs(f"{ind.id}.regulatory", reg.sources, sources, problems)
            for event in reg.history:
                _check_refs(f"{ind.id}.regulatory.history", event.sources, sources, problems)
        linked: list[Trial] = []
        evidence: list[EvidenceOut] = []
        for ref in ind.trials:
            linked_trial = trials.get(ref.id)
            if linked_trial is None:
                problems.append(f"{ind.id}: unknown trial {ref.id!r}")
                continue
            trial = linked_trial
            known = {r.id for r in trial.results}
            for rid in ref.results or ():
                if rid not in known:
                    problems.append(f"{ind.id}: trial {ref.id} has no result {rid!r}")
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
        try:
            nodes = tuple(compile_criterion(c, table) for c in (*ind.criteria, *_progression_criteria(ind)))
            setting_node = compile_criterion(
                Criterion.model_validate(
                    {"id": "setting", "text": ind.setting_text, "fact": "setting", "in": list(ind.setting)}
                ),
                table,
            )
        except KnowledgeBaseError as exc:
            problems.append(f"{ind.id}: {exc}")
            continue
        reads = sorted(setting_node.reads.union(*(n.reads for n in nodes)))
        regulatory = tuple(
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
        level = _evidence_level(linked)
        fda = [r for r in ind.regulatory if r.agency == "FDA"]
        pathway_rank = 2 if not fda else (0 if fda[0].status == "regular" else 1)
        approval_rank = 0 if ind.approval_kind == "fda_approved" else 1
        recency = -fda[0].approval_date.toordinal() if fda else 0  # newer approvals first among equals
        compiled.append(
            CompiledIndication(
                index=len(compiled),
                entry=ind,
                tumors=tumor_set,
                setting_node=setting_node,
                nodes=nodes,
                reads=tuple(reads),
                key_of=operator.attrgetter(*reads),
                regulatory=regulatory,
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
        )
    if problems:
        raise KnowledgeBaseError("therapy knowledge is inconsistent:\n  " + "\n  ".join(problems))
    return TherapyKnowledge(
        drugs=table,
        drugs_file=drugs_file,
        trials=trials,
        tumor_sets=tumor_sets,
        histology=histology,
        indications=tuple(compiled),
    )


def all_criteria(ind: Indication) -> list[Criterion]:
    """Every criterion node of an indication (for documentation and tests)."""
    out: list[Criterion] = []
    for crit in (*ind.criteria, *_progression_criteria(ind)):
        out.extend(walk(crit))
    return out
