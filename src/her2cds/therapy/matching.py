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

from dataclasses import dataclass
from typing import Any, Final

from her2cds.model._build import build
from her2cds.model.therapy import CriterionOutcome, CriterionResult, OptionOutcome, TherapyOption
from her2cds.therapy.criteria import MET, NOT_MET, UNKNOWN, Context, Node, decide_squamous
from her2cds.therapy.facts import RegimenFact, TherapyFacts
from her2cds.therapy.knowledge import CompiledIndication, TherapyKnowledge, TumorKind

_OUTCOME_RANK: Final = {"eligible": 0, "insufficient_data": 1, "not_eligible": 2}
_TUMOR_NEED: Final = "confirmation of the primary tumor type (a more specific OncoTree code)"

SortKey = tuple[int, int, int, int, int, int, int, str]


def _keep(memo: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Store ``value``; when ``memo`` is full, first evict its oldest entry (insertion order)."""
    if len(memo) >= limit:
        if limit <= 0:
            return
        del memo[next(iter(memo))]
    memo[key] = value


@dataclass(frozen=True, slots=True)
class _Plan:
    """The indications a lineage reaches."""

    hits: tuple[tuple[int, TumorKind, str], ...]


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
    plan = _Plan(hits=tuple((idx, kind, hit) for idx, (kind, hit) in found.items()))
    _keep(tk.plans, facts.lineage, plan, tk.memo_limit)
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
        _keep(tk.criterion_memo, key, found, tk.memo_limit)
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
    ctx = _context(facts, tk)
    ranked: list[tuple[SortKey, TherapyOption]] = []
    for idx, kind, hit in plan.hits:
        ind = tk.indications[idx]
        option = _build(tk, ind, ctx, kind, hit)
        ranked.append(((_OUTCOME_RANK[option.outcome], *ind.sort_rank, option.id), option))
    ranked.sort(key=_first)
    return [option for _, option in ranked]


def unrecognised_agents(facts: TherapyFacts, tk: TherapyKnowledge) -> tuple[str, ...]:
    """Prior agents the drug table does not know (for the engine to surface as input warnings)."""
    return tk.drugs.resolve(facts.prior_agents).unrecognised
