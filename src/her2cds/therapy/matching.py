"""Match a case's therapy facts against the compiled indications.

1. Pre-filter by tumor: walk the case's OncoTree lineage nearest first; the first code named by an
   indication's tumor set decides the tumor criterion (include → met, unclear → unknown, related → not met).
   Tumor-agnostic indications apply to every lineage outside their excluded roots.
2. Evaluate the setting criterion and the indication's criteria (three-valued).
3. ``eligible`` only when every criterion is met; any unknown criterion makes the option
   ``insufficient_data`` (not eligible) with ``needs``; any failed criterion makes it ``not_eligible``.
4. Order: eligible, insufficient data, not eligible; then line of therapy (earliest first); then strength
   of evidence (FDA-approved before guideline-only, randomized phase 3 before phase 2 before single-arm,
   regular before accelerated approval); then id.

Options are pure functions of the facts an indication reads, so results are memoised per indication.
"""

from __future__ import annotations

from typing import Final

from her2cds.model.therapy import CriterionResult, OptionOutcome, TherapyOption
from her2cds.therapy.criteria import MET, NOT_MET, UNKNOWN, Context, decide_squamous
from her2cds.therapy.facts import TherapyFacts
from her2cds.therapy.knowledge import CompiledIndication, TherapyKnowledge, TumorKind

_OUTCOME_RANK: Final = {"eligible": 0, "insufficient_data": 1, "not_eligible": 2}
_TUMOR_NEED: Final = "confirmation of the primary tumor type (a more specific OncoTree code)"


def _tumor_hits(facts: TherapyFacts, tk: TherapyKnowledge) -> dict[int, tuple[TumorKind, str]]:
    hits: dict[int, tuple[TumorKind, str]] = {}
    for code in facts.lineage:
        for idx, kind in tk.tumor_index.get(code, ()):
            if idx in hits or (kind == "unclear" and code != facts.tumor_code):
                continue  # an unclear (NOS) code matches only itself, never its descendants
            hits[idx] = (kind, code)
    lineage = frozenset(facts.lineage)
    for idx, excluded in tk.agnostic:
        if not excluded.intersection(lineage):
            hits[idx] = ("any_solid", facts.tumor_code)
    return hits


def _tumor_result(ind: CompiledIndication, facts: TherapyFacts, kind: TumorKind, hit: str) -> CriterionResult:
    ts = ind.tumors
    code = facts.tumor_code
    via = f" (via {hit})" if hit != code else ""
    if kind == "include":
        return CriterionResult(
            id="tumor", text=ts.text, result=MET, reason=f"OncoTree {code}{via} is within {ts.text}"
        )
    if kind == "any_solid":
        return CriterionResult(id="tumor", text=ts.text, result=MET, reason=f"solid tumor (OncoTree {code})")
    if kind == "unclear":
        return CriterionResult(
            id="tumor",
            text=ts.text,
            result=UNKNOWN,
            reason=f"OncoTree {code}{via} does not establish {ts.text}; needed to decide: {ts.text}",
        )
    note = f". {ts.related_note}" if ts.related_note else ""
    return CriterionResult(
        id="tumor",
        text=ts.text,
        result=NOT_MET,
        reason=f"OncoTree {code}{via} is outside {ts.text}; required: {ts.text}{note}",
    )


def _build(ind: CompiledIndication, ctx: Context, kind: TumorKind, hit: str) -> TherapyOption:
    entry = ind.entry
    results: list[CriterionResult] = [_tumor_result(ind, ctx.facts, kind, hit)]
    needs: list[str] = [_TUMOR_NEED] if kind == "unclear" else []
    for node in (ind.setting_node, *ind.nodes):
        out = node.evaluate(ctx)
        results.append(CriterionResult(id=node.id, text=node.text, result=out.result, reason=out.reason))
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
    return TherapyOption(
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


def _sort_key(option: TherapyOption, ind: CompiledIndication) -> tuple[int, int, int, int, int, str]:
    return (_OUTCOME_RANK[option.outcome], *ind.sort_rank, option.id)


def match_therapies(facts: TherapyFacts, tk: TherapyKnowledge) -> list[TherapyOption]:
    """Every indication whose tumor scope reaches the case, evaluated and ordered (see module doc)."""
    hits = _tumor_hits(facts, tk)
    if not hits:
        return []
    ctx: Context | None = None
    options: list[tuple[TherapyOption, CompiledIndication]] = []
    memo = tk.memo
    for idx, (kind, hit) in hits.items():
        ind = tk.indications[idx]
        key = (idx, kind, hit, facts.tumor_code, *(getattr(facts, attr) for attr in ind.reads))
        option = memo.get(key)
        if option is None:
            if ctx is None:
                ctx = Context(
                    facts=facts,
                    resolution=tk.drugs.resolve(facts.prior_agents),
                    squamous=decide_squamous(facts, tk.histology),
                )
            option = _build(ind, ctx, kind, hit)
            if len(memo) < tk.memo_limit:
                memo[key] = option
        options.append((option, ind))
    options.sort(key=lambda pair: _sort_key(*pair))
    return [option for option, _ in options]


def unrecognised_agents(facts: TherapyFacts, tk: TherapyKnowledge) -> tuple[str, ...]:
    """Prior agents the drug table does not know (for the engine to surface as input warnings)."""
    return tk.drugs.resolve(facts.prior_agents).unrecognised
