"""Boundary tests generated from the knowledge base's thresholds: value - eps, value, value + eps.

Every threshold states its operator; these tests check that the engine honours it exactly (">10%" in breast,
"≥10%" in gastric, ratio ≥2.0, copies ≥4.0 and ≥6.0, ≥50% in HERACLES, ≥5-cell clusters, tumor fraction ≥1%).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import pytest

import her2cds
from her2cds.engine import Engine
from her2cds.knowledge.loader import KnowledgeBase, default_knowledge_base
from her2cds.rules.compiled import CompiledRule

OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, ">": operator.gt, "<": operator.lt,
                                                  "<=": operator.le}
EPS = {"percent_cells": 0.01, "cluster_cells": 1, "ratio": 0.001, "her2_per_cell": 0.001,
       "percent_cells_amplified": 0.01, "cells_counted": 1, "tumor_fraction": 0.0001}


def _conditions() -> list[tuple[str, str, str, float, str]]:
    kb = default_knowledge_base()
    out: list[tuple[str, str, str, float, str]] = []
    for rule in kb.rules.values():
        for cond in rule.when:
            if cond.threshold:
                t = kb.thresholds[cond.threshold]
                out.append((rule.id, cond.measure, t.id, t.value, t.quantity))
    return out


CONDITIONS = _conditions()


def test_every_threshold_is_used_by_some_rule() -> None:
    kb = default_knowledge_base()
    used = {c[2] for c in CONDITIONS}
    assert set(kb.thresholds) <= used, sorted(set(kb.thresholds) - used)


@pytest.mark.parametrize(("rule_id", "measure", "threshold_id", "value", "quantity"), CONDITIONS,
                         ids=[f"{c[0]}:{c[1]}" for c in CONDITIONS])
def test_condition_honours_operator_at_boundary(
    engine: Engine, rule_id: str, measure: str, threshold_id: str, value: float, quantity: str
) -> None:
    compiled: CompiledRule = engine.ck.rules[rule_id]
    cond = next(c for c in compiled.conditions if c.threshold_id == threshold_id and c.measure == measure)
    t = engine.kb.thresholds[threshold_id]
    eps = EPS[quantity]
    for observed in (value - eps, value, value + eps):
        expected = OPS[t.operator](observed, value) is not cond.negate
        assert cond.holds({measure: observed}) is expected, (rule_id, observed)
    assert cond.holds({}) is None, "a missing measure is unknown, never false"


PATTERN = {"pct.strong_complete": "strong_complete", "pct.complete": "weak_moderate_complete",
           "pct.any_membrane": "faint_incomplete", "pct.intense_incomplete": "intense_incomplete"}
SYSTEM_CODE = {"asco-cap-2018.breast": "BRCA", "cap-ascp-asco-2016.gea": "STAD", "heracles.crc": "COAD",
               "buza-2021.endometrial-serous": "USC"}


def _ihc_percent_cases() -> list[tuple[str, str, str, float, float]]:
    kb = default_knowledge_base()
    cases: list[tuple[str, str, str, float, float]] = []
    for system in kb.systems.values():
        for rule in system.rules:
            if rule.stage != "ihc_percent":
                continue
            for cond in rule.when:
                if cond.threshold and not cond.negate:
                    t = kb.thresholds[cond.threshold]
                    for observed in (t.value - 0.01, t.value, t.value + 0.01):
                        cases.append((system.id, rule.id, cond.measure, t.value, observed))
    return cases


@pytest.mark.parametrize(("system_id", "rule_id", "measure", "value", "observed"), _ihc_percent_cases())
def test_ihc_percent_rule_fires_exactly_per_operator(
    kb: KnowledgeBase, system_id: str, rule_id: str, measure: str, value: float, observed: float
) -> None:
    percent = {PATTERN[measure]: observed}
    case: dict[str, Any] = {
        "tumor": {"oncotree_code": SYSTEM_CODE[system_id], "scoring_system": system_id},
        "specimens": [{"id": "S1", "procedure": "resection", "site": "primary", "ihc": {"percent": percent}}],
    }
    fired = {e.rule for e in her2cds.assess(case).trace}
    rule = next(r for r in kb.systems[system_id].rules if r.id == rule_id)
    t = next(kb.thresholds[c.threshold] for c in rule.when if c.measure == measure and c.threshold)
    assert (rule_id in fired) is OPS[t.operator](observed, value), (rule_id, observed, sorted(fired))


@pytest.mark.parametrize(
    ("strong", "expected_score"),
    [(9.99, "2+"), (10, "2+"), (10.01, "3+")],  # breast: >10% (the unusual ≤10% intense pattern is 2+)
)
def test_breast_exact_ten_percent_is_not_3plus(strong: float, expected_score: str) -> None:
    case = {"tumor": {"oncotree_code": "IDC"}, "specimens": [
        {"id": "S1", "procedure": "resection", "site": "primary", "ihc": {"percent": {"strong_complete": strong}}}]}
    assert her2cds.assess(case).specimens[0].ihc_score == expected_score


@pytest.mark.parametrize(("strong", "expected_score"), [(9.99, "0"), (10, "3+"), (10.01, "3+")])
def test_gastric_exact_ten_percent_is_3plus(strong: float, expected_score: str) -> None:
    case = {"tumor": {"oncotree_code": "STAD"}, "specimens": [
        {"id": "S1", "procedure": "resection", "site": "primary", "ihc": {"percent": {"strong_complete": strong}}}]}
    assert her2cds.assess(case).specimens[0].ihc_score == expected_score


@pytest.mark.parametrize(("cells", "expected_score"), [(4, "0"), (5, "3+"), (6, "3+")])
def test_gastric_biopsy_cluster_of_five(cells: int, expected_score: str) -> None:
    case = {"tumor": {"oncotree_code": "GEJ"}, "specimens": [
        {"id": "S1", "procedure": "biopsy", "site": "primary", "ihc": {"cluster_cells": {"strong_complete": cells}}}]}
    assert her2cds.assess(case).specimens[0].ihc_score == expected_score


@pytest.mark.parametrize(
    ("her2", "cep17", "group"),
    [(8.0, 4.0, 1), (7.996, 4.0, 3), (4.0, 2.0, 1), (3.999, 1.9995, 2), (5.999, 3.5, 4), (6.0, 3.5, 3),
     (3.999, 3.0, 5), (4.0, 3.0, 4)],
)
def test_breast_ish_groups_at_ratio_and_copy_boundaries(her2: float, cep17: float, group: int) -> None:
    case = {"tumor": {"oncotree_code": "BRCA"}, "specimens": [
        {"id": "S1", "procedure": "resection", "site": "primary",
         "ish": {"her2_per_cell": her2, "cep17_per_cell": cep17}}]}
    assert her2cds.assess(case).specimens[0].ish_group == group


@pytest.mark.parametrize(("ratio", "status"), [(1.99, "negative"), (2.0, "positive"), (2.01, "positive")])
def test_gastric_ratio_two(ratio: float, status: str) -> None:
    case = {"tumor": {"oncotree_code": "STAD"}, "specimens": [
        {"id": "S1", "procedure": "resection", "site": "primary", "ihc": {"score": "2+"}, "ish": {"ratio": ratio}}]}
    assert her2cds.assess(case).specimens[0].status == status


@pytest.mark.parametrize(("cells", "status"), [(49.99, "negative"), (50, "positive"), (50.01, "positive")])
def test_heracles_fifty_percent_of_cells_amplified(cells: float, status: str) -> None:
    case = {"tumor": {"oncotree_code": "READ"}, "specimens": [
        {"id": "S1", "procedure": "resection", "site": "primary",
         "ihc": {"percent": {"weak_moderate_complete": 60}}, "ish": {"ratio": 2.5, "percent_cells_amplified": cells}}]}
    assert her2cds.assess(case).specimens[0].status == status


@pytest.mark.parametrize(("tf", "amplification"), [(0.0099, "not_informative"), (0.01, "not_amplified"),
                                                   (0.0101, "not_amplified"), (None, "not_informative")])
def test_plasma_tumor_fraction_one_percent(tf: float | None, amplification: str) -> None:
    case = {"tumor": {"oncotree_code": "LUAD"}, "specimens": [
        {"id": "P1", "procedure": "plasma", "ngs": {"erbb2_variants": [], "tumor_fraction": tf}}]}
    result = her2cds.assess(case)
    ngs = result.specimens[0].ngs
    assert ngs is not None
    assert ngs.amplification == amplification
    assert result.her2.status != "negative"  # plasma never makes a patient negative
