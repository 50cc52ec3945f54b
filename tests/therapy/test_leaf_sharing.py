"""Leaves with the same test parameters are observed once per case (``Leaf.key``, D14.4): that is only right if
every two leaves with one key observe the same thing on any case. Checked on generated cases, leaf by leaf, without
the sharing."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from bench.cases import generate

from her2cds.engine import default_engine, parse_case
from her2cds.errors import Her2CdsError
from her2cds.therapy.criteria import AllNode, AnyNode, Leaf, Node, NotNode
from her2cds.therapy.facts import facts_from
from her2cds.therapy.matching import _context


def _leaves(node: Node) -> list[Leaf]:
    if isinstance(node, Leaf):
        return [node]
    if isinstance(node, AllNode | AnyNode):
        return [leaf for child in node.children for leaf in _leaves(child)]
    assert isinstance(node, NotNode)
    return _leaves(node.child)


def test_leaves_sharing_a_key_observe_the_same() -> None:
    engine = default_engine()
    tk = engine.therapy
    assert tk is not None
    groups: dict[str, list[Leaf]] = defaultdict(list)
    for ind in tk.indications:
        for node in (ind.setting_node, *ind.nodes):
            for leaf in _leaves(node):
                groups[leaf.key].append(leaf)
    shared = [leaves for leaves in groups.values() if len({id(leaf) for leaf in leaves}) > 1]
    assert len(shared) >= 5  # the sharing does something on this knowledge base
    checked = 0
    for data in generate(300, 14):
        try:
            case = parse_case(data)
            her2 = engine.evaluate(data).her2
        except Her2CdsError:
            continue
        facts = facts_from(case, her2, engine.kb.lineage(case.tumor.oncotree_code), case.assessed_on or dt.date.today())
        for leaves in shared:
            observations = {leaf.observe(_context(facts, tk)) for leaf in leaves}
            assert len(observations) == 1, (leaves[0].key, observations)
        checked += 1
    assert checked >= 250
