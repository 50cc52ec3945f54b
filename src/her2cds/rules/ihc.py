"""IHC interpretation from a reported score, cell-level percentages or biopsy cluster sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from her2cds.errors import InvalidInputError
from her2cds.model.case import Ihc
from her2cds.model.enums import IhcScore, Procedure
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledRule, CompiledSystem, Measures, first_match


@dataclass(frozen=True, slots=True)
class IhcFinding:
    score: IhcScore | None
    outcome: str  # positive | negative | equivocal
    rule: CompiledRule
    derived_from: Literal["reported", "percent", "cluster"]
    reported: IhcScore | None
    any_membrane_pct: float | None
    faint_only: bool | None  # IHC 0 staining is only faint incomplete (None when percentages are unknown)

    @property
    def mismatch(self) -> bool:
        return self.derived_from != "reported" and self.reported is not None and self.reported != self.score


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


def _fmt_percent(ihc: Ihc) -> str:
    assert ihc.percent is not None
    p = ihc.percent
    parts = [f"strong complete {p.strong_complete:g}%", f"weak-moderate complete {p.weak_moderate_complete:g}%",
             f"faint incomplete {p.faint_incomplete:g}%"]
    if p.intense_incomplete:
        parts.append(f"intense incomplete {p.intense_incomplete:g}%")
    return ", ".join(parts)


def interpret_ihc(
    ihc: Ihc, procedure: Procedure, system: CompiledSystem, col: Collector, specimen: str, field: str
) -> IhcFinding:
    measures: Measures = ihc_measures(ihc)
    use_cluster = ihc.cluster_cells is not None and procedure in system.system.cluster_procedures and system.ihc_cluster
    rule: CompiledRule | None
    derived: Literal["reported", "percent", "cluster"]
    if use_cluster:
        rule = first_match(system.ihc_cluster, measures)
        derived = "cluster"
        assert ihc.cluster_cells is not None
        c = ihc.cluster_cells
        detail = (f"largest cohesive cluster: strong complete {c.strong_complete}, weak-moderate complete "
                  f"{c.weak_moderate_complete}, faint {c.faint_incomplete} cells")
    elif ihc.percent is not None:
        rule = first_match(system.ihc_percent, measures)
        derived = "percent"
        detail = _fmt_percent(ihc)
        if procedure in system.system.cluster_procedures and system.ihc_cluster:
            detail += "; biopsy scored by percentage because cluster sizes were not reported"
    elif ihc.cluster_cells is not None:
        raise InvalidInputError.single(
            f"{field}.cluster_cells",
            f"cluster sizes are scored only for {', '.join(p.value for p in system.system.cluster_procedures) or 'no'}"
            f" specimens under {system.id}; give a score or percent for a {procedure.value}",
            ihc.cluster_cells.model_dump(),
        )
    else:
        assert ihc.score is not None
        rule = system.ihc_reported[ihc.score]
        derived = "reported"
        detail = f"reported IHC {ihc.score.value}"
    assert rule is not None  # every list ends with an unconditional rule
    score = rule.rule.score if rule.rule.score is not None else ihc.score
    outcome = rule.rule.outcome or "indeterminate"
    col.fire(rule, f"{rule.rule.text} ({detail})", specimen)
    for code in rule.rule.recommend:
        col.recommend(code, specimen)
    finding = IhcFinding(
        score=score,
        outcome=outcome,
        rule=rule,
        derived_from=derived,
        reported=ihc.score,
        any_membrane_pct=measures.get("pct.any_membrane"),
        faint_only=None if ihc.percent is None else (
            ihc.percent.weak_moderate_complete == 0 and ihc.percent.strong_complete == 0
            and ihc.percent.intense_incomplete == 0
        ),
    )
    if finding.mismatch:
        assert ihc.score is not None and score is not None
        col.flag("ihc_score_mismatch", [specimen],
                 f"Specimen {specimen}: reported {ihc.score.value}, guideline gives {score.value}.")
    return finding
