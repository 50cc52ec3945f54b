"""The engine: knowledge + rules -> Assessment with trace and versions. Pure: no I/O besides loading the
knowledge base once at construction."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from her2cds._version import __version__
from her2cds.errors import FieldProblem, InvalidInputError
from her2cds.knowledge.loader import KnowledgeBase, default_knowledge_base
from her2cds.knowledge.schema import Family
from her2cds.model._build import build
from her2cds.model.assessment import (
    Assessment,
    Her2Summary,
    InputWarning,
    Need,
    SpecimenResult,
    TumorSummary,
    Versions,
)
from her2cds.model.case import Case, Ihc, Ish, Ngs, Specimen
from her2cds.model.therapy import TherapyOption
from her2cds.rules.collector import Collector, ReplayPlan
from her2cds.rules.compiled import CompiledKnowledge, CompiledSystem, compile_knowledge
from her2cds.rules.heterogeneity import flag_heterogeneity
from her2cds.rules.legacy import check_reported_status
from her2cds.rules.patient import integrate
from her2cds.rules.specimen import SpecimenFinding, finding_warnings, interpret_specimen
from her2cds.rules.testing import advise
from her2cds.therapy import facts_from, match_therapies, unrecognised_agents

_PLACEHOLDER = "\ue000specimen\ue000"  # a private-use id no input can contain in practice
_MEMO_LIMIT = 50_000


def _flat(model: BaseModel | None) -> tuple[Any, ...] | None:
    return None if model is None else tuple(model.__dict__.values())


def _ihc_key(ihc: Ihc | None) -> tuple[Any, ...] | None:
    """The IHC findings that the interpretation depends on, as plain hashable values (not the antibody)."""
    return None if ihc is None else (ihc.score, _flat(ihc.percent), _flat(ihc.cluster_cells))


def _ish_key(ish: Ish | None) -> tuple[Any, ...] | None:
    if ish is None:
        return None
    return (ish.probe, ish.her2_per_cell, ish.cep17_per_cell, ish.ratio, ish.cells_counted,
            ish.percent_cells_amplified, _flat(ish.recount))


def _ngs_key(ngs: Ngs | None) -> tuple[Any, ...] | None:
    if ngs is None:
        return None
    return (ngs.erbb2_amplified, ngs.erbb2_copy_number, ngs.erbb2_cn_call, tuple(ngs.erbb2_variants),
            ngs.tumor_fraction)


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


class Engine:
    """Assesses cases against one knowledge base. Immutable after construction; thread-safe."""

    def __init__(self, kb: KnowledgeBase | None = None) -> None:
        self.kb = kb or default_knowledge_base()
        self.ck: CompiledKnowledge = compile_knowledge(self.kb)
        self.versions = Versions(
            engine=__version__, knowledge_base=self.kb.version, as_of=self.kb.meta.as_of,
            oncotree=self.kb.tumor_release,
        )
        self._disclaimer = self.kb.meta.disclaimer
        self._families = {code: self.kb.family_for(code) for code in self.kb.tumor_types}
        self._lineages = {code: self.kb.lineage(code) for code in self.kb.tumor_types}
        self._family_text: dict[tuple[str, str], str] = {}
        self._specimen_memo: dict[Any, tuple[SpecimenFinding, ReplayPlan]] = {}

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

    def assess(self, data: Case | Mapping[str, Any]) -> Assessment:
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
        col.fire(family_rule, detail)
        if not family.guideline_specific and not explicit and any(
            spec.ihc is not None or spec.ish is not None for spec in case.specimens
        ):
            col.flag("scoring_fallback")
        if explicit and system.system.status == "unverified":
            col.flag("unverified_scoring", [], f"Selected: {system.id}.")
        findings = [self._specimen(spec, i, system, col) for i, spec in enumerate(case.specimens)]
        for finding in findings:
            check_reported_status(finding, ck, col)
        her2 = integrate(findings, ck, col)
        flag_heterogeneity(findings, ck, col)
        advise(case, family, lineage, findings, her2, ck, col)
        therapies, warnings = self._therapies(case, her2, lineage)
        warnings = finding_warnings(findings) + warnings
        tumor_node = self.kb.tumor_types[case.tumor.oncotree_code]
        return build(Assessment,
            id=case.id,
            tumor=build(TumorSummary,
                oncotree_code=tumor_node.code, name=tumor_node.name, family=family.id, scoring_system=system.id,
                scoring_fallback=family.fallback, setting=case.tumor.setting.value if case.tumor.setting else None,
            ),
            her2=her2,
            specimens=[f.result for f in findings],
            recommendations=col.recommendations(),
            flags=col.flags(),
            therapies=therapies,
            trace=col.trace,
            warnings=warnings,
            versions=self.versions,
            disclaimer=self._disclaimer,
        )

    def _specimen(self, spec: Specimen, index: int, system: CompiledSystem, col: Collector) -> SpecimenFinding:
        """Interpret one specimen, reusing the interpretation of an identical earlier one (D10).

        The interpretation depends only on the scoring system and the specimen's procedure and findings, so it is
        computed once under a placeholder id and replayed with the real id, site and date.
        """
        key = (system.id, spec.procedure, _ihc_key(spec.ihc), _ish_key(spec.ish), _ngs_key(spec.ngs))
        cached = self._specimen_memo.get(key)
        if cached is None:
            sub = Collector(self.kb)
            finding = interpret_specimen(spec, index, system, self.ck, sub, as_id=_PLACEHOLDER)
            cached = (finding, sub.replay_plan(_PLACEHOLDER))
            if len(self._specimen_memo) < _MEMO_LIMIT:
                self._specimen_memo[key] = cached
        finding, plan = cached
        col.replay(plan, spec.id)
        state = dict(finding.result.__dict__)
        state.update(id=spec.id, site=spec.site, site_detail=spec.site_detail, collected_on=spec.collected_on,
                     basis=finding.result.basis.replace(_PLACEHOLDER, spec.id),
                     needs=[build(Need, field=f"specimens[{index}].{rel}", reason=reason)
                            for rel, reason in finding.needs])
        return SpecimenFinding(
            result=build(SpecimenResult, **state), specimen=spec, index=index, ihc=finding.ihc, ish=finding.ish,
            ngs=finding.ngs, pending=finding.pending, needs=finding.needs, status=finding.status,
            is_plasma=finding.is_plasma,
            usable_tissue=finding.usable_tissue, order=(spec.collected_on or dt.date.min, spec.id),
        )

    def _therapies(
        self, case: Case, her2: Her2Summary, lineage: tuple[str, ...]
    ) -> tuple[list[TherapyOption], list[InputWarning]]:
        tk = self.kb.therapy
        if tk is None:
            return [], []
        facts = facts_from(case, her2, lineage)
        warnings = [
            build(InputWarning, code="unrecognised_prior_agent", field="history.prior_agents",
                  text=f"Prior agent {agent!r} is not in the drug-class table; prior-therapy criteria that need it "
                       "are reported as unknown.")
            for agent in unrecognised_agents(facts, tk)
        ]
        return match_therapies(facts, tk), warnings

    def assess_json(self, data: Case | Mapping[str, Any]) -> dict[str, Any]:
        return self.assess(data).model_dump(mode="json")


@functools.cache
def default_engine() -> Engine:
    """The engine over the packaged knowledge base, built once per process (immutable)."""
    return Engine()
