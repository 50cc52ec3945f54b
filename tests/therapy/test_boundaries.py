"""Boundary tests generated from the data: every numeric criterion at value - ε, value and value + ε."""

from __future__ import annotations

import operator
from collections.abc import Iterator

import pytest

from her2cds.knowledge.loader import KnowledgeBase, default_knowledge_base
from her2cds.knowledge.therapy import all_criteria
from her2cds.knowledge.therapy_schema import Criterion
from her2cds.therapy import TherapyFacts, TherapyKnowledge, load_therapy_knowledge
from her2cds.therapy.criteria import Context, compile_criterion, decide_squamous

OPS = {">=": operator.ge, ">": operator.gt, "<": operator.lt, "<=": operator.le, "==": operator.eq}
ATTR = {"biomarker.pd_l1_cps": "pd_l1_cps", "history.prior_lines": "prior_lines"}


def _numeric_criteria() -> Iterator[tuple[str, Criterion]]:
    kb = default_knowledge_base()
    tk = load_therapy_knowledge(kb.root, kb.sources, kb.tumor_types)
    for ind in tk.indications:
        for crit in all_criteria(ind.entry):
            if crit.fact in ATTR:
                yield ind.entry.id, crit


PARAMS = [
    pytest.param(crit, value, id=f"{ind_id}:{crit.id}:{value:g}")
    for ind_id, crit in _numeric_criteria()
    for value in sorted(
        {(crit.value or 0) + d for d in (-1.0, -0.01, 0.0, 0.01, 1.0)}
        if crit.fact == "biomarker.pd_l1_cps"
        else {int(crit.value or 0) + d for d in (-1, 0, 1)}
    )
    if value >= 0
]


@pytest.mark.parametrize(("crit", "value"), PARAMS)
def test_numeric_boundary(kb: KnowledgeBase, tk: TherapyKnowledge, crit: Criterion, value: float) -> None:
    assert crit.fact is not None and crit.op is not None and crit.value is not None
    node = compile_criterion(crit, tk.drugs)
    number: float | int
    if crit.fact == "biomarker.pd_l1_cps":
        number = value
        facts = TherapyFacts(tumor_code="STAD", lineage=kb.lineage("STAD"), pd_l1_cps=number)
    else:
        number = int(value)
        facts = TherapyFacts(tumor_code="STAD", lineage=kb.lineage("STAD"), prior_lines=number)
    ctx = Context(facts=facts, resolution=tk.drugs.resolve(()), squamous=decide_squamous(facts, tk.histology))
    expected = "met" if OPS[crit.op](number, crit.value) else "not_met"
    assert node.evaluate(ctx).result == expected


def test_boundaries_were_generated() -> None:
    assert len(PARAMS) >= 20


def test_pd_l1_threshold_is_the_labels_cps_at_least_1(tk: TherapyKnowledge) -> None:
    """KEYNOTE-811 / FDA 2023 restriction: CPS ≥1 (inclusive)."""
    crit = next(c for c in all_criteria(tk.get("fda.pembrolizumab.gastric-first-line").entry) if c.id == "pd-l1-cps")
    assert (crit.op, crit.value) == (">=", 1)
