"""Cross-file integrity checks run at every load (``her2cds kb validate`` reports them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.schema import MEASURE_QUANTITY, SourceRef

if TYPE_CHECKING:
    from her2cds.knowledge.loader import KnowledgeBase


def _check_refs(kb: KnowledgeBase, owner: str, refs: Iterable[SourceRef], problems: list[str]) -> None:
    for ref in refs:
        if ref.id not in kb.sources:
            problems.append(f"{owner}: unknown source {ref.id!r}")


def check_integrity(kb: KnowledgeBase) -> None:
    problems: list[str] = []
    _check_refs(kb, "tumor_types", [kb.tumor_source], problems)
    _check_refs(kb, "families.excluded_roots", kb.excluded_sources, problems)
    _check_refs(kb, "variants.kinase_domain", kb.kinase_domain_sources, problems)
    for code, tumor in kb.tumor_types.items():
        if tumor.parent is not None and tumor.parent not in kb.tumor_types:
            problems.append(f"tumor type {code}: parent {tumor.parent!r} is not in the table")
    for root in kb.excluded_roots:
        if root not in kb.tumor_types:
            problems.append(f"excluded root {root!r} is not a known tumor type")
    fallbacks = [f.id for f in kb.families if f.fallback]
    if len(fallbacks) != 1:
        problems.append(f"exactly one fallback tumor family is required, found {fallbacks}")
    for family in kb.families:
        _check_refs(kb, family.id, family.sources, problems)
        for root in family.roots:
            if root not in kb.tumor_types:
                problems.append(f"{family.id}: root {root!r} is not a known tumor type")
        if family.scoring_system not in kb.systems:
            problems.append(f"{family.id}: unknown scoring system {family.scoring_system!r}")
    for system in kb.systems.values():
        _check_refs(kb, system.id, system.sources, problems)
    for entry in kb.thresholds.values():
        _check_refs(kb, entry.id, entry.sources, problems)
    for rule in kb.rules.values():
        _check_refs(kb, rule.id, rule.sources, problems)
        problems += [f"{rule.id}: unknown recommendation code {c!r}" for c in rule.recommend if c not in kb.codes]
        for cond in rule.when:
            if cond.threshold is None:
                continue
            threshold = kb.thresholds.get(cond.threshold)
            if threshold is None:
                problems.append(f"{rule.id}: unknown threshold {cond.threshold!r}")
            elif threshold.quantity != MEASURE_QUANTITY[cond.measure]:
                problems.append(
                    f"{rule.id}: threshold {threshold.id} is for {threshold.quantity}, used on {cond.measure}"
                )
    for cset in kb.criteria_sets.values():  # keyed by guideline source id
        _check_refs(kb, cset.id, cset.sources, problems)
        if cset.guideline not in kb.sources:
            problems.append(f"{cset.id}: unknown guideline source {cset.guideline!r}")
    if kb.criteria_sets and sum(c.current for c in kb.criteria_sets.values()) != 1:
        problems.append("exactly one criteria set must be the current one")
    legacy_sets = {r.id.split(".", 1)[0] for r in kb.rules.values() if r.stage == "legacy"}
    problems += [f"legacy rules {s}.*: no criteria set {s!r}" for s in sorted(legacy_sets - kb.criteria_sets.keys())
                 if kb.criteria_sets]
    for variant in kb.variants:
        _check_refs(kb, variant.id, variant.sources, problems)
    for code_def in kb.codes.values():
        _check_refs(kb, code_def.id, code_def.sources, problems)
    family_ids = {f.id for f in kb.families}
    for indication in kb.testing:
        _check_refs(kb, indication.id, indication.sources, problems)
        for fid in indication.families:
            if fid not in family_ids:
                problems.append(f"{indication.id}: unknown family {fid!r}")
        for root in indication.roots:
            if root not in kb.tumor_types:
                problems.append(f"{indication.id}: root {root!r} is not a known tumor type")
    for source in kb.sources.values():
        if source.type in ("trial",) and not source.nct:
            problems.append(f"source {source.id}: a trial source needs its NCT id")
    if problems:
        raise KnowledgeBaseError("knowledge base is inconsistent:\n  " + "\n  ".join(problems))
