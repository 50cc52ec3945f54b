"""IHC interpretation from a reported score, cell-level percentages or biopsy cluster sizes.

The reported score stands (D8.2): a score derived from percentages or clusters that disagrees is shown beside it
and flagged, never silently substituted. The strongest staining observed (``intensity``) is kept apart from the
guideline's score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from her2cds.errors import InvalidInputError
from her2cds.model.case import Ihc
from her2cds.model.enums import IhcScore, Procedure
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge, CompiledRule, CompiledSystem, Measures, first_match

Derivation = Literal["reported", "percent", "cluster", "qualitative"]
NeedTuple = tuple[tuple[str, str], ...]
DECISIVE = ("positive", "negative", "equivocal")


@dataclass(slots=True)  # per case, never changed after construction (not frozen: D14.13)
class IhcFinding:
    score: IhcScore | None
    outcome: str  # positive | negative | equivocal | indeterminate
    rule: CompiledRule
    derived_from: Derivation
    reported: IhcScore | None
    any_membrane_pct: float | None
    faint_only: bool | None  # IHC 0 staining is only faint incomplete (None when percentages are unknown)
    intensity: IhcScore | None = None
    derived_score: IhcScore | None = None
    needs: NeedTuple = ()
    mismatch: bool = False


def ihc_measures(ihc: Ihc) -> dict[str, float | None]:
    """Cumulative measures: a cell with strong complete staining also counts at every weaker level."""
    m: dict[str, float | None] = {}
    if ihc.percent is not None:
        p = ihc.percent
        m["pct.strong_complete"] = p.strong_complete
        m["pct.complete"] = p.strong_complete + p.weak_moderate_complete
        m["pct.intense_incomplete"] = p.intense_incomplete
        m["pct.any_membrane"] = p.strong_complete + p.weak_moderate_complete + p.faint_incomplete + p.intense_incomplete
    if ihc.cluster_cells is not None:
        c = ihc.cluster_cells
        m["cluster.strong_complete"] = c.strong_complete
        m["cluster.complete"] = max(c.strong_complete, c.weak_moderate_complete)
        m["cluster.any_membrane"] = max(c.strong_complete, c.weak_moderate_complete, c.faint_incomplete)
    return m


def intensity_of(ihc: Ihc) -> IhcScore | None:
    """The strongest staining observed, on the 0-3+ intensity scale, whatever its extent."""
    if ihc.percent is not None:
        p = ihc.percent
        strong, moderate, faint = p.strong_complete, p.weak_moderate_complete + p.intense_incomplete, p.faint_incomplete
    elif ihc.cluster_cells is not None:
        c = ihc.cluster_cells
        strong, moderate, faint = c.strong_complete, c.weak_moderate_complete, c.faint_incomplete
    else:
        return ihc.score
    if strong > 0:
        return IhcScore.THREE
    if moderate > 0:
        return IhcScore.TWO
    if faint > 0:
        return IhcScore.ONE
    return IhcScore.ZERO


def _fmt_percent(ihc: Ihc) -> str:
    assert ihc.percent is not None
    p = ihc.percent
    parts = [f"strong complete {p.strong_complete:g}%", f"weak-moderate complete {p.weak_moderate_complete:g}%",
             f"faint incomplete {p.faint_incomplete:g}%"]
    if p.intense_incomplete:
        parts.append(f"intense incomplete {p.intense_incomplete:g}%")
    return ", ".join(parts)


def _derive(
    ihc: Ihc, procedure: Procedure, system: CompiledSystem, measures: Measures, field: str
) -> tuple[CompiledRule, Derivation, str] | None:
    """The rule the guideline gives for the reported percentages or cluster sizes (None when only a score)."""
    cluster_rules = procedure in system.system.cluster_procedures and bool(system.ihc_cluster)
    if ihc.cluster_cells is not None and cluster_rules:
        c = ihc.cluster_cells
        rule = first_match(system.ihc_cluster, measures)
        assert rule is not None  # every list ends with an unconditional rule
        return rule, "cluster", (f"largest cohesive cluster: strong complete {c.strong_complete}, weak-moderate "
                                 f"complete {c.weak_moderate_complete}, faint {c.faint_incomplete} cells")
    if ihc.percent is not None:
        if cluster_rules and system.ihc_biopsy_percent:
            rule = first_match(system.ihc_biopsy_percent, measures)
            detail = _fmt_percent(ihc) + f"; {procedure.value} without cluster sizes"
        else:
            rule = first_match(system.ihc_percent, measures)
            detail = _fmt_percent(ihc)
        assert rule is not None
        return rule, "percent", detail
    if ihc.cluster_cells is not None:
        raise InvalidInputError.single(
            f"{field}.cluster_cells",
            f"cluster sizes are scored only for {', '.join(p.value for p in system.system.cluster_procedures) or 'no'}"
            f" specimens under {system.id}; give a score or percent for a {procedure.value}",
            ihc.cluster_cells.model_dump(),
        )
    return None


def derived_reading(
    ihc: Ihc, procedure: Procedure, system: CompiledSystem, field: str
) -> tuple[IhcScore | None, str, IhcScore | None]:
    """(score, outcome, intensity) that the percentages or cluster sizes of ``ihc`` give under ``system``, as
    :func:`interpret_ihc` reads them when no score is reported (without firing rules into a collector). ``ihc``
    must hold percentages or cluster sizes."""
    derived = _derive(ihc, procedure, system, ihc_measures(ihc), field)
    assert derived is not None  # percentages or cluster sizes are given
    rule = derived[0].rule
    return rule.score, rule.outcome or "indeterminate", intensity_of(ihc)


def _category_band(score: IhcScore | None) -> str:
    return "zero" if score is IhcScore.ZERO else "low" if score in (IhcScore.ONE, IhcScore.TWO) else "other"


_STATED = {"positive": "qualitative.ihc.positive", "negative": "qualitative.ihc.negative",
           "equivocal": "qualitative.ihc.equivocal"}


def _stated(ihc: Ihc, system: CompiledSystem, ck: CompiledKnowledge, col: Collector, specimen: str,
            counted: IhcFinding | None) -> IhcFinding:
    """An IHC result stated only in words (D8.10): used as the guideline allows, never turned into a score."""
    assert ihc.result is not None
    rule_id = _STATED[ihc.result]
    if ihc.result == "positive" and not system.system.qualitative_positive_decides:
        rule_id = "qualitative.ihc.positive-needs-extent"
    rule = ck.rule(rule_id)
    detail = rule.rule.text
    if counted is not None:
        detail += f" The reported data alone do not decide ({counted.rule.id}); the stated result is used."
    col.fire(rule, detail, specimen)
    if rule.rule.outcome == "equivocal" and rule_id == "qualitative.ihc.equivocal":
        col.recommend("reflex_ish", specimen)
    return IhcFinding(
        score=None, outcome=rule.rule.outcome or "indeterminate", rule=rule, derived_from="qualitative",
        reported=None, any_membrane_pct=None, faint_only=None,
        intensity=counted.intensity if counted is not None else None,
        derived_score=counted.derived_score if counted is not None else None,
        needs=tuple((n.field, n.reason) for n in rule.rule.needs),
    )


def interpret_ihc(
    ihc: Ihc, procedure: Procedure, system: CompiledSystem, col: Collector, specimen: str, field: str,
    ck: CompiledKnowledge | None = None,
) -> IhcFinding:
    if ihc.result is not None and ck is not None:
        if ihc.score is None and ihc.percent is None and ihc.cluster_cells is None:
            return _stated(ihc, system, ck, col, specimen, None)
        counted = _interpret(ihc, procedure, system, col, specimen, field)
        if counted.outcome in DECISIVE and counted.outcome != ihc.result:
            col.flag("reported_status_mismatch", [specimen],
                     f"Specimen {specimen}: IHC stated {ihc.result}; the reported data give {counted.outcome}.")
        if counted.outcome not in DECISIVE:
            return _stated(ihc, system, ck, col, specimen, counted)
        return counted
    return _interpret(ihc, procedure, system, col, specimen, field)


def _interpret(
    ihc: Ihc, procedure: Procedure, system: CompiledSystem, col: Collector, specimen: str, field: str
) -> IhcFinding:
    raw = ihc_measures(ihc)
    measures: Measures = raw
    intensity = intensity_of(ihc)
    derived = _derive(ihc, procedure, system, measures, field)
    mismatch = False
    derived_score: IhcScore | None = None
    score: IhcScore | None
    how: Derivation
    if derived is None:
        assert ihc.score is not None  # the model requires a score, percent or cluster sizes
        rule, how, detail = system.ihc_reported[ihc.score], "reported", f"reported IHC {ihc.score.value}"
        score = rule.rule.score if rule.rule.score is not None else ihc.score
    else:
        d_rule, d_how, d_detail = derived
        derived_score = d_rule.rule.score
        d_outcome = d_rule.rule.outcome or "indeterminate"
        agrees = derived_score == ihc.score or (derived_score is None and d_outcome in DECISIVE
                                                and intensity == ihc.score)
        if ihc.score is None or agrees:
            rule, how, detail, score = d_rule, d_how, d_detail, derived_score
        else:  # the reported score stands; the derived one is shown beside it
            rule, how = system.ihc_reported[ihc.score], "reported"
            score = rule.rule.score if rule.rule.score is not None else ihc.score
            if d_outcome in DECISIVE:
                mismatch = True
                detail = (f"reported IHC {ihc.score.value} stands; the {d_how} data ({d_detail}) give "
                          f"{derived_score.value if derived_score else d_rule.rule.text} ({d_rule.id})")
            else:  # the data alone cannot decide; the pathologist's score resolves it
                detail = f"reported IHC {ihc.score.value} ({d_detail}: {d_rule.text})"
    outcome = rule.rule.outcome or "indeterminate"
    col.fire(rule, f"{rule.rule.text} ({detail})", specimen)
    for code in rule.rule.recommend:
        col.recommend(code, specimen)
    if rule.rule.flag:
        col.flag(rule.rule.flag, [specimen], f"Specimen {specimen}: {rule.rule.text}")
    if mismatch:
        assert ihc.score is not None and derived is not None
        d_rule = derived[0]
        shown = derived_score.value if derived_score else f"no score ({d_rule.rule.outcome})"
        col.flag("ihc_score_mismatch", [specimen],
                 f"Specimen {specimen}: reported {ihc.score.value} stands; the {derived[1]} data give {shown}.")
        changes_status = (d_rule.rule.outcome or "indeterminate") != outcome
        changes_category = system.system.breast_categories and (
            _category_band(ihc.score) != _category_band(derived_score))
        if changes_status or changes_category:
            what = "status" if changes_status else "HER2-low/ultralow/null category"
            col.flag("ihc_score_review", [specimen],
                     f"Specimen {specimen}: reported IHC {ihc.score.value} and derived {shown} give a different "
                     f"{what}; review the slide.")
    return IhcFinding(
        score=score,
        outcome=outcome,
        rule=rule,
        derived_from=how,
        reported=ihc.score,
        any_membrane_pct=raw.get("pct.any_membrane"),
        faint_only=None if ihc.percent is None else (
            ihc.percent.weak_moderate_complete == 0 and ihc.percent.strong_complete == 0
            and ihc.percent.intense_incomplete == 0
        ),
        intensity=intensity,
        derived_score=derived_score if derived is not None else None,
        needs=tuple((n.field, n.reason) for n in rule.rule.needs),
        mismatch=mismatch,
    )
