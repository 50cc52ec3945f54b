"""The slim output row: fixed columns, computed from an assessment or from an error."""

from __future__ import annotations

from typing import Any

from her2cds.model.assessment import Assessment

SlimAnswer = dict[str, Any]


def slim_answer(a: Assessment) -> SlimAnswer:
    """The slim columns that depend on the case's findings (not its id)."""
    deciding = set(a.her2.deciding_specimens)
    groups = [s.ish_group for s in a.specimens if s.id in deciding and s.ish_group is not None]
    groups = groups or [s.ish_group for s in a.specimens if s.ish_group is not None]
    needs: set[str] = set()
    for option in a.therapies:
        needs.update(option.needs)
    return {
        "tumor": a.tumor.oncotree_code,
        "her2_status": a.her2.status.value,
        "her2_category": a.her2.category.value if a.her2.category is not None else None,
        "ihc_score": a.her2.ihc_score.value if a.her2.ihc_score is not None else None,
        "ish_group": groups[0] if groups else None,
        "erbb2_amplified": a.her2.erbb2_amplified,
        "activating_mutations": list(a.her2.erbb2_activating_mutations),
        "flags": sorted({f.code for f in a.flags}),
        "recommendations": list(dict.fromkeys(r.code for r in a.recommendations)),
        "eligible_therapies": [t.id for t in a.therapies if t.eligible],
        "needs": sorted(needs),
        "kb_version": a.versions.knowledge_base,
        "error": None,
    }


def error_answer(tumor: Any, message: str, kb_version: str) -> SlimAnswer:
    return {
        "tumor": tumor if isinstance(tumor, str) else None, "her2_status": None, "her2_category": None,
        "ihc_score": None, "ish_group": None, "erbb2_amplified": None, "activating_mutations": [], "flags": [],
        "recommendations": [], "eligible_therapies": [], "needs": [], "kb_version": kb_version, "error": message,
    }
