"""Unverified variant knowledge never decides an answer without the case's opt-in (issue 11, D11.3).

For EVERY unverified entry of the variant knowledge — variant entries, variant classes, domain ranges and
label-set memberships (an unverified membership on a verified entry counts) — the answer is the same as if the
entry were not in the knowledge base: the variant's classification (activating, kinase domain, domain, label sets)
and the whole assessment of a case carrying the variant (HER2 summary, flags, every therapy option's outcome and
criteria). With ``include_unverified: true`` the entry is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from her2cds.engine import Engine
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.knowledge.schema import Variant, VariantClass
from her2cds.knowledge.variants import build_variant_index, normalize_protein
from her2cds.rules.ngs import classify_variant

DECIDING = ("activating", "kinase_domain", "domain", "label_sets")


def _unverified(kb: KnowledgeBase) -> Iterator[tuple[str, str, KnowledgeBase]]:
    """(label, a variant it concerns, the knowledge base without it) for every unverified variant-knowledge entry."""
    variants = list(kb.variants)
    for i, variant in enumerate(variants):
        if variant.status != "verified":
            rest = variants[:i] + variants[i + 1:]
            yield variant.id, variant.hgvs_p, _with_variants(kb, rest)
        for ls in variant.label_sets:
            if ls.status != "verified":
                trimmed = variant.model_copy(update={"label_sets": [x for x in variant.label_sets if x is not ls]})
                yield f"{variant.id} in {ls.id}", variant.hgvs_p, _with_variants(kb, [*variants[:i], trimmed,
                                                                                      *variants[i + 1:]])
    for j, cls in enumerate(kb.variant_classes):
        examples = [v.hgvs_p for v in variants if _in_class(cls, v)]
        if cls.status != "verified":
            rest_classes = kb.variant_classes[:j] + kb.variant_classes[j + 1:]
            for hgvs in examples:
                yield cls.id, hgvs, dataclasses.replace(kb, variant_classes=rest_classes)
        for ls in cls.label_sets:
            if ls.status != "verified":
                trimmed_cls = cls.model_copy(update={"label_sets": [x for x in cls.label_sets if x is not ls]})
                classes = (*kb.variant_classes[:j], trimmed_cls, *kb.variant_classes[j + 1:])
                for hgvs in examples:
                    yield f"{cls.id} in {ls.id}", hgvs, dataclasses.replace(kb, variant_classes=classes)


def _in_class(cls: VariantClass, variant: Variant) -> bool:
    from her2cds.knowledge.variants import class_for

    return class_for([cls], normalize_protein(variant.hgvs_p)) is not None


def _with_variants(kb: KnowledgeBase, variants: list[Variant]) -> KnowledgeBase:
    return dataclasses.replace(kb, variants=tuple(variants), variant_index=build_variant_index(variants))


def _deciding(kb: KnowledgeBase, hgvs: str, opt_in: bool = False) -> dict[str, Any]:
    result = classify_variant(kb, hgvs, include_unverified=opt_in)
    return {name: getattr(result, name) for name in DECIDING}


def _case(hgvs: str, opt_in: bool = False) -> dict[str, Any]:
    """Previously treated metastatic lung adenocarcinoma with the variant on tissue NGS (the NSCLC labels read it)."""
    return {
        "tumor": {"oncotree_code": "LUAD", "setting": "metastatic"},
        "specimens": [{"id": "T1", "procedure": "biopsy", "site": "primary", "ngs": {"erbb2_variants": [hgvs]}}],
        "history": {"prior_lines": 1, "prior_agents": ["carboplatin", "pemetrexed"]},
        "assessed_on": "2026-11-29",
        "include_unverified": opt_in,
    }


def _answer(engine: Engine, hgvs: str, opt_in: bool = False) -> dict[str, Any]:
    assessment = engine.assess(_case(hgvs, opt_in))
    return {
        "her2": assessment.her2.model_dump(mode="json"),
        "flags": sorted(f.code for f in assessment.flags),
        "therapies": [(t.id, t.outcome, [(c.id, c.result) for c in t.criteria]) for t in assessment.therapies],
    }


def test_the_knowledge_base_has_unverified_variant_entries(kb: KnowledgeBase) -> None:
    labels = [label for label, _, _ in _unverified(kb)]
    assert len(labels) >= 6, labels  # this test must see the entries it guards
    assert any(" in " in label for label in labels), "unverified label-set memberships are covered"


def test_no_unverified_variant_entry_decides_an_answer_by_default(kb: KnowledgeBase) -> None:
    engine = Engine(kb)
    problems: list[str] = []
    for label, hgvs, without in _unverified(kb):
        got, expected = _deciding(kb, hgvs), _deciding(without, hgvs)
        if got != expected:
            problems.append(f"{label}: classifies {hgvs} {got} (without it: {expected})")
        if _answer(engine, hgvs) != _answer(Engine(without), hgvs):
            problems.append(f"{label}: changes the assessment of a case with {hgvs}")
    assert not problems, problems


def test_the_opt_in_uses_unverified_entries(kb: KnowledgeBase) -> None:
    used = [(label, hgvs) for label, hgvs, without in _unverified(kb)
            if _deciding(kb, hgvs, opt_in=True) != _deciding(without, hgvs, opt_in=True)]
    assert used, "with include_unverified, at least one unverified entry changes a classification"
    engine = Engine(kb)
    hgvs = next(h for lab, h in used if lab == "erbb2.v659e")
    assert _answer(engine, hgvs, opt_in=True) != _answer(engine, hgvs)
    assessment = engine.assess(_case(hgvs, opt_in=True))
    assert assessment.her2.erbb2_activating_mutations == ["p.V659E"]
    assert any("unverified entry, used by the include_unverified opt-in" in (t.detail or "") for t in assessment.trace)


@pytest.mark.parametrize("hgvs", ["p.V659E", "p.G776V", "p.G776C"])
def test_unverified_entries_read_as_unknown_significance(kb: KnowledgeBase, hgvs: str) -> None:
    result = classify_variant(kb, hgvs)
    assert result.activating is None and result.label_sets == []
