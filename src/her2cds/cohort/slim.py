"""The slim output row: fixed columns, computed from an assessment (or the engine's plain evaluation of a case,
which the assessment is built from) or from an error."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from her2cds.engine import Evaluation
from her2cds.model.assessment import Assessment, Her2Summary, SpecimenResult

SlimAnswer = dict[str, Any]


def _slim(tumor: str, her2: Her2Summary, specimens: Sequence[SpecimenResult], flags: Iterable[str],
          recommendations: Iterable[str], therapies: Iterable[tuple[str, bool, Sequence[str]]],
          kb_version: str) -> SlimAnswer:
    """The slim columns that depend on the case's findings (not its id); ``therapies``: (id, eligible, needs)
    of each option in the engine's order."""
    deciding = set(her2.deciding_specimens)
    groups = [s.ish_group for s in specimens if s.id in deciding and s.ish_group is not None]
    groups = groups or [s.ish_group for s in specimens if s.ish_group is not None]
    needs: set[str] = set()
    eligible: list[str] = []
    for option_id, is_eligible, option_needs in therapies:
        needs.update(option_needs)
        if is_eligible:
            eligible.append(option_id)
    return {
        "tumor": tumor,
        "her2_status": her2.status.value,
        "her2_category": her2.category.value if her2.category is not None else None,
        "ihc_score": her2.ihc_score.value if her2.ihc_score is not None else None,
        "ish_group": groups[0] if groups else None,
        "erbb2_amplified": her2.erbb2_amplified,
        "activating_mutations": list(her2.erbb2_activating_mutations),
        "flags": sorted(set(flags)),
        "recommendations": list(dict.fromkeys(recommendations)),
        "eligible_therapies": eligible,
        "needs": sorted(needs),
        "kb_version": kb_version,
        "error": None,
    }


def slim_answer(a: Assessment) -> SlimAnswer:
    """The slim columns of an assessment."""
    return _slim(a.tumor.oncotree_code, a.her2, a.specimens, (f.code for f in a.flags),
                 (r.code for r in a.recommendations), ((t.id, t.eligible, t.needs) for t in a.therapies),
                 a.versions.knowledge_base)


def slim_evaluation(ev: Evaluation, kb_version: str) -> SlimAnswer:
    """The slim columns of the engine's evaluation of a case: equal to ``slim_answer`` of the assessment built
    from it (``Engine.assessment``; tested), without building the therapy options, trace and texts. (The region
    only changes what options say about approval, never their eligibility or needs: therapy/region.py.)"""
    col = ev.collector
    return _slim(ev.tumor.oncotree_code, ev.her2, ev.specimens, (f.code for f in col.flags()),
                 (r.code for r in col.recommendations()), ((o.id, o.eligible, o.needs) for o in ev.options),
                 kb_version)


def error_answer(tumor: Any, message: str, kb_version: str) -> SlimAnswer:
    return {
        "tumor": tumor if isinstance(tumor, str) else None, "her2_status": None, "her2_category": None,
        "ihc_score": None, "ish_group": None, "erbb2_amplified": None, "activating_mutations": [], "flags": [],
        "recommendations": [], "eligible_therapies": [], "needs": [], "kb_version": kb_version, "error": message,
    }
