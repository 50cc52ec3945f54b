"""Match a case's therapy facts against the compiled indications.

1. Pre-filter by tumor: walk the case's OncoTree lineage nearest first; the first code named by an
   indication's tumor set decides the tumor criterion (include → met, related → not met; an unclear NOS
   code → unknown, and only for itself). Tumor-agnostic indications apply to every lineage outside their
   excluded roots.
2. Evaluate the setting criterion and the indication's criteria (three-valued).
3. ``eligible`` only when every criterion is met; any unknown criterion makes the option
   ``insufficient_data`` (not eligible) with ``needs``; any failed criterion makes it ``not_eligible``.
4. Order: eligible, insufficient data, not eligible; tumor-specific before tumor-agnostic (whose label
   requires that no satisfactory alternative exists); then line of therapy (earliest first); then strength
   of evidence (FDA-approved before guideline-only, randomized phase 3 before randomized phase 2 before
   single-arm, regular before accelerated approval); then the more recent FDA approval; then id.

Two small memos, each bounded and evicting its oldest entry when full (D14.2): the indications a lineage
reaches (one entry per tumor lineage seen), and each criterion result (its text and reason repeat across
cases). Whole options and whole option lists are not memoised: on distinct cases their keys rarely repeat,
and holding them cost about 130 MiB and most of the garbage-collection time per 10,000 cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from her2cds.model._build import build
from her2cds.model.therapy import CriterionOutcome, CriterionResult, OptionOutcome, TherapyOption
from her2cds.therapy.board import alternatives_for, line_of_therapy
from her2cds.therapy.criteria import MET, NOT_MET, UNKNOWN, Context, Node, Observation, Outcome, decide_squamous
from her2cds.therapy.decide import Decider
from her2cds.therapy.facts import RegimenFact, TherapyFacts
from her2cds.therapy.knowledge import CompiledIndication, TherapyKnowledge, TumorKind

_TUMOR_NEED: Final = "confirmation of the primary tumor type (a more specific OncoTree code)"


def _keep(memo: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Store ``value``; when ``memo`` is full, first evict its oldest entry (insertion order)."""
    if len(memo) >= limit:
        if limit <= 0:
            return
        del memo[next(iter(memo))]
    memo[key] = value


@dataclass(frozen=True, slots=True)
class _Hit:
    """An indication a lineage reaches: its criteria in output order, its tumor criterion's outcome (a function of
    the lineage alone) and its decision function (D14.10)."""

    ind: CompiledIndication
    nodes: tuple[Node, ...]
    tumor: Outcome
    decide: Decider
    verified: bool  # the entry's status is not "unverified"
    order: int  # the indication's line order (0: perioperative)
    line: str  # the indication's line text


@dataclass(frozen=True, slots=True)
class _Plan:
    """The indications a lineage reaches, and the leaf slots they read: (slot, leaf key, observation function),
    each once, for the verified indications and for all of them."""

    hits: tuple[_Hit, ...]  # in ranking order apart from the outcome (sort rank, then id)
    slots: tuple[tuple[int, str, Callable[[Context], Observation]], ...]
    all_slots: tuple[tuple[int, str, Callable[[Context], Observation]], ...]


def _slots(hits: list[_Hit], tk: TherapyKnowledge) -> tuple[tuple[int, str, Callable[[Context], Observation]], ...]:
    used: dict[int, None] = {}
    for hit in hits:
        used.update(dict.fromkeys(tk.reads[hit.ind.index]))
    keys, observers = tk.slots.keys, tk.slots.observers
    return tuple((slot, keys[slot], observers[slot]) for slot in used)


def _plan(facts: TherapyFacts, tk: TherapyKnowledge) -> _Plan:
    plan: _Plan | None = tk.plans.get(facts.lineage)
    if plan is not None:
        return plan
    found: dict[int, tuple[TumorKind, str]] = {}
    for code in facts.lineage:
        for idx, kind in tk.tumor_index.get(code, ()):
            if idx in found or (kind == "unclear" and code != facts.tumor_code):
                continue  # an unclear (NOS) code matches only itself, never its descendants
            found[idx] = (kind, code)
    lineage = frozenset(facts.lineage)
    for idx, excluded in tk.agnostic:
        if not excluded.intersection(lineage):
            found[idx] = ("any_solid", facts.tumor_code)
    hits = []
    for idx, (kind, hit) in found.items():
        ind = tk.indications[idx]
        entry = ind.entry
        hits.append(_Hit(ind, (ind.setting_node, *ind.nodes), _tumor_outcome(ind, facts.tumor_code, kind, hit),
                         tk.deciders[idx], entry.status != "unverified", entry.line.order, entry.line.text))
    hits.sort(key=_rank)  # the outcome is the first sort key: evaluate_options only partitions by it
    verified = [hit for hit in hits if hit.verified]
    plan = _Plan(tuple(hits), _slots(verified, tk), _slots(hits, tk))
    _keep(tk.plans, facts.lineage, plan, tk.memo_limit)
    return plan


def facts_read(facts: TherapyFacts, tk: TherapyKnowledge) -> frozenset[str]:
    """The :class:`TherapyFacts` attributes the criteria (setting included) of every indication the case's lineage
    reaches read, verified or not: what matching can read of a case of this tumor (the tumor criterion reads the
    lineage alone)."""
    return frozenset().union(*(node.reads for hit in _plan(facts, tk).hits for node in hit.nodes))


class Option:
    """One indication evaluated on the case, as plain data (D14.8): the pydantic :class:`TherapyOption` is
    built from it only when an adapter asks for objects (:func:`to_option`); the default document is written
    from it directly (:mod:`her2cds.therapy.output`). The results, needs and outcome come from the indication's
    decision function (D14.10); each criterion's reason (:attr:`outs`) only when asked for."""

    __slots__ = ("_ctx", "_outs", "_tumor", "alternatives", "ind", "line_of_therapy", "needs", "outcome", "results")

    def __init__(self, ind: CompiledIndication, ctx: Context, tumor: Outcome, results: tuple[str, ...],
                 needs: tuple[str, ...], outcome: OptionOutcome, line: str) -> None:
        self.ind = ind
        self._ctx = ctx  # the case's facts and observations, for the reasons
        self._tumor = tumor
        self._outs: tuple[Outcome, ...] | None = None
        self.results = results  # the tumor criterion's result, then the setting's, then each criterion's
        self.needs = needs
        self.outcome: OptionOutcome = outcome
        self.line_of_therapy = line
        self.alternatives: tuple[str, ...] = ()

    @property
    def outs(self) -> tuple[Outcome, ...]:
        """The tumor criterion's outcome, then the setting's, then each criterion's, with their reasons (from the
        criterion trees, on the observations the case already made)."""
        outs = self._outs
        if outs is None:
            ctx = self._ctx
            outs = self._outs = (self._tumor, *[node.evaluate(ctx) for node in (self.ind.setting_node,
                                                                               *self.ind.nodes)])
        return outs

    @property
    def history_used(self) -> tuple[str, ...]:
        """The reasons of the criteria that read the treatment history (expanded form only, D14.5)."""
        nodes = (self.ind.setting_node, *self.ind.nodes)
        return tuple(f"{node.id}: {out.reason}" for node, out in zip(nodes, self.outs[1:], strict=True)
                     if node.reads_history)

    @property
    def id(self) -> str:
        return self.ind.entry.id

    @property
    def eligible(self) -> bool:
        return self.outcome == "eligible"


def _tumor_outcome(ind: CompiledIndication, code: str, kind: TumorKind, hit: str) -> Outcome:
    ts = ind.tumors
    via = f" (via {hit})" if hit != code else ""
    if kind == "include":
        return Outcome(MET, f"OncoTree {code}{via} is within {ts.text}")
    if kind == "any_solid":
        return Outcome(MET, f"solid tumor (OncoTree {code})")
    if kind == "unclear":
        return Outcome(UNKNOWN, f"OncoTree {code} does not establish {ts.text}; needed to decide: {ts.text}",
                       (_TUMOR_NEED,))
    note = f". {ts.related_note}" if ts.related_note else ""
    return Outcome(NOT_MET, f"OncoTree {code}{via} is outside {ts.text}; required: {ts.text}{note}")


def _rank(hit: _Hit) -> tuple[int, int, int, int, int, int, str]:
    ind = hit.ind
    return (*ind.sort_rank, ind.entry.id)


def _criterion(
    tk: TherapyKnowledge, ind: CompiledIndication, node_id: str, text: str, result: CriterionOutcome, reason: str
) -> CriterionResult:
    key = (ind.index, node_id, result, reason)
    found: CriterionResult | None = tk.criterion_memo.get(key)
    if found is None:
        found = build(CriterionResult, id=node_id, text=text, result=result, reason=reason)
        _keep(tk.criterion_memo, key, found, tk.memo_limit)
    return found


def to_option(option: Option, tk: TherapyKnowledge) -> TherapyOption:
    """The full pydantic form of an evaluated option (text, CDS Hooks, FHIR, ``--expand``)."""
    ind = option.ind
    entry = ind.entry
    criteria = [_criterion(tk, ind, "tumor", ind.tumors.text, option.outs[0].result, option.outs[0].reason)]
    criteria += [_criterion(tk, ind, node.id, node.text, out.result, out.reason)
                 for node, out in zip((ind.setting_node, *ind.nodes), option.outs[1:], strict=True)]
    return build(TherapyOption,
        id=entry.id,
        title=entry.title,
        regimen=entry.regimen,
        drugs=tuple(entry.drugs),
        approval_kind=entry.approval_kind,
        eligible=option.outcome == "eligible",
        outcome=option.outcome,
        criteria=tuple(criteria),
        needs=option.needs,
        line_of_therapy=option.line_of_therapy,
        history_used=option.history_used,
        alternatives=option.alternatives,
        conditions_to_confirm=tuple(entry.conditions_to_confirm),
        line=entry.line.text,
        setting=tuple(entry.setting),
        tumor_scope=ind.tumors.text,
        evidence_level=ind.evidence_level,
        regulatory=ind.regulatory,
        evidence=ind.evidence,
        sources=ind.sources,
        status=entry.status,
    )


def _context(facts: TherapyFacts, tk: TherapyKnowledge) -> Context:
    regimens = facts.regimens
    if regimens:  # agents reported outside the regimens: received, setting and dates unknown
        listed = {a for r in regimens for a in r.agents}
        extra = tuple(RegimenFact(index=-1, agents=(a,)) for a in facts.prior_agents if a not in listed)
        regimens = (*regimens, *extra)
    return Context(
        facts=facts,
        resolution=tk.drugs.resolve(facts.prior_agents),
        squamous=decide_squamous(facts, tk.histology),
        regimens=tuple((r, tk.drugs.resolve(r.agents)) for r in regimens),
    )


def evaluate_options(facts: TherapyFacts, tk: TherapyKnowledge, *, include_unverified: bool = False) -> list[Option]:
    """Every indication whose tumor scope reaches the case, evaluated and ordered (see module doc), as plain data.

    An indication whose entry is ``unverified`` (e.g. a guideline option whose guideline text was not read) is
    never an answer by default: it is evaluated and listed only with ``include_unverified=True`` (opt-in).
    """
    plan = _plan(facts, tk)
    if not plan.hits:
        return []
    ctx = _context(facts, tk)
    obs: list[Observation | None] = [None] * len(tk.slots.keys)  # each leaf slot the plan reads, observed once
    seen = ctx.observed  # the same observations, by leaf key, for the reasons (Option.outs)
    for slot, key, observe in plan.all_slots if include_unverified else plan.slots:
        seen[key] = obs[slot] = observe(ctx)
    lines: dict[int, str] = {}
    eligible: list[Option] = []
    undecided: list[Option] = []
    ruled_out: list[Option] = []
    groups = {"eligible": eligible, "insufficient_data": undecided, "not_eligible": ruled_out}
    for hit in plan.hits:  # already in ranking order within each outcome (_plan)
        if not (hit.verified or include_unverified):
            continue
        results, needs, outcome = hit.decide(obs, hit.tumor)
        order = hit.order
        if order == 0:  # perioperative: the indication's own text
            line = hit.line
        else:  # advanced disease: the same for every indication of this line on the case
            line = lines.get(order) or lines.setdefault(order, line_of_therapy(facts, order, hit.line))
        groups[outcome].append(Option(hit.ind, ctx, hit.tumor, results, needs, outcome, line))
    if not eligible:
        return undecided + ruled_out
    chosen = [(o.ind.entry.id, tuple(o.ind.entry.setting)) for o in eligible]
    options = eligible + undecided + ruled_out
    found: dict[tuple[str, ...], tuple[str, ...]] = {}  # an option that is not eligible is not among the chosen:
    # its alternatives depend only on the settings (the case's, else the option's own), once per distinct settings
    for o in undecided + ruled_out:
        settings = (facts.setting,) if facts.setting else tuple(o.ind.entry.setting)
        alternatives = found.get(settings)
        if alternatives is None:
            alternatives = found[settings] = alternatives_for(settings, o.ind.entry.id, chosen)
        o.alternatives = alternatives
    return options


def match_therapies(
    facts: TherapyFacts, tk: TherapyKnowledge, *, include_unverified: bool = False
) -> list[TherapyOption]:
    """:func:`evaluate_options` with each option in its full pydantic form."""
    return [to_option(o, tk) for o in evaluate_options(facts, tk, include_unverified=include_unverified)]


def unrecognised_agents(facts: TherapyFacts, tk: TherapyKnowledge) -> tuple[str, ...]:
    """Prior agents the drug table does not know (for the engine to surface as input warnings)."""
    return tk.drugs.resolve(facts.prior_agents).unrecognised
