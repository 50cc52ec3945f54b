"""Each indication's generated decision function (D14.10) decides exactly what its criterion trees decide: every
criterion's result, the option's outcome and its needs, recomputed here from the trees' outcomes (with their
reasons) by the rules of three-valued matching, on every golden case and on generated cases, with and without
the unverified indications."""

from __future__ import annotations

from collections import Counter

from her2cds.engine import default_engine
from her2cds.errors import Her2CdsError
from her2cds.therapy.criteria import AllNode, AnyNode, Node, NotNode
from her2cds.therapy.matching import Option
from tests.therapy.engine_cases import engine_cases


def _reference(option: Option) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(results, needs, outcome) from the criterion trees' outcomes, as matching decided them before D14.10."""
    outs = option.outs
    results = tuple(out.result for out in outs)
    if "not_met" in results:
        outcome = "not_eligible"
    elif "unknown" in results:
        outcome = "insufficient_data"
    else:
        return results, (), "eligible"
    needs: list[str] = []
    for out in outs:
        needs += [need for need in out.needs if need not in needs]
    return results, tuple(needs), outcome


def _kinds(node: Node) -> set[str]:
    if isinstance(node, AllNode | AnyNode):
        return {type(node).__name__}.union(*(_kinds(child) for child in node.children))
    if isinstance(node, NotNode):
        return {"NotNode"} | _kinds(node.child)
    return {"Leaf"}


def test_decision_functions_agree_with_the_criterion_trees() -> None:
    engine = default_engine()
    tk = engine.therapy
    assert tk is not None
    kinds = set().union(*(_kinds(node) for ind in tk.indications for node in (ind.setting_node, *ind.nodes)))
    assert kinds == {"Leaf", "AllNode", "AnyNode", "NotNode"}  # every node type is compiled on this knowledge base
    seen: Counter[str] = Counter()
    options = 0
    for case in engine_cases(600, 99):
        try:
            evaluation = engine.evaluate(case)
        except Her2CdsError:
            continue
        for option in evaluation.options:
            assert (option.results, option.needs, option.outcome) == _reference(option), option.id
            seen[option.outcome] += 1
            seen["with needs"] += bool(option.needs)
            options += 1
    assert options >= 5000
    assert min(seen.values()) >= 200, seen  # each outcome, and options with needs, are well represented


def test_a_case_observes_each_leaf_slot_once() -> None:
    engine = default_engine()
    tk = engine.therapy
    assert tk is not None
    assert len(tk.slots.keys) == len(set(tk.slots.keys))  # one slot per distinct leaf test
    total_leaves = sum(len(tk.reads[ind.index]) for ind in tk.indications)
    assert len(tk.slots.keys) < total_leaves  # indications share slots on this knowledge base
    assert all(callable(tk.deciders[ind.index]) for ind in tk.indications)  # every function compiles
