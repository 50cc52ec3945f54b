"""Load and validate the therapy knowledge (``<kb root>/therapy/*.yaml``): drugs, trials, tumor sets, indications.

This is the knowledge layer's part: parse the files (:mod:`her2cds.knowledge.therapy_schema`), build the drug
table (:mod:`her2cds.knowledge.drugs`) and check every cross-reference — source ids, OncoTree codes, drug and
trial names, result ids, criterion ids. Compiling the criteria into evaluators is the therapy layer's job
(:func:`her2cds.therapy.knowledge.compile_therapy`), which also checks criterion values (D11.1).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.drugs import DrugTable
from her2cds.knowledge.loader import parse_file
from her2cds.knowledge.schema import Source, SourceRef
from her2cds.knowledge.therapy_schema import (
    Criterion,
    DrugsFile,
    Histology,
    Indication,
    IndicationsFile,
    Trial,
    TrialsFile,
    TumorSet,
    walk,
)

_WHAT = "therapy knowledge file"


@dataclass(frozen=True)
class TherapyData:
    """The validated therapy knowledge, as entries. Immutable; safe to share between threads."""

    drugs: DrugTable
    drugs_file: DrugsFile
    trials: Mapping[str, Trial]
    tumor_sets: Mapping[str, TumorSet]
    histology: Histology
    indications: tuple[Indication, ...]

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every therapy entry as a JSON-ready dict with at least id, kind, sources and status."""

        def dump(model: BaseModel, kind: str) -> dict[str, Any]:
            data = model.model_dump(mode="json", exclude_none=True, by_alias=True)
            return {"kind": kind, **data}

        for cls in self.drugs_file.classes:
            yield dump(cls, "drug_class")
        for drug in self.drugs_file.drugs:
            yield dump(drug, "drug")
        for regimen in self.drugs_file.regimens:
            yield dump(regimen, "regimen")
        for tumor_set in self.tumor_sets.values():
            yield dump(tumor_set, "tumor_set")
        for trial in self.trials.values():
            yield dump(trial, "trial")
        for ind in self.indications:
            yield dump(ind, "indication")


def progression_criteria(ind: Indication) -> list[Criterion]:
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


def criteria_of(ind: Indication) -> tuple[Criterion, ...]:
    """The indication's criterion trees, the generated ones included, in evaluation order."""
    return (*ind.criteria, *progression_criteria(ind))


def all_criteria(ind: Indication) -> list[Criterion]:
    """Every criterion node of an indication (for documentation and tests)."""
    out: list[Criterion] = []
    for crit in criteria_of(ind):
        out.extend(walk(crit))
    return out


def _check_refs(owner: str, refs: list[SourceRef], sources: Mapping[str, Source], problems: list[str]) -> None:
    for ref in refs:
        if ref.id not in sources:
            problems.append(f"{owner}: unknown source {ref.id!r}")


def load_therapy_data(root: Path, sources: Mapping[str, Source], tumor_codes: Collection[str]) -> TherapyData:
    """Load ``root / "therapy"`` and validate it against ``sources`` and the OncoTree codes.

    Raises :class:`her2cds.errors.KnowledgeBaseError` listing every problem found.
    """
    folder = root / "therapy"
    drugs_file = parse_file(DrugsFile, folder / "drugs.yaml", _WHAT)
    trials_file = parse_file(TrialsFile, folder / "trials.yaml", _WHAT)
    ind_file = parse_file(IndicationsFile, folder / "indications.yaml", _WHAT)
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

    for ind in ind_file.indications:
        unique(ind.id)
        _check_refs(ind.id, ind.sources, sources, problems)
        if ind.tumors not in tumor_sets:
            problems.append(f"{ind.id}: unknown tumor set {ind.tumors!r}")
            continue
        for inn in ind.drugs:
            if not table.has_inn(inn):
                problems.append(f"{ind.id}: unknown drug {inn!r} (not in the drug-class table)")
        crit_ids: set[str] = {"tumor", "setting"}
        for crit in criteria_of(ind):
            for node in walk(crit):
                if node.id in crit_ids:
                    problems.append(f"{ind.id}: criterion id {node.id!r} is used twice")
                crit_ids.add(node.id)
        for reg in ind.regulatory:
            _check_refs(f"{ind.id}.regulatory", reg.sources, sources, problems)
            for event in reg.history:
                _check_refs(f"{ind.id}.regulatory.history", event.sources, sources, problems)
        for ref in ind.trials:
            linked = trials.get(ref.id)
            if linked is None:
                problems.append(f"{ind.id}: unknown trial {ref.id!r}")
                continue
            known = {r.id for r in linked.results}
            for rid in ref.results or ():
                if rid not in known:
                    problems.append(f"{ind.id}: trial {ref.id} has no result {rid!r}")
    if problems:
        raise KnowledgeBaseError("therapy knowledge is inconsistent:\n  " + "\n  ".join(problems))
    return TherapyData(
        drugs=table,
        drugs_file=drugs_file,
        trials=trials,
        tumor_sets=tumor_sets,
        histology=histology,
        indications=tuple(ind_file.indications),
    )
