"""Each indication's criteria compiled into one decision function, generated from its criterion trees (D14.10).

What the default document needs of an evaluated option is each criterion's result, the option's outcome and its
``needs`` (the reasons are in the expanded form only, D14.5). The criterion trees (:mod:`her2cds.therapy.criteria`,
compiled from the knowledge base) give those by calling one evaluator object per node and writing a reason at
every node. Here, once per knowledge base, each indication's trees are turned into the Python source of one
function that reads the case's leaf observations by position and combines them with the same three-valued logic,
as integers (``not_met`` 0 < ``unknown`` 1 < ``met`` 2: ``all`` is the minimum, ``any`` the maximum, ``not`` is
``2 - x``), carrying the needs of unknown parts exactly as the node objects do. The trees stay the only source:
the generated functions are written from them at engine construction (no second copy of any criterion), and the
node objects still give the reasons when the full option is asked for (:attr:`her2cds.therapy.matching.Option.outs`).
A test checks that both forms agree on every golden case and on generated cases.

Leaves with the same test parameters (:attr:`Leaf.key`) share one slot: a case observes each slot once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from her2cds.errors import KnowledgeBaseError
from her2cds.model.therapy import OptionOutcome
from her2cds.therapy.criteria import AllNode, AnyNode, Context, Leaf, Node, NotNode, Observation, Outcome

#: (each criterion's result: the tumor's, the setting's, then the indication's criteria; needs; outcome)
Decision = tuple[tuple[str, ...], tuple[str, ...], OptionOutcome]
#: (the case's observation of every leaf slot, the indication's tumor outcome on the case) -> Decision
Decider = Callable[[Sequence[Observation | None], Outcome], Decision]

_RESULTS: Final = ("not_met", "unknown", "met")  # by rank
_RANK: Final = {"not_met": 0, "unknown": 1, "met": 2}
_OUTCOMES: Final = ("not_eligible", "insufficient_data")  # by the lowest rank of an option's results (met: eligible)


def merge(*parts: tuple[str, ...]) -> tuple[str, ...]:
    """The needs of several parts, each once, in order."""
    found: list[str] = []
    for part in parts:
        for need in part:
            if need not in found:
                found.append(need)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Slots:
    """The distinct leaves of the knowledge base: slot -> the leaf's key and its observation function."""

    keys: tuple[str, ...]
    observers: tuple[Callable[[Context], Observation], ...]


class _Writer:
    """Writes the source of one indication's decision function."""

    def __init__(self, slot_of: dict[str, int], leaves: list[Leaf]) -> None:
        self.slot_of = slot_of  # leaf key -> slot (shared by every indication)
        self.leaves = leaves  # slot -> the first leaf with that key
        self.lines: list[str] = []
        self.constants: dict[str, str] = {}  # name in the generated code -> need text
        self.used: list[int] = []  # the slots this indication reads, first use first
        self.count = 0

    def node(self, node: Node) -> int:
        """Emit the statements computing ``r<i>`` (rank) and ``n<i>`` (needs) of ``node``; returns ``i``."""
        i = self.count
        self.count += 1
        out = self.lines
        if isinstance(node, Leaf):
            slot = self.slot_of.get(node.key)
            if slot is None:
                slot = self.slot_of[node.key] = len(self.leaves)
                self.leaves.append(node)
            if slot not in self.used:
                self.used.append(slot)
            need = f"N{i}"
            self.constants[need] = node.need
            out += [f"    o = obs[{slot}]", "    t = o[0]",
                    f"    if t is True: r{i} = 2; n{i} = ()",
                    f"    elif t is False: r{i} = 0; n{i} = ()",
                    f"    else: r{i} = 1; n{i} = (o[2] or {need},)"]
        elif isinstance(node, AllNode | AnyNode):
            kids = [self.node(child) for child in node.children]
            pick = "min" if isinstance(node, AllNode) else "max"
            ranks = ", ".join(f"r{k}" for k in kids)
            needs = ", ".join(f"n{k}" for k in kids)
            out += [f"    r{i} = {pick}({ranks})" if len(kids) > 1 else f"    r{i} = r{kids[0]}",
                    f"    n{i} = merge({needs}) if r{i} == 1 else ()"]
        elif isinstance(node, NotNode):
            k = self.node(node.child)
            out += [f"    r{i} = 2 - r{k}", f"    n{i} = n{k}"]
        else:  # pragma: no cover - compile_criterion makes only the node types above
            raise KnowledgeBaseError(f"criterion {node.id}: no decision function for {type(node).__name__}")
        return i


def write_decider(name: str, nodes: tuple[Node, ...], slot_of: dict[str, int],
                  leaves: list[Leaf]) -> tuple[tuple[str, str, dict[str, str]], tuple[int, ...]]:
    """The source of the decision function of an indication whose criteria are ``nodes`` (the setting's first) as
    (name, source, constants), and the slots it reads. New leaf keys get new slots (``slot_of`` and ``leaves``
    grow)."""
    writer = _Writer(slot_of, leaves)
    tops = [writer.node(node) for node in nodes]
    ranks = ", ".join(f"r{t}" for t in tops)
    needs = ", ".join(f"n{t}" for t in tops)
    results = "".join(f", R[r{t}]" for t in tops)
    source = "\n".join([
        "def decide(obs, tumor):",
        *writer.lines,
        f"    worst = min(RANK[tumor[0]], {ranks})",
        f"    results = (tumor[0]{results})",
        "    if worst == 2:",
        "        return results, (), 'eligible'",
        f"    return results, merge(tumor[2], {needs}), OUTCOMES[worst]",
    ])
    return (name, source, writer.constants), tuple(writer.used)


def _compiled(name: str, source: str, constants: dict[str, str]) -> Decider:
    namespace: dict[str, object] = {"merge": merge, "R": _RESULTS, "RANK": _RANK, "OUTCOMES": _OUTCOMES, **constants}
    exec(compile(source, f"<criteria of {name}>", "exec"), namespace)  # source written by write_decider
    decide: Decider = namespace["decide"]  # type: ignore[assignment]
    return decide


class Deciders:
    """Each indication's decision function (by indication index), compiled from its source on first use:
    compiling all of them takes about 10 ms, a few per cent of a CLI start-up, and a case reaches only its tumor's
    indications. Thread-safe (two threads may compile the same function; either result is the same)."""

    def __init__(self, sources: Sequence[tuple[str, str, dict[str, str]]]) -> None:
        self._sources = tuple(sources)
        self._compiled: list[Decider | None] = [None] * len(sources)

    def __len__(self) -> int:
        return len(self._sources)

    def __getitem__(self, index: int) -> Decider:
        found = self._compiled[index]
        if found is None:
            found = self._compiled[index] = _compiled(*self._sources[index])
        return found


def compile_deciders(indications: Sequence[tuple[str, tuple[Node, ...]]]
                     ) -> tuple[Deciders, tuple[tuple[int, ...], ...], Slots]:
    """Every indication's decision function and slots (in the order given), and the slot table."""
    slot_of: dict[str, int] = {}
    leaves: list[Leaf] = []
    sources = []
    reads = []
    for name, nodes in indications:
        source, used = write_decider(name, nodes, slot_of, leaves)
        sources.append(source)
        reads.append(used)
    slots = Slots(tuple(leaf.key for leaf in leaves), tuple(leaf.observe for leaf in leaves))
    return Deciders(sources), tuple(reads), slots
