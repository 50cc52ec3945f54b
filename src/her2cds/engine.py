"""The engine: knowledge + rules -> Assessment with trace and versions. Pure: no I/O besides loading the
knowledge base once at construction."""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json.encoder
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from her2cds._version import __version__
from her2cds.errors import FieldProblem, InvalidInputError
from her2cds.knowledge.loader import KnowledgeBase, default_knowledge_base
from her2cds.knowledge.schema import Family
from her2cds.model._build import build
from her2cds.model.assessment import (
    Assessment,
    CriteriaReading,
    Her2Summary,
    InputWarning,
    SpecimenResult,
    TraceEntry,
    TumorSummary,
    Versions,
)
from her2cds.model.case import Case, Specimen
from her2cds.model.therapy import TherapySummary
from her2cds.rules.collector import Collector, trace_json
from her2cds.rules.compiled import CompiledKnowledge, CompiledSystem, compile_knowledge
from her2cds.rules.heterogeneity import flag_heterogeneity
from her2cds.rules.legacy import CURRENT, check_criteria, check_reported_status, reread
from her2cds.rules.patient import integrate
from her2cds.rules.plausibility import count_warnings, plausibility_warnings
from her2cds.rules.specimen import SpecimenFinding, finding_warnings, interpret_specimen
from her2cds.rules.testing import advise, testing_roots
from her2cds.therapy import facts_from, history_notes, unrecognised_agents
from her2cds.therapy.facts import TherapyFacts
from her2cds.therapy.knowledge import TherapyKnowledge, compile_therapy
from her2cds.therapy.matching import Option, evaluate_options, facts_read, to_option
from her2cds.therapy.output import NO_OPTIONS, CompactOptions
from her2cds.therapy.region import DEFAULT_REGION, apply_region


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def problems_from(exc: ValidationError) -> list[FieldProblem]:
    """pydantic errors -> field problems with dotted/indexed paths (``specimens[0].ish.ratio``)."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        has_value = err["type"] != "missing"
        problems.append(FieldProblem(field=_loc(loc), message=msg, value=err.get("input"), has_value=has_value))
    return problems


def parse_case(data: Case | Mapping[str, Any]) -> Case:
    if isinstance(data, Case):
        case = data
    elif not isinstance(data, Mapping):
        raise InvalidInputError.single("", "a case must be a JSON object", type(data).__name__)
    else:
        try:
            case = Case.model_validate(data)
        except ValidationError as exc:
            raise InvalidInputError(problems_from(exc)) from None
    duplicate = case.duplicate_specimen()
    if duplicate is not None:
        raise InvalidInputError.single(f"specimens[{duplicate}].id", "specimen id is used twice",
                                       case.specimens[duplicate].id)
    return case


# case fields the engine reads only as therapy facts: facts_from copies each into the TherapyFacts attribute named,
# and no other decision reads it (plausibility warnings and texts aside); Engine.therapy_fields_read
THERAPY_ONLY_FIELDS: Mapping[str, str] = {
    "biomarkers.hormone_receptor": "hormone_receptor", "biomarkers.kras": "kras", "biomarkers.nras": "nras",
    "biomarkers.pd_l1_cps": "pd_l1_cps",
}

_EMPTY = ',"therapies":[],"ruled_out":{},"trace":[]'
_AFTER = ',"assessed_on":'  # the field after trace: the triple occurs once in a document (quotes in values are
# always escaped), so the directly written parts go in its place
_quote = json.encoder.encode_basestring  # the string escaping of json.dumps(ensure_ascii=False) and of pydantic


class Evaluation:
    """One case assessed, as plain data: what :class:`Assessment` is built from (D14.8)."""

    __slots__ = ("assessed_on", "collector", "criteria", "her2", "id", "include_unverified", "options", "region",
                 "specimens", "tumor", "warnings")

    def __init__(self, case_id: str | None, her2: Her2Summary, tumor: TumorSummary, specimens: list[SpecimenResult],
                 collector: Collector, options: list[Option], warnings: list[InputWarning],
                 assessed_on: dt.date, region: str | None = None, include_unverified: bool = False,
                 criteria: CriteriaReading | None = None) -> None:
        self.criteria = criteria  # the re-reading under superseded criteria (the case's criteria), if asked
        self.region = region  # the regulator whose status the options show (None: the default, us)
        self.include_unverified = include_unverified
        self.id = case_id
        self.her2 = her2
        self.tumor = tumor
        self.specimens = specimens
        self.collector = collector
        self.options = options
        self.warnings = warnings
        self.assessed_on = assessed_on


@dataclass(slots=True)
class SpecimenStage:
    """What :meth:`Engine.specimen_stage` found; :meth:`Engine.patient_stage` finishes it (once: ``col`` grows)."""

    case: Case
    lineage: tuple[str, ...]
    family: Family
    system: CompiledSystem
    col: Collector
    findings: list[SpecimenFinding]
    her2: Her2Summary


class Engine:
    """Assesses cases against one knowledge base. Immutable after construction; thread-safe."""

    def __init__(self, kb: KnowledgeBase | None = None) -> None:
        self.kb = kb or default_knowledge_base()
        self.ck: CompiledKnowledge = compile_knowledge(self.kb)
        self.therapy: TherapyKnowledge | None = compile_therapy(self.kb.therapy) if self.kb.therapy else None
        self.versions = Versions(
            engine=__version__, knowledge_base=self.kb.version, as_of=self.kb.meta.as_of,
            oncotree=self.kb.tumor_release,
        )
        self._disclaimer = self.kb.meta.disclaimer
        self._families = {code: self.kb.family_for(code) for code in self.kb.tumor_types}
        self._lineages = {code: self.kb.lineage(code) for code in self.kb.tumor_types}
        self._family_text: dict[tuple[str, str], str] = {}
        self._compact = CompactOptions(self.therapy) if self.therapy is not None else None

    # ------------------------------------------------------------------------------------------
    def resolve_tumor(self, case: Case) -> tuple[tuple[str, ...], Family, CompiledSystem, bool]:
        code = case.tumor.oncotree_code
        if code not in self.kb.tumor_types:
            upper = code.upper()
            hint = f"; did you mean {upper!r}?" if upper in self.kb.tumor_types else (
                "; use a listed OncoTree code or its parent/tissue code (her2cds kb list)"
            )
            raise InvalidInputError.single("tumor.oncotree_code", f"unknown OncoTree code{hint}", code)
        lineage = self._lineages[code]
        family = self._families[code]
        if family is None:
            raise InvalidInputError.single(
                "tumor.oncotree_code", "HER2 rules cover solid tumors; this is a hematologic tumor type", code
            )
        system_id = case.tumor.scoring_system or family.scoring_system
        if system_id not in self.ck.systems:
            raise InvalidInputError.single(
                "tumor.scoring_system", f"unknown scoring system; choose one of {sorted(self.ck.systems)}", system_id
            )
        explicit = case.tumor.scoring_system is not None
        return lineage, family, self.ck.systems[system_id], explicit

    def lineage_codes(self) -> frozenset[str]:
        """Every OncoTree code the engine's decisions compare a case's lineage with: the tumor families' roots and
        the excluded (non-solid) roots (:meth:`KnowledgeBase.family_for`), the testing indications' roots
        (:func:`~her2cds.rules.testing.testing_roots`) and what therapy matching reads
        (:meth:`~her2cds.therapy.knowledge.TherapyKnowledge.lineage_codes`)."""
        kb = self.kb
        codes = {*kb.excluded_roots, *(root for family in kb.families for root in family.roots),
                 *testing_roots(self.ck)}
        if self.therapy is not None:
            codes.update(self.therapy.lineage_codes())
        return frozenset(codes)

    def tumor_classes(self) -> dict[str, str]:
        """OncoTree code -> the first code (in the tree's order) of its *decision class*: codes for which every
        decision of the engine (HER2 findings and summary, flags, recommendations, therapy options with their
        outcomes, criteria results and needs) is the same, the code itself and texts naming it apart
        (docs/decisions.md D12.7).

        The engine reads a case's tumor only through its lineage (the code and its ancestors, nearest first),
        and the lineage only by comparing its codes with those of :meth:`lineage_codes`, in order; the code's own
        identity matters only when it is an ``unclear`` tumor-set code (it matches itself alone:
        :meth:`~her2cds.therapy.knowledge.TherapyKnowledge.identity_codes`). So a code's class is its lineage
        reduced to those codes, in order, or the code alone when its identity matters. The family (and so the
        default scoring system) follows from the reduced lineage."""
        named = self.lineage_codes()
        itself = self.therapy.identity_codes() if self.therapy is not None else frozenset()
        first: dict[tuple[str, ...], str] = {}
        out: dict[str, str] = {}
        for code in self.kb.tumor_types:
            key = ("=", code) if code in itself else ("<", *(c for c in self._lineages[code] if c in named))
            out[code] = first.setdefault(key, code)
        return out

    def therapy_fields_read(self, code: str) -> frozenset[str]:
        """Those of :data:`THERAPY_ONLY_FIELDS` that a decision on a case of tumor ``code`` can read: the ones a
        criterion of an indication the code's lineage reaches reads (therapy/matching.py ``facts_read``). The
        same for every code of one decision class (:meth:`tumor_classes`: they reach the same indications)."""
        if self.therapy is None or code not in self._lineages:
            return frozenset(THERAPY_ONLY_FIELDS)
        read = facts_read(TherapyFacts(tumor_code=code, lineage=self._lineages[code]), self.therapy)
        return frozenset(name for name, attr in THERAPY_ONLY_FIELDS.items() if attr in read)

    def evaluate(self, data: Case | Mapping[str, Any]) -> Evaluation:
        """Assess one case into plain data (:class:`Evaluation`); :meth:`assess` / :meth:`assess_json` build the
        output from it."""
        return self.finish(self.specimen_stage(data))

    def specimen_tumor_key(self, code: str) -> str | None:
        """What :meth:`specimen_stage` reads of a tumor code besides texts: whether its family has
        guideline-specific criteria (the family rule fired, the ``scoring_fallback`` flag) and the family's default
        scoring system; None for a code without a HER2 family (or unknown), which the stage rejects. Codes with
        one key get the same specimen stage, the family rule's trace text apart (D12.9)."""
        family = self._families.get(code)
        return None if family is None else f"{family.guideline_specific}|{family.scoring_system}"

    def specimen_stage(self, data: Case | Mapping[str, Any]) -> SpecimenStage:
        """The first stage of :meth:`assess`: the validated case, its tumor, every specimen's finding, the
        patient-level HER2 summary and the flags and recommendations so far. Its findings depend on the tumor only
        through its family and scoring system (cohort mode keys on that: docs/decisions.md D12.4)."""
        case = parse_case(data)
        lineage, family, system, explicit = self.resolve_tumor(case)
        col = Collector(self.kb)
        ck = self.ck
        family_rule = ck.rule(
            "her2cds.tumor.family-specific" if family.guideline_specific else "her2cds.tumor.family-gastric-criteria"
        )
        key = (case.tumor.oncotree_code, system.id)
        detail = self._family_text.get(key)
        if detail is None:  # a handful of distinct strings: memoised (immutable values, no shared state)
            detail = (f"{key[0]} ({' > '.join(reversed(lineage))}) -> {family.name}: {family.text} "
                      f"Scoring system: {system.system.name}.")
            self._family_text[key] = detail
        col.fire(family_rule, detail, fixed=True)  # fixed text for the tumor code: kb show CODE (D14.11)
        if not family.guideline_specific and not explicit and any(
            spec.ihc is not None or spec.ish is not None for spec in case.specimens
        ):
            col.flag("scoring_fallback")
        if explicit and system.system.status == "unverified":
            col.flag("unverified_scoring", [], f"Selected: {system.id}.")
        findings = [self._specimen(spec, i, system, col, case.include_unverified)
                    for i, spec in enumerate(case.specimens)]
        for finding in findings:
            check_reported_status(finding, ck, col, case.include_unverified)
        her2 = integrate(findings, ck, col)
        flag_heterogeneity(findings, ck, col)
        return SpecimenStage(case, lineage, family, system, col, findings, her2)

    def patient_stage(self, stage: SpecimenStage) -> Assessment:
        """The second stage of :meth:`assess` (testing advice, therapies, warnings); consumes ``stage``."""
        return self.assessment(self.finish(stage))

    def finish(self, stage: SpecimenStage) -> Evaluation:
        """The rest of :meth:`evaluate` after :meth:`specimen_stage` (testing advice, therapies, warnings), as plain
        data; consumes ``stage``."""
        case, lineage, family, system, col, findings, her2 = (
            stage.case, stage.lineage, stage.family, stage.system, stage.col, stage.findings, stage.her2)
        ck = self.ck
        reading = None
        if case.criteria is not None and case.criteria != CURRENT:  # re-read under superseded criteria
            check_criteria(ck, case.criteria, case.include_unverified)
            reading = reread(case.criteria, findings, her2, system.system.breast_categories, ck, col,
                             case.include_unverified)
        advise(case, family, lineage, findings, her2, ck, col)
        assessed_on = case.assessed_on or dt.date.today()
        options, warnings = self._therapies(case, her2, lineage, assessed_on)
        tumor_node = self.kb.tumor_types[case.tumor.oncotree_code]
        counts = count_warnings([(f.index, f.specimen.id, f.ish.outcome if f.ish else None,
                                  f.specimen.ish.cells_counted if f.specimen.ish else None) for f in findings])
        warnings = plausibility_warnings(case, tumor_node.name) + finding_warnings(findings) + counts + warnings
        tumor = build(TumorSummary,
            oncotree_code=tumor_node.code, name=tumor_node.name, family=family.id, scoring_system=system.id,
            scoring_fallback=family.fallback, setting=case.tumor.setting.value if case.tumor.setting else None,
        )
        return Evaluation(case.id, her2, tumor, [f.result for f in findings], col, options, warnings, assessed_on,
                          case.region, case.include_unverified, reading)

    def _assessment(self, ev: Evaluation, therapies: list[TherapySummary], trace: list[TraceEntry]) -> Assessment:
        col = ev.collector
        return build(Assessment,
            id=ev.id,
            tumor=ev.tumor,
            her2=ev.her2,
            specimens=ev.specimens,
            criteria=ev.criteria,
            recommendations=col.recommendations(),
            flags=col.flags(),
            therapies=therapies,
            trace=trace,
            warnings=ev.warnings,
            assessed_on=ev.assessed_on,
            versions=self.versions,
            disclaimer=self._disclaimer,
        )

    def assessment(self, ev: Evaluation) -> Assessment:
        """The pydantic :class:`Assessment` of an evaluation (every therapy option in its full form)."""
        tk = self.therapy
        therapies: list[TherapySummary] = []
        if tk is not None:
            therapies += apply_region([to_option(o, tk) for o in ev.options], tk, ev.region,
                                      include_unverified=ev.include_unverified)
        return self._assessment(ev, therapies, ev.collector.trace_entries())

    def assess(self, data: Case | Mapping[str, Any]) -> Assessment:
        return self.assessment(self.evaluate(data))

    def document(self, ev: Evaluation) -> str:
        """The default JSON document of an evaluation, written directly: equal to
        ``self.assessment(ev).model_dump_json()`` (tested), without building therapy option or trace objects."""
        if ev.region not in (None, DEFAULT_REGION):  # another regulator's status: from the full options
            return self.assessment(ev).model_dump_json()
        text = self._assessment(ev, [], []).model_dump_json()
        at = text.index(_EMPTY + _AFTER)
        therapies = self._compact.options(ev.options) if self._compact is not None else NO_OPTIONS
        return f'{text[:at]},{therapies},"trace":{trace_json(ev.collector.trace)}{text[at + len(_EMPTY):]}'

    def _specimen(
        self, spec: Specimen, index: int, system: CompiledSystem, col: Collector, include_unverified: bool = False
    ) -> SpecimenFinding:
        """Interpret one specimen. No memo (D14.2): on distinct cases it cost more in memory and garbage
        collection than it saved."""
        return interpret_specimen(spec, index, system, self.ck, col, include_unverified)

    def _therapies(
        self, case: Case, her2: Her2Summary, lineage: tuple[str, ...], assessed_on: dt.date
    ) -> tuple[list[Option], list[InputWarning]]:
        warnings = [build(InputWarning, code=code, field=field, text=text) for code, field, text in history_notes(case)]
        if case.assessed_on is None:  # explicit assessed_on is checked on input; today's date only here
            warnings += [
                build(InputWarning, code="date_after_assessment", field=name,
                      text=f"{name} {value} is after the assessment date {assessed_on} (today).")
                for name, value in case.dated_facts() if value > assessed_on
            ]
        tk = self.therapy
        if tk is None:
            return [], warnings
        facts = facts_from(case, her2, lineage, assessed_on)
        warnings += [
            build(InputWarning, code="unrecognised_prior_agent", field="history.prior_agents",
                  text=f"Prior agent {agent!r} is not in the drug-class table; prior-therapy criteria that need it "
                       "are reported as unknown.")
            for agent in unrecognised_agents(facts, tk)
        ]
        apply_region([], tk, case.region)  # an unknown region is refused here, whatever the output
        return evaluate_options(facts, tk, include_unverified=case.include_unverified), warnings

    def assess_json(self, data: Case | Mapping[str, Any], *, expand: bool = False) -> str:
        """The assessment as a JSON document (the default one written directly, never through Python dicts)."""
        if expand:
            return self.assess(data).expanded().model_dump_json()
        return self.document(self.evaluate(data))


@functools.cache
def default_engine() -> Engine:
    """The engine over the packaged knowledge base, built once per process (immutable).

    The knowledge base is long-lived: once it is loaded, ``gc.freeze()`` moves it (and everything else alive
    at that point) out of the collector's generations, so that collections no longer walk it (D14.2).
    """
    engine = Engine()
    gc.freeze()
    return engine
