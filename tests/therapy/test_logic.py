"""Three-valued (Kleene) logic of eligibility trees: unknown is not false, and it propagates."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from her2cds.knowledge.therapy_schema import Criterion
from her2cds.therapy import TherapyFacts, TherapyKnowledge
from her2cds.therapy.criteria import Context, compile_criterion, decide_squamous

# Two independent leaves; the case decides whether each is met, not met or unknown.
LEAF_A: dict[str, Any] = {"id": "a", "text": "metastatic", "fact": "setting", "in": ["metastatic"]}
LEAF_B: dict[str, Any] = {"id": "b", "text": "KRAS wild-type", "fact": "biomarker.kras", "in": ["wild_type"]}
SETTING = {"met": "metastatic", "not_met": "early", "unknown": None}
KRAS = {"met": "wild_type", "not_met": "mutant", "unknown": None}
VALUES = ("met", "not_met", "unknown")


def _ctx(tk: TherapyKnowledge, a: str, b: str) -> Context:
    facts = TherapyFacts(tumor_code="COAD", lineage=("COAD", "COADREAD", "BOWEL"), setting=SETTING[a], kras=KRAS[b])
    return Context(facts=facts, resolution=tk.drugs.resolve(()), squamous=decide_squamous(facts, tk.histology))


def _eval(tk: TherapyKnowledge, tree: dict[str, Any], a: str, b: str) -> str:
    node = compile_criterion(Criterion.model_validate(tree), tk.drugs)
    return node.evaluate(_ctx(tk, a, b)).result


def kleene_and(x: str, y: str) -> str:
    if "not_met" in (x, y):
        return "not_met"
    return "unknown" if "unknown" in (x, y) else "met"


def kleene_or(x: str, y: str) -> str:
    if "met" in (x, y):
        return "met"
    return "unknown" if "unknown" in (x, y) else "not_met"


def kleene_not(x: str) -> str:
    return {"met": "not_met", "not_met": "met", "unknown": "unknown"}[x]


@pytest.mark.parametrize("a", VALUES)
@pytest.mark.parametrize("b", VALUES)
def test_all_any_truth_tables(tk: TherapyKnowledge, a: str, b: str) -> None:
    assert _eval(tk, LEAF_A, a, b) == a
    assert _eval(tk, LEAF_B, a, b) == b
    assert _eval(tk, {"id": "x", "text": "both", "all": [LEAF_A, LEAF_B]}, a, b) == kleene_and(a, b)
    assert _eval(tk, {"id": "x", "text": "either", "any": [LEAF_A, LEAF_B]}, a, b) == kleene_or(a, b)


@pytest.mark.parametrize("a", VALUES)
def test_not_keeps_unknown(tk: TherapyKnowledge, a: str) -> None:
    assert _eval(tk, {"id": "x", "text": "not metastatic", "not": LEAF_A}, a, "met") == kleene_not(a)


def test_unknown_is_not_false(tk: TherapyKnowledge) -> None:
    """If unknown were treated as false, not(unknown) would be met; it must stay unknown."""
    tree = {"id": "x", "text": "not metastatic", "not": LEAF_A}
    assert _eval(tk, tree, "unknown", "met") == "unknown"
    node = compile_criterion(Criterion.model_validate(LEAF_A), tk.drugs)
    out = node.evaluate(_ctx(tk, "unknown", "met"))
    assert out.needs == ("disease setting (early, locally advanced or metastatic)",)
    assert "not reported" in out.reason


def _tree(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    leaves = st.sampled_from([LEAF_A, LEAF_B])
    if depth == 0:
        return leaves
    sub = _tree(depth - 1)
    return st.one_of(
        leaves,
        st.lists(sub, min_size=1, max_size=3).map(lambda cs: {"id": "all", "text": "all", "all": cs}),
        st.lists(sub, min_size=1, max_size=3).map(lambda cs: {"id": "any", "text": "any", "any": cs}),
        sub.map(lambda c: {"id": "not", "text": "not", "not": c}),
    )


def _reference(tree: dict[str, Any], a: str, b: str) -> str:
    if "fact" in tree:
        return a if tree["id"] == "a" else b
    if "all" in tree:
        result = "met"
        for child in tree["all"]:
            result = kleene_and(result, _reference(child, a, b))
        return result
    if "any" in tree:
        result = "not_met"
        for child in tree["any"]:
            result = kleene_or(result, _reference(child, a, b))
        return result
    return kleene_not(_reference(tree["not"], a, b))


@given(tree=_tree(3), a=st.sampled_from(VALUES), b=st.sampled_from(VALUES))
def test_random_trees_follow_kleene_logic(tk: TherapyKnowledge, tree: dict[str, Any], a: str, b: str) -> None:
    assert _eval(tk, tree, a, b) == _reference(tree, a, b)


def test_unknown_children_contribute_needs_only_when_the_node_is_unknown(tk: TherapyKnowledge) -> None:
    either = {"id": "x", "text": "either", "any": [LEAF_A, LEAF_B]}
    node = compile_criterion(Criterion.model_validate(either), tk.drugs)
    decided = node.evaluate(_ctx(tk, "met", "unknown"))
    assert decided.result == "met"
    assert decided.needs == ()
    undecided = node.evaluate(_ctx(tk, "not_met", "unknown"))
    assert undecided.result == "unknown"
    assert undecided.needs == ("KRAS mutation status",)


@pytest.mark.parametrize("status", ["equivocal", "indeterminate", None])
def test_undetermined_her2_status_is_unknown(tk: TherapyKnowledge, status: str | None) -> None:
    leaf = {"id": "h", "text": "HER2-positive", "fact": "her2.status", "in": ["positive"]}
    node = compile_criterion(Criterion.model_validate(leaf), tk.drugs)
    facts = TherapyFacts(tumor_code="STAD", lineage=("STAD",), her2_status=status)
    ctx = Context(facts=facts, resolution=tk.drugs.resolve(()), squamous=decide_squamous(facts, tk.histology))
    assert node.evaluate(ctx).result == "unknown"


def test_negative_her2_status_is_not_met(tk: TherapyKnowledge) -> None:
    leaf = {"id": "h", "text": "HER2-positive", "fact": "her2.status", "in": ["positive"]}
    node = compile_criterion(Criterion.model_validate(leaf), tk.drugs)
    facts = TherapyFacts(tumor_code="STAD", lineage=("STAD",), her2_status="negative")
    ctx = Context(facts=facts, resolution=tk.drugs.resolve(()), squamous=decide_squamous(facts, tk.histology))
    assert node.evaluate(ctx).result == "not_met"


@pytest.mark.parametrize(
    ("prior_lines", "agents", "expected"),
    [
        pytest.param(None, (), "unknown", id="nothing-reported"),
        pytest.param(0, (), "not_met", id="no-prior-therapy"),
        pytest.param(1, (), "unknown", id="lines-without-agents"),
        pytest.param(None, ("FOLFOX",), "not_met", id="complete-list-without-class"),
        pytest.param(None, ("FOLFOX", "trastuzumab"), "met", id="class-present"),
        pytest.param(1, ("FOLFOX", "who-knows"), "unknown", id="unrecognised-agent"),
        pytest.param(1, ("who-knows", "Herceptin"), "met", id="recognised-agent-wins"),
    ],
)
def test_prior_class_three_valued(
    tk: TherapyKnowledge, prior_lines: int | None, agents: tuple[str, ...], expected: str
) -> None:
    leaf = {
        "id": "p",
        "text": "prior trastuzumab",
        "fact": "history.prior_class",
        "classes": ["drug-class.trastuzumab"],
    }
    node = compile_criterion(Criterion.model_validate(leaf), tk.drugs)
    facts = TherapyFacts(tumor_code="STAD", lineage=("STAD",), prior_lines=prior_lines, prior_agents=agents)
    ctx = Context(facts=facts, resolution=tk.drugs.resolve(agents), squamous=decide_squamous(facts, tk.histology))
    assert node.evaluate(ctx).result == expected


@pytest.mark.parametrize(
    ("code", "histology", "expected"),
    [
        pytest.param("LUSC", None, True, id="lusc-code"),
        pytest.param("LUAD", None, False, id="luad-code"),
        pytest.param("LUAS", None, None, id="adenosquamous-code"),
        pytest.param("NSCLC", None, None, id="nos-without-text"),
        pytest.param("NSCLC", "Squamous cell carcinoma", True, id="text-squamous"),
        pytest.param("NSCLC", "nonsquamous", False, id="text-nonsquamous"),
        pytest.param("NSCLC", "adenocarcinoma", False, id="text-adenocarcinoma"),
        pytest.param("NSCLC", "adenosquamous carcinoma", None, id="text-adenosquamous"),
        pytest.param("NSCLC", "NSCLC NOS", None, id="text-nos"),
        pytest.param("LUAD", "squamous features", True, id="squamous-wins"),
    ],
)
def test_squamous_decision(tk: TherapyKnowledge, code: str, histology: str | None, expected: bool | None) -> None:
    lineage = {"LUSC": ("LUSC", "NSCLC", "LUNG"), "LUAD": ("LUAD", "NSCLC", "LUNG"), "LUAS": ("LUAS", "NSCLC", "LUNG")}
    facts = TherapyFacts(tumor_code=code, lineage=lineage.get(code, (code, "LUNG")), histology=histology)
    assert decide_squamous(facts, tk.histology).value is expected
