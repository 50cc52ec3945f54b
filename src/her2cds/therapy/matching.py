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

Options are pure functions of the facts an indication reads, so results are memoised (bounded) at three
levels: the whole ordered list per tumor lineage and relevant facts, each option per indication and the
facts it reads, and each criterion result.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Final

from her2cds.model._build import build
from her2cds.model.therapy import CriterionOutcome, CriterionResult, OptionOutcome, TherapyOption
from her2cds.therapy.criteria import MET, NOT_MET, UNKNOWN, Context, Node, decide_squamous
from her2cds.therapy.facts import RegimenFact, TherapyFacts
from her2cds.therapy.knowledge import CompiledIndication, TherapyKnowledge, TumorKind

_OUTCOME_RANK: Final = {"eligible": 0, "insufficient_data": 1, "not_eligible": 2}
_TUMOR_NEED: Final = "confirmation of the primary tumor type (a more specific OncoTree code)"

SortKey = tuple[int, int, int, int, int, int, int, str]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The indications a lineage reaches, and a getter for every fact they read."""

    hits: tuple[tuple[int, TumorKind, str], ...]
    project: Any  # attrgetter over the union of the indications' reads (None when nothing is read)


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
    reads: set[str] = set()
    for idx in found:
        reads.update(tk.indications[idx].reads)
    plan = _Plan(
        hits=tuple((idx, kind, hit) for idx, (kind, hit) in found.items()),
        project=attrgetter(*sorted(reads)) if reads else None,
    )
    if len(tk.plans) < tk.memo_limit:
        tk.plans[facts.lineage] = plan
    return plan


def _tumor_result(ind: CompiledIndication, facts: TherapyFacts, kind: TumorKind, hit: str) -> CriterionResult:
    ts = ind.tumors
    code = facts.tumor_code
    via = f" (via {hit})" if hit != code else ""
    if kind == "include":
        return build(CriterionResult, id="tumor", text=ts.text, result=MET,
                     reason=f"OncoTree {code}{via} is within {ts.text}")
    if kind == "any_solid":
        return build(CriterionResult, id="tumor", text=ts.text, result=MET, reason=f"solid tumor (OncoTree {code})")
    if kind == "unclear":
        return build(CriterionResult,
            id="tumor",
            text=ts.text,
            result=UNKNOWN,
            reason=f"OncoTree {code} does not establish {ts.text}; needed to decide: {ts.text}",
        )
    note = f". {ts.related_note}" if ts.related_note else ""
    return build(CriterionResult,
        id="tumor",
        text=ts.text,
        result=NOT_MET,
        reason=f"OncoTree {code}{via} is outside {ts.text}; required: {ts.text}{note}",
    )


def _criterion(
    tk: TherapyKnowledge, ind: CompiledIndication, node: Node, result: CriterionOutcome, reason: str
) -> CriterionResult:
    key = (ind.index, node.id, result, reason)
    found: CriterionResult | None = tk.criterion_memo.get(key)
    if found is None:
        found = build(CriterionResult, id=node.id, text=node.text, result=result, reason=reason)
        if len(tk.criterion_memo) < tk.memo_limit:
            tk.criterion_memo[key] = found
    return found


def _build(tk: TherapyKnowledge, ind: CompiledIndication, ctx: Context, kind: TumorKind, hit: str) -> TherapyOption:
    entry = ind.entry
    results: list[CriterionResult] = [_tumor_result(ind, ctx.facts, kind, hit)]
    needs: list[str] = [_TUMOR_NEED] if kind == "unclear" else []
    for node in (ind.setting_node, *ind.nodes):
        out = node.evaluate(ctx)
        results.append(_criterion(tk, ind, node, out.result, out.reason))
        for need in out.needs:
            if need not in needs:
                needs.append(need)
    verdicts = {r.result for r in results}
    outcome: OptionOutcome
    if NOT_MET in verdicts:
        outcome = "not_eligible"
    elif UNKNOWN in verdicts:
        outcome = "insufficient_data"
    else:
        outcome = "eligible"
    return build(TherapyOption,
        id=entry.id,
        title=entry.title,
        regimen=entry.regimen,
        drugs=tuple(entry.drugs),
        approval_kind=entry.approval_kind,
        eligible=outcome == "eligible",
        outcome=outcome,
        criteria=tuple(results),
        needs=tuple(needs),
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


def _first(pair: tuple[SortKey, TherapyOption]) -> SortKey:
    return pair[0]


def match_therapies(facts: TherapyFacts, tk: TherapyKnowledge) -> list[TherapyOption]:
    """Every indication whose tumor scope reaches the case, evaluated and ordered (see module doc)."""
    plan = _plan(facts, tk)
    if not plan.hits:
        return []
    case_key = (facts.lineage, plan.project(facts) if plan.project is not None else None)
    cached: tuple[TherapyOption, ...] | None = tk.case_memo.get(case_key)
    if cached is not None:
        return list(cached)
    ctx: Context | None = None
    ranked: list[tuple[SortKey, TherapyOption]] = []
    memo = tk.memo
    for idx, kind, hit in plan.hits:
        ind = tk.indications[idx]
        key = (idx, kind, hit, facts.tumor_code, ind.key_of(facts))
        entry: tuple[SortKey, TherapyOption] | None = memo.get(key)
        if entry is None:
            if ctx is None:
                ctx = _context(facts, tk)
            option = _build(tk, ind, ctx, kind, hit)
            entry = ((_OUTCOME_RANK[option.outcome], *ind.sort_rank, option.id), option)
            if len(memo) < tk.memo_limit:
                memo[key] = entry
        ranked.append(entry)
    ranked.sort(key=_first)
    options = tuple(option for _, option in ranked)
    if len(tk.case_memo) < tk.memo_limit:
        tk.case_memo[case_key] = options
    return list(options)


def unrecognised_agents(facts: TherapyFacts, tk: TherapyKnowledge) -> tuple[str, ...]:
    """Prior agents the drug table does not know (for the engine to surface as input warnings)."""
    return tk.drugs.resolve(facts.prior_agents).unrecognised
