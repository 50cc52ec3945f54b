"""Eligibility criteria as boolean trees with three-valued (Kleene) logic.

A leaf tests one typed fact and returns ``met``, ``not_met`` or ``unknown`` with a reason; ``all`` is
not met if any child is not met, else unknown if any child is unknown; ``any`` is met if any child is met,
else unknown if any child is unknown; ``not`` swaps met and not met and keeps unknown. Missing information
is never treated as negative. Trees are compiled once at load into small evaluator objects.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.drugs import DrugTable, Resolution
from her2cds.knowledge.therapy_schema import Criterion, Histology
from her2cds.model.enums import Category, IhcScore, RasStatus, ReceptorStatus, Setting, Status
from her2cds.model.therapy import CriterionOutcome
from her2cds.therapy import history
from her2cds.therapy.board import HISTORY_ATTRS
from her2cds.therapy.facts import RegimenFact, TherapyFacts

MET: Final = "met"
NOT_MET: Final = "not_met"
UNKNOWN: Final = "unknown"

_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}

# allowed values of each set-valued fact (checked at load)
_ALLOWED: Mapping[str, frozenset[str]] = {
    "setting": frozenset(s.value for s in Setting),
    "her2.status": frozenset(s.value for s in Status),
    "her2.ihc_score": frozenset(s.value for s in IhcScore),
    "her2.category": frozenset(c.value for c in Category),
    "biomarker.kras": frozenset(r.value for r in RasStatus),
    "biomarker.nras": frozenset(r.value for r in RasStatus),
    "biomarker.hormone_receptor": frozenset(r.value for r in ReceptorStatus),
}
# values that mean "tested, but no final answer": the criterion is unknown, not failed
_UNDETERMINED: Mapping[str, frozenset[str]] = {"her2.status": frozenset({"equivocal", "indeterminate"})}

_NEEDS: Mapping[str, str] = {
    "setting": "disease setting (early, locally advanced or metastatic)",
    "her2.status": "a final HER2 status (complete IHC and reflex ISH testing)",
    "her2.ihc_score": "a HER2 IHC score on tumor tissue",
    "her2.ihc_3plus_gastric_criteria": "a HER2 IHC score on the gastric criteria (percent of cells, or the biopsy "
    "cluster size)",
    "her2.category": "the HER2 expression category (IHC score, with ISH for IHC 2+)",
    "her2.ish_amplified": "HER2 ISH on tumor tissue",
    "her2.ngs_amplified": "ERBB2 copy number by NGS",
    "her2.erbb2_amplified": "ERBB2 amplification testing (ISH or NGS)",
    "her2.activating_mutation": "ERBB2 mutation testing by NGS (tissue preferred)",
    "her2.kinase_domain_mutation": "ERBB2 mutation testing by NGS (tissue preferred)",
    "biomarker.pd_l1_cps": "PD-L1 combined positive score (CPS)",
    "biomarker.kras": "KRAS mutation status",
    "biomarker.nras": "NRAS mutation status",
    "biomarker.hormone_receptor": "hormone-receptor (ER/PR) status",
    "histology.squamous": "histology (squamous or non-squamous)",
    "history.prior_lines": "number of prior lines of systemic therapy for advanced disease",
    "history.prior_class": "prior systemic therapy (agents or regimens received)",
    "history.prior_systemic_therapy": "prior systemic therapy (agents or regimens received)",
    "history.regimen_count": "history.regimens: the prior regimens with their settings",
    "history.early_relapse": "tumor.recurrence_date and the end dates of (neo)adjuvant regimens (history.regimens)",
    "history.residual_disease": "history.surgery.pathologic_response (pcr or residual_invasive)",
    "history.progressed_on": "whether the disease progressed on the drug (history.regimens[].progressed)",
}

# fact → the TherapyFacts attributes it reads (the memo key of an indication is built from these)
_READS: Mapping[str, tuple[str, ...]] = {
    "setting": ("setting",),
    "her2.status": ("her2_status",),
    "her2.ihc_score": ("ihc_score", "ish_amplified"),
    "her2.ihc_3plus_gastric_criteria": ("pan_tumor_ihc_3plus", "pan_tumor_ihc_basis"),
    "her2.category": ("category",),
    "her2.ish_amplified": ("ish_amplified",),
    "her2.ngs_amplified": ("ngs_amplified",),
    "her2.erbb2_amplified": ("erbb2_amplified",),
    "her2.activating_mutation": ("activating_mutations", "reported_variants", "mutation_testing",
                                 "unclassified_variants"),
    "her2.kinase_domain_mutation": (
        "activating_mutations",
        "kinase_domain_mutations",
        "reported_variants",
        "mutation_testing",
        "unclassified_kinase_variants",
    ),
    "biomarker.pd_l1_cps": ("pd_l1_cps",),
    "biomarker.kras": ("kras",),
    "biomarker.nras": ("nras",),
    "biomarker.hormone_receptor": ("hormone_receptor",),
    "histology.squamous": ("histology", "lineage"),
    "history.prior_lines": ("prior_lines",),
    "history.prior_class": ("prior_lines", "prior_agents", "regimens"),
    "history.prior_systemic_therapy": ("prior_lines", "prior_agents"),
    "history.regimen_count": ("prior_lines", "prior_agents", "regimens"),
    "history.early_relapse": ("prior_lines", "prior_agents", "regimens", "recurrence_date", "setting", "assessed_on"),
    "history.residual_disease": ("pathologic_response",),
    "history.progressed_on": ("prior_lines", "prior_agents", "regimens"),
}

_LABELS: Mapping[str, str] = {
    "early": "early",
    "locally_advanced": "locally advanced",
    "metastatic": "metastatic",
    "wild_type": "wild-type",
    "mutant": "mutant",
    "positive": "positive",
    "negative": "negative",
    "equivocal": "equivocal",
    "indeterminate": "indeterminate",
}


def _label(value: str) -> str:
    return _LABELS.get(value, value)


def _listing(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"'{i}'" for i in items)


@dataclass(slots=True)  # per case, never changed after construction (not frozen: D14.13)
class Squamous:
    """Squamous histology decided from the histology text and the OncoTree lineage."""

    value: bool | None
    basis: str


def _text_histology(text: str | None) -> str:
    if text is None or not text.strip():
        return "absent"
    low = text.lower()
    if any(t in low for t in ("non-squamous", "nonsquamous", "non squamous")):
        return "non_squamous"
    if "adenosquamous" in low:
        return "mixed"
    if "squamous" in low:
        return "squamous"
    if any(t in low for t in (" nos", "not otherwise specified", "unspecified")) or low.strip() == "nos":
        return "unspecified"
    return "non_squamous"


def decide_squamous(facts: TherapyFacts, histology: Histology) -> Squamous:
    """Squamous if the text or the code says so; mixed (adenosquamous) or silence gives unknown."""
    by_text = _text_histology(facts.histology)
    by_code = "absent"
    code_hit = ""
    for code in facts.lineage:
        if code in histology.squamous_codes:
            by_code, code_hit = "squamous", code
        elif code in histology.mixed_codes:
            by_code, code_hit = "mixed", code
        elif code in histology.non_squamous_codes:
            by_code, code_hit = "non_squamous", code
        else:
            continue
        break
    text_basis = f"histology '{facts.histology}'" if facts.histology else ""
    code_basis = f"OncoTree {code_hit}" if code_hit else ""
    if "squamous" in (by_text, by_code):
        basis = text_basis if by_text == "squamous" else code_basis
        return Squamous(True, f"squamous ({basis})")
    if "mixed" in (by_text, by_code):
        basis = text_basis if by_text == "mixed" else code_basis
        return Squamous(None, f"mixed adenosquamous histology ({basis}); squamous status must be confirmed")
    if "non_squamous" in (by_text, by_code):
        basis = text_basis if by_text == "non_squamous" else code_basis
        return Squamous(False, f"non-squamous ({basis})")
    if by_text == "unspecified":
        return Squamous(None, f"{text_basis} does not state squamous or non-squamous")
    return Squamous(None, "histology not reported and not implied by the OncoTree code")


Observation = tuple[bool | None, str, str | None]  # (truth of the fact, what was observed, extra need)


@dataclass(slots=True)  # per case, never changed after construction (not frozen: D14.13)
class Context:
    """Facts plus what is derived once per case (agent resolution, squamous histology)."""

    facts: TherapyFacts
    resolution: Resolution
    squamous: Squamous
    regimens: tuple[tuple[RegimenFact, Resolution], ...] = ()
    # what each distinct leaf test observed on this case (Leaf.key -> observation): indications repeat the same
    # tests (HER2 status, setting, prior classes ...), which are then observed once per case. Local to one case.
    observed: dict[str, Observation] = field(default_factory=dict)

    @property
    def history_complete(self) -> bool:
        return bool(self.facts.prior_agents) or self.facts.prior_lines == 0


class Outcome(NamedTuple):
    result: CriterionOutcome
    reason: str
    needs: tuple[str, ...] = ()


class Node:
    """A compiled criterion."""

    id: str
    text: str
    reads: frozenset[str]

    @functools.cached_property
    def reads_history(self) -> bool:
        """Whether the criterion reads the treatment history (its reason is then listed in ``history_used``)."""
        return bool(self.reads & HISTORY_ATTRS)

    def evaluate(self, ctx: Context) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError


# ------------------------------------------------------------------------------------------ leaves


class Leaf(Node):
    def __init__(
        self,
        crit: Criterion,
        observe: Callable[[Context], Observation],
        fact: str,
    ) -> None:
        self.id = crit.id
        self.text = crit.text
        self.reads = frozenset(_READS[fact])
        self.observe = observe  # what the case shows of the fact: (truth, what was observed, extra need)
        self.need = crit.need or _NEEDS[fact]
        self._explain = crit.explain_not_met
        # the test's parameters: leaves with the same key observe the same thing (a string: its hash is cached)
        self.key = repr((fact, crit.in_, crit.op, crit.value, crit.equals, crit.classes, crit.settings, crit.months,
                         crit.drugs))

    def evaluate(self, ctx: Context) -> Outcome:
        seen = ctx.observed
        found = seen.get(self.key)
        if found is None:
            found = seen[self.key] = self.observe(ctx)
        truth, observed, extra_need = found
        if truth is True:
            return Outcome(MET, observed)
        if truth is False:
            reason = f"{observed}; required: {self.text}"
            if self._explain:
                reason += f". {self._explain}"
            return Outcome(NOT_MET, reason)
        return Outcome(UNKNOWN, f"{observed}; needed to decide: {self.text}", (extra_need or self.need,))


def _set_leaf(crit: Criterion, fact: str) -> Leaf:
    wanted = frozenset(crit.in_ or ())
    allowed = _ALLOWED[fact]
    bad = sorted(wanted - allowed)
    if bad:
        raise KnowledgeBaseError(f"criterion {crit.id}: {fact} cannot be {bad} (allowed: {sorted(allowed)})")
    undetermined = _UNDETERMINED.get(fact, frozenset())
    attr = _READS[fact][0]
    names = {
        "setting": "disease setting",
        "her2.status": "HER2 status",
        "her2.ihc_score": "HER2 IHC",
        "her2.category": "HER2 category",
        "biomarker.kras": "KRAS",
        "biomarker.nras": "NRAS",
        "biomarker.hormone_receptor": "hormone receptor",
    }
    name = names[fact]

    def observe(ctx: Context) -> Observation:
        value = getattr(ctx.facts, attr)
        if value is None:
            extra = ""
            if fact == "her2.ihc_score" and ctx.facts.ish_amplified:
                extra = " (ISH amplified, but ISH does not give an IHC score)"
            return None, f"{name} not reported{extra}", None
        shown = f"{name} {_label(value)}"
        if value in wanted:
            return True, shown, None
        if value in undetermined:
            return None, shown, None
        return False, shown, None

    return Leaf(crit, observe, fact)


def _number_leaf(crit: Criterion, fact: str) -> Leaf:
    assert crit.op is not None and crit.value is not None  # guaranteed by the schema
    compare = _OPS[crit.op]
    threshold = crit.value
    attr = _READS[fact][0]
    name = {"biomarker.pd_l1_cps": "PD-L1 CPS", "history.prior_lines": "prior lines of therapy"}[fact]

    def observe(ctx: Context) -> Observation:
        value = getattr(ctx.facts, attr)
        if value is None:
            return None, f"{name} not reported", None
        return compare(float(value), threshold), f"{name} {value:g}", None

    return Leaf(crit, observe, fact)


def _amplified_leaf(crit: Criterion, fact: str) -> Leaf:
    expected = bool(crit.equals)
    attr = _READS[fact][0]
    name = {
        "her2.ish_amplified": "HER2 ISH",
        "her2.ngs_amplified": "ERBB2 NGS copy number",
        "her2.erbb2_amplified": "ERBB2",
    }[fact]

    def observe(ctx: Context) -> Observation:
        value = getattr(ctx.facts, attr)
        if value is None:
            return None, f"{name} amplification not tested", None
        shown = f"{name} {'amplified' if value else 'not amplified'}"
        return value == expected, shown, None

    return Leaf(crit, observe, fact)


def _pan_tumor_ihc_leaf(crit: Criterion, fact: str) -> Leaf:
    """IHC 3+ read on the gastric criteria, as the tumor-agnostic label's trial scored it (D8.3)."""
    expected = bool(crit.equals)

    def observe(ctx: Context) -> Observation:
        f = ctx.facts
        basis = f.pan_tumor_ihc_basis or "HER2 IHC not reported"
        if f.pan_tumor_ihc_3plus is None:
            need = "review of the IHC slide (guidelines disagree)" if "review" in basis else None
            return None, basis, need
        return f.pan_tumor_ihc_3plus == expected, basis, None

    return Leaf(crit, observe, fact)


def _mutation_leaf(crit: Criterion, fact: str) -> Leaf:
    expected = bool(crit.equals)
    kinase = fact == "her2.kinase_domain_mutation"

    def observe(ctx: Context) -> Observation:
        f = ctx.facts
        found = f.kinase_domain_mutations if kinase else f.activating_mutations
        kind = "kinase-domain activating" if kinase else "activating"
        if found:
            return expected, f"ERBB2 {kind} mutation(s): {_listing(found)}", None
        open_variants = f.unclassified_kinase_variants if kinase else f.unclassified_variants
        if open_variants:  # unknown is never false (D8.9)
            shown = f"ERBB2 variant(s) {_listing(open_variants)} of unknown significance"
            return None, shown, f"classify ERBB2 variant(s) {_listing(open_variants)} (activating or not)"
        if kinase and f.activating_mutations:
            shown = f"ERBB2 activating mutation(s) {_listing(f.activating_mutations)} outside the kinase domain"
            return not expected, shown, None
        others = [v for v in f.reported_variants if v not in f.activating_mutations]
        unclassified = f" (reported variant(s) {_listing(others)} are not classified as activating)" if others else ""
        if f.mutation_testing == "tissue":
            return not expected, f"no ERBB2 {kind} mutation on tissue NGS{unclassified}", None
        if f.mutation_testing == "plasma_only":
            shown = (
                f"no ERBB2 {kind} mutation on plasma NGS{unclassified}; a negative plasma result does not exclude one"
            )
            return None, shown, "ERBB2 mutation testing on tumor tissue (plasma was negative)"
        return None, "no ERBB2 mutation testing (NGS) reported", None

    return Leaf(crit, observe, fact)


def _squamous_leaf(crit: Criterion, fact: str) -> Leaf:
    expected = bool(crit.equals)

    def observe(ctx: Context) -> Observation:
        sq = ctx.squamous
        if sq.value is None:
            return None, sq.basis, None
        return sq.value == expected, sq.basis, None

    return Leaf(crit, observe, fact)


def _prior_class_leaf(crit: Criterion, fact: str, table: DrugTable) -> Leaf:
    classes = tuple(crit.classes or ())
    for cls_id in classes:
        if not table.has_class(cls_id):
            raise KnowledgeBaseError(f"criterion {crit.id}: unknown drug class {cls_id!r}")
    label = " or ".join(table.class_name(c) for c in classes)

    if crit.settings:
        settings = tuple(crit.settings)

        def observe_in(ctx: Context) -> Observation:
            return history.class_in_settings(ctx.facts, ctx.resolution, ctx.regimens, classes, settings, label)

        return Leaf(crit, observe_in, fact)

    def observe(ctx: Context) -> Observation:
        agents = ctx.resolution.agents_in(classes)
        if agents:
            return True, f"prior {label}: {_listing(agents)}", None
        unknown = ctx.resolution.unrecognised
        if unknown:
            shown = f"no {label} among recognised prior agents; unrecognised agent(s) {_listing(unknown)} not counted"
            return None, shown, f"identify prior agent(s) {_listing(unknown)}"
        if ctx.facts.prior_agents:
            return False, f"no {label} among reported prior agents ({_listing(ctx.facts.prior_agents)})", None
        if ctx.facts.prior_lines == 0:
            return False, "no prior systemic therapy reported (0 prior lines)", None
        if ctx.facts.prior_lines is not None:
            shown = f"{ctx.facts.prior_lines} prior line(s) reported without the agents"
            return None, shown, "the prior agents or regimens received"
        return None, "prior therapy not reported", None

    return Leaf(crit, observe, fact)


def _prior_systemic_leaf(crit: Criterion, fact: str) -> Leaf:
    expected = bool(crit.equals)

    def observe(ctx: Context) -> Observation:
        f = ctx.facts
        systemic = ctx.resolution.agents_in(("drug-class.systemic-therapy",))
        if f.prior_lines is not None and f.prior_lines > 0:
            return expected, f"{f.prior_lines} prior line(s) of systemic therapy", None
        if systemic:
            return expected, f"prior systemic therapy: {_listing(systemic)}", None
        if ctx.resolution.unrecognised:
            shown = f"unrecognised prior agent(s) {_listing(ctx.resolution.unrecognised)}"
            return None, shown, f"identify prior agent(s) {_listing(ctx.resolution.unrecognised)}"
        if f.prior_lines == 0:
            return not expected, "no prior systemic therapy (0 prior lines)", None
        if f.prior_agents:  # only non-systemic agents (e.g. leucovorin alone) were reported
            return not expected, f"no systemic anticancer agent among {_listing(f.prior_agents)}", None
        return None, "prior therapy not reported", None

    return Leaf(crit, observe, fact)


def _checked_classes(crit: Criterion, table: DrugTable) -> tuple[tuple[str, ...], str]:
    classes = tuple(crit.classes or ())
    for cls_id in classes:
        if not table.has_class(cls_id):
            raise KnowledgeBaseError(f"criterion {crit.id}: unknown drug class {cls_id!r}")
    return classes, " or ".join(table.class_name(c) for c in classes)


def _history_leaf(crit: Criterion, fact: str, table: DrugTable) -> Leaf:
    """Leaves over the treatment history (settings, counts, timing, progression): see her2cds.therapy.history."""
    settings = tuple(crit.settings) if crit.settings else None
    observe: Callable[[Context], Observation]
    if fact == "history.residual_disease":
        expected = bool(crit.equals)

        def observe(ctx: Context) -> Observation:
            truth, shown, need = history.residual_disease(ctx.facts)
            return (None if truth is None else truth == expected), shown, need

    elif fact == "history.progressed_on":
        drugs = tuple(crit.drugs or ())
        for inn in drugs:
            if not table.has_inn(inn):
                raise KnowledgeBaseError(f"criterion {crit.id}: unknown drug {inn!r}")

        def observe(ctx: Context) -> Observation:
            return history.progressed_on(ctx.facts, ctx.resolution, ctx.regimens, drugs)

    else:
        classes, label = _checked_classes(crit, table)
        if fact == "history.regimen_count":
            assert crit.op is not None and crit.value is not None  # guaranteed by the schema
            compare, threshold = _OPS[crit.op], crit.value

            def observe(ctx: Context) -> Observation:
                return history.regimen_count(
                    ctx.facts, ctx.resolution, ctx.regimens, classes, settings, label, compare, threshold
                )

        else:
            months = crit.months or 0
            relapse_settings = settings or ("neoadjuvant", "adjuvant")

            def observe(ctx: Context) -> Observation:
                return history.early_relapse(
                    ctx.facts, ctx.resolution, ctx.regimens, classes, relapse_settings, label, months
                )

    return Leaf(crit, observe, fact)


# ------------------------------------------------------------------------------------- composites
class AllNode(Node):
    def __init__(self, crit: Criterion, children: list[Node]) -> None:
        self.id, self.text, self.children = crit.id, crit.text, children
        self.reads = frozenset().union(*(c.reads for c in children))

    def evaluate(self, ctx: Context) -> Outcome:
        outs = [c.evaluate(ctx) for c in self.children]
        results = [o[0] for o in outs]
        if NOT_MET in results:
            return Outcome(NOT_MET, "; ".join([o[1] for o in outs if o[0] == NOT_MET]))
        if UNKNOWN in results:
            unknown = [o for o in outs if o[0] == UNKNOWN]
            return Outcome(UNKNOWN, "; ".join([o[1] for o in unknown]), _merge(unknown))
        return Outcome(MET, "; ".join([o[1] for o in outs]))


class AnyNode(Node):
    def __init__(self, crit: Criterion, children: list[Node]) -> None:
        self.id, self.text, self.children = crit.id, crit.text, children
        self.reads = frozenset().union(*(c.reads for c in children))

    def evaluate(self, ctx: Context) -> Outcome:
        outs = [c.evaluate(ctx) for c in self.children]
        results = [o[0] for o in outs]
        if MET in results:
            return Outcome(MET, "; ".join([o[1] for o in outs if o[0] == MET]))
        if UNKNOWN in results:
            return Outcome(UNKNOWN, "; ".join([o[1] for o in outs]), _merge([o for o in outs if o[0] == UNKNOWN]))
        return Outcome(NOT_MET, "; ".join([o[1] for o in outs]))


class NotNode(Node):
    def __init__(self, crit: Criterion, child: Node) -> None:
        self.id, self.text, self.child = crit.id, crit.text, child
        self.reads = child.reads

    def evaluate(self, ctx: Context) -> Outcome:
        out = self.child.evaluate(ctx)
        if out.result == MET:
            return Outcome(NOT_MET, f"{out.reason}; required: {self.text}")
        if out.result == NOT_MET:
            return Outcome(MET, f"{self.text}: {_strip_required(out.reason)}")
        return out


def _strip_required(reason: str) -> str:
    return reason.split("; required: ")[0]


def _merge(outs: list[Outcome]) -> tuple[str, ...]:
    needs: list[str] = []
    for out in outs:
        for need in out.needs:
            if need not in needs:
                needs.append(need)
    return tuple(needs)


def compile_criterion(crit: Criterion, table: DrugTable) -> Node:
    """Compile one criterion tree; raises KnowledgeBaseError for values or classes that do not exist."""
    if crit.all is not None:
        return AllNode(crit, [compile_criterion(c, table) for c in crit.all])
    if crit.any is not None:
        return AnyNode(crit, [compile_criterion(c, table) for c in crit.any])
    if crit.not_ is not None:
        return NotNode(crit, compile_criterion(crit.not_, table))
    fact = crit.fact
    assert fact is not None  # guaranteed by the schema
    if fact in _ALLOWED:
        return _set_leaf(crit, fact)
    if fact in ("biomarker.pd_l1_cps", "history.prior_lines"):
        return _number_leaf(crit, fact)
    if fact in ("her2.ish_amplified", "her2.ngs_amplified", "her2.erbb2_amplified"):
        return _amplified_leaf(crit, fact)
    if fact in ("her2.activating_mutation", "her2.kinase_domain_mutation"):
        return _mutation_leaf(crit, fact)
    if fact == "her2.ihc_3plus_gastric_criteria":
        return _pan_tumor_ihc_leaf(crit, fact)
    if fact == "histology.squamous":
        return _squamous_leaf(crit, fact)
    if fact == "history.prior_class":
        return _prior_class_leaf(crit, fact, table)
    if fact == "history.prior_systemic_therapy":
        return _prior_systemic_leaf(crit, fact)
    if fact in ("history.regimen_count", "history.early_relapse", "history.residual_disease",
                "history.progressed_on"):
        return _history_leaf(crit, fact, table)
    raise KnowledgeBaseError(f"criterion {crit.id}: fact {fact!r} has no evaluator")  # pragma: no cover


@functools.cache
def _fact_of_need() -> dict[str, str]:
    reverse: dict[str, str] = {}
    for fact, text in _NEEDS.items():
        reverse.setdefault(text, fact)
    return reverse


def need_fact(need: str) -> str | None:
    """The fact (e.g. ``history.prior_lines``) whose missing value an option's ``needs`` text names, if known."""
    return _fact_of_need().get(need)
