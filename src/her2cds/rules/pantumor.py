"""IHC 3+ as the tumor-agnostic trastuzumab deruxtecan label reads it (D8.3).

The label followed DESTINY-PanTumor02, which scored IHC on the gastric criteria without requiring ISH: resection
≥10% of cells, biopsy a cohesive cluster of ≥5 cells. Each specimen's IHC is therefore also read on the gastric
criteria; an intensity label from a result that is negative on those criteria never counts as 3+, and where the
tumor's own guideline calls the specimen negative while the gastric criteria give 3+, the answer is left unknown
for review.
"""

from __future__ import annotations

from collections.abc import Sequence

from her2cds.model.case import Ihc
from her2cds.model.enums import IhcScore, Procedure, Status
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge, CompiledSystem
from her2cds.rules.ihc import IhcFinding, derived_reading

GASTRIC_CRITERIA = "cap-ascp-asco-2016.gea"  # the scoring system id the tumor-agnostic label's trial used


def gastric_reading(
    ihc: Ihc, finding: IhcFinding, procedure: Procedure, system: CompiledSystem, ck: CompiledKnowledge,
) -> tuple[IhcScore | None, bool | None]:
    """(gastric-criteria score, whether it is IHC 3+: True / False / None when undetermined)."""
    if finding.derived_from == "qualitative":  # never a number from words; "positive" could be 3+
        return None, (None if finding.outcome == "positive" else False)
    if system.id == GASTRIC_CRITERIA:
        score, outcome, intensity = finding.score, finding.outcome, finding.intensity
    elif finding.derived_from in ("percent", "cluster"):  # the data read on the gastric criteria, score aside
        score, outcome, intensity = derived_reading(ihc, procedure, ck.systems[GASTRIC_CRITERIA], "ihc")
    else:  # a reported score: the same label, unless the own guideline needs the extent to read it
        score = None if finding.rule.rule.needs else finding.score
        outcome = "indeterminate" if score is None else finding.outcome
        intensity = finding.intensity
    if score is IhcScore.THREE:
        return score, True
    if score is not None or outcome in ("negative", "equivocal", "positive"):
        return score, False
    if intensity is not None and intensity.rank < IhcScore.THREE.rank:
        return score, False  # nothing stronger than 2+ was seen: it cannot be 3+ on any criteria
    return score, None


def pan_tumor_3plus(
    findings: Sequence[tuple[str, Status, bool | None]], patient_status: Status, col: Collector
) -> tuple[bool | None, str]:
    """Patient level from (specimen id, specimen status, gastric-criteria 3+) of adequate tissue with IHC."""
    if not findings:
        return None, "no HER2 IHC on adequate tissue"
    met = [sid for sid, status, is3 in findings if is3 is True and status is not Status.NEGATIVE]
    disagree = [sid for sid, status, is3 in findings if is3 is True and status is Status.NEGATIVE]
    unknown = [sid for sid, _, is3 in findings if is3 is None]
    if disagree:
        col.flag("ihc_criteria_disagreement", disagree,
                 f"Specimen(s) {', '.join(disagree)}: IHC 3+ on the gastric criteria, HER2-negative by the tumor's "
                 "own guideline.")
    if met and patient_status is not Status.NEGATIVE:
        return True, f"IHC 3+ on the gastric criteria in {', '.join(met)}"
    if disagree:
        return None, (f"IHC 3+ on the gastric criteria but HER2-negative by the tumor's own guideline in "
                      f"{', '.join(disagree)}: review")
    if unknown:
        return None, f"the gastric-criteria IHC score is undetermined in {', '.join(unknown)}"
    return False, "no IHC 3+ on the gastric criteria in any adequate specimen"
