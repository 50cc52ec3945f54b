"""What the result page and the report show, built from a stored assessment (no clinical logic here: the
headline, flags, recommendations and therapy standings are the engine's; this only orders and links them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from her2cds.app import forms, plots
from her2cds.errors import Her2CdsError

STATUS_WORDS = {
    "positive": "HER2-positive",
    "negative": "HER2-negative",
    "equivocal": "HER2 equivocal",
    "indeterminate": "HER2 status indeterminate",
}


@dataclass(frozen=True)
class SourceLink:
    id: str
    title: str
    url: str | None


def source_link(kb: Any, source_id: str) -> SourceLink:
    source = kb.sources.get(source_id)
    if source is None:
        return SourceLink(source_id, source_id, None)
    url = source.url
    if not url and source.doi:
        url = f"https://doi.org/{source.doi}"
    if not url and source.pmid:
        url = f"https://pubmed.ncbi.nlm.nih.gov/{source.pmid}/"
    if not url and source.nct:
        url = f"https://clinicaltrials.gov/study/{source.nct}"
    title = source.title if source.year is None else f"{source.title} ({source.year})"
    return SourceLink(source_id, title, url)


def _therapy_reasons(option: Mapping[str, Any]) -> list[str]:
    return [
        f"{c.get('text') or c.get('id')}: {c.get('reason') or c.get('result')}"
        for c in option.get("criteria") or []
        if c.get("result") in ("not_met", "unknown")
    ]


def regulatory_label(record: Mapping[str, Any]) -> str:
    """'FDA regular 2010-10-01', or both dates when an accelerated approval became regular (never the first date
    under the current pathway's name)."""
    agency, status, first = record.get("agency") or "", record.get("status") or "", record.get("approval_date")
    converted = record.get("regular_approval_date")
    if record.get("initial_status") == "accelerated" and converted:
        return f"{agency} accelerated {first or 'date not recorded'}, regular {converted}"
    return f"{agency} {status} {first}" if first else f"{agency} {status}"


def therapy_groups(assessment: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Eligible first, then insufficient data (with what is needed), then close misses (with the reason)."""
    groups: dict[str, list[dict[str, Any]]] = {"eligible": [], "insufficient_data": [], "not_eligible": []}
    for option in assessment.get("therapies") or []:
        outcome = str(option.get("outcome") or ("eligible" if option.get("eligible") else "not_eligible"))
        item = dict(option)
        item["reasons"] = _therapy_reasons(option)
        item["reg_labels"] = [regulatory_label(r) for r in option.get("regulatory") or []]
        groups.setdefault(outcome, []).append(item)
    return groups


def headline(assessment: Mapping[str, Any]) -> dict[str, Any]:
    her2 = assessment.get("her2") or {}
    status = her2.get("status") or "indeterminate"
    words = STATUS_WORDS.get(status, f"HER2 {status}")
    category = her2.get("category")
    return {
        "status": status,
        "words": words,
        "category": category,
        "basis": her2.get("basis") or "",
        "next": [r.get("text") for r in assessment.get("recommendations") or [] if r.get("text")],
        "missing": [_need(n, assessment) for n in her2.get("needs") or [] if isinstance(n, Mapping)],
        "needs": list(assessment.get("warnings") or []),
    }


def _need(need: Mapping[str, Any], assessment: Mapping[str, Any]) -> str:
    """A missing fact in words: the reason, and which specimen or field it concerns."""
    reason = str(need.get("reason") or "information missing")
    field = str(need.get("field") or "")
    match = re.match(r"^specimens\[(\d+)\]", field)
    specimens = assessment.get("specimens") or []
    if match and int(match.group(1)) < len(specimens):
        return f"{reason} (specimen {specimens[int(match.group(1))].get('id')})"
    return f"{reason} ({forms.label_of(field)})" if field else reason


def trace_rows(kb: Any, assessment: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "rule": entry.get("rule"),
            "specimen": entry.get("specimen"),
            "detail": entry.get("detail"),
            "sources": [source_link(kb, s) for s in entry.get("sources") or []],
        }
        for entry in assessment.get("trace") or []
    ]


def ish_plot(ctx: Any, kb: Any, assessment: Mapping[str, Any], oncotree_code: str) -> Markup | None:
    """The ISH plot for the case's scoring system (zones computed once per system and KB version)."""
    specimens = assessment.get("specimens") or []
    if not any(s.get("ish") for s in specimens):
        return None
    system = (assessment.get("tumor") or {}).get("scoring_system") or next(
        (s.get("scoring_system") for s in specimens if s.get("scoring_system")), None
    )
    if not isinstance(system, str) or system not in kb.systems:
        return None
    system_id: str = system

    def classify(ratio: float, her2: float) -> tuple[str, str]:
        return classify_ish(oncotree_code, system_id, ratio, her2)

    frame = ctx.cached(("ish-frame", system_id, kb.version), lambda: plots.ish_frame(kb, system_id, classify))
    return plots.ish_svg(frame, specimens)


def classify_ish(oncotree_code: str, system: str, ratio: float, her2: float) -> tuple[str, str]:
    """Name the zone around (ratio, HER2/cell) by assessing one dual-probe ISH count there with the engine."""
    from her2cds.store.service import default_assess

    cep17 = her2 / ratio
    case = {
        "tumor": {"oncotree_code": oncotree_code, "scoring_system": system},
        "specimens": [{"id": "zone", "procedure": "resection",
                       "ish": {"probe": "dual", "her2_per_cell": round(her2, 3), "cep17_per_cell": round(cep17, 3),
                               "cells_counted": 60}}],
    }
    try:
        result = default_assess(case)
    except Her2CdsError:  # a zone the engine cannot place is shown unnamed rather than guessed
        return "", "indeterminate"
    ish = (result["specimens"][0].get("ish") or {})
    status = str(ish.get("status") or "indeterminate")
    group = ish.get("group")
    return (f"group {group}: {status}" if group else status), status


def timeline(assessment: Mapping[str, Any]) -> Markup:
    return plots.timeline_svg(assessment.get("specimens") or [])
