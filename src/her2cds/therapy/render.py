"""Plain-text rendering of therapy options (no logic beyond grouping): the eligible options with one line of
evidence each, the options that need information, and the close misses with their reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from her2cds.model.therapy import DatePrecision, Evidence, RegulatoryStatus, TherapyOption

_DESIGN = {
    "randomized": "randomized",
    "dose_randomized": "dose-randomized",
    "single_arm": "single-arm",
    "pooled_single_arm": "pooled single-arm",
}


def _approval(option: TherapyOption) -> str:
    us = _us_approval(option)
    return f"{option.region_status}; US: {us}" if option.region_status else us


def _us_approval(option: TherapyOption) -> str:
    if option.approval_kind == "guideline_supported_not_approved":
        return "guideline-supported, NOT FDA-approved"
    fda: RegulatoryStatus | None = next((r for r in option.regulatory if r.agency == "FDA"), None)
    if fda is None:  # pragma: no cover - the schema requires the FDA record of an approved indication
        return "FDA-approved"
    shown = date_text(fda.approval_date, fda.approval_date_precision)
    if not fda.history:
        return f"FDA {fda.status} approval, {shown}"
    last = fda.history[-1]
    latest = f"{last.action} ({date_text(last.date, last.date_precision)})"
    return f"FDA {fda.status} approval; first approved {shown}; latest: {latest}"


def date_text(date: dt.date | None, precision: DatePrecision) -> str:
    """A date as precise as it is known: 2021-01-18, 2019-12 or 2019."""
    if date is None:
        return "date not recorded"
    if precision == "day":
        return date.isoformat()
    if precision == "month":
        return date.strftime("%Y-%m")
    return str(date.year)


def evidence_line(evidence: Sequence[Evidence]) -> str | None:
    """One line of evidence: the first figure of the first pivotal trial."""
    for item in evidence:
        if item.role != "pivotal" or not item.figures:
            continue
        fig = item.figures[0]
        nct = f"{item.nct}, " if item.nct else ""
        design = _DESIGN.get(item.design, item.design)
        hr = f", HR {fig.hazard_ratio:g}" if fig.hazard_ratio is not None else ""
        ci = f" ({fig.ci})" if fig.ci else ""
        return (
            f"{item.name} ({nct}phase {item.phase} {design}): {fig.endpoint} {fig.value}{hr}{ci}"
            f" — {fig.population}; {fig.analysis}"
        )
    return None


def is_close_miss(option: TherapyOption) -> bool:
    """Not eligible because of exactly one failed criterion, and that criterion is not the setting."""
    failed = [c for c in option.criteria if c.result == "not_met"]
    return option.outcome == "not_eligible" and len(failed) == 1 and failed[0].id != "setting"


def render_therapies_text(options: Sequence[TherapyOption]) -> str:
    """Render the options of one assessment as plain text."""
    if not options:
        return "HER2-directed therapy: no indication in the knowledge base reaches this tumor type.\n"
    eligible = [o for o in options if o.eligible]
    pending = [o for o in options if o.outcome == "insufficient_data"]
    misses = [o for o in options if is_close_miss(o)]
    others = len(options) - len(eligible) - len(pending) - len(misses)
    lines: list[str] = ["HER2-directed therapy options"]

    lines.append("")
    lines.append(f"Eligible ({len(eligible)}):")
    if not eligible:
        lines.append("  none on the information given")
    for o in eligible:
        lines.append(f"  * {o.title} [{_approval(o)}; {o.line}]")
        ev = evidence_line(o.evidence)
        if ev:
            lines.append(f"      evidence: {ev}")
        for cond in o.conditions_to_confirm:
            lines.append(f"      confirm: {cond}")

    if pending:
        lines.append("")
        lines.append(f"Need more information ({len(pending)}):")
        for o in pending:
            lines.append(f"  * {o.title} [{_approval(o)}]")
            lines.append(f"      needs: {'; '.join(o.needs)}")

    if misses:
        lines.append("")
        lines.append(f"Close misses ({len(misses)}):")
        for o in misses:
            failed = next(c for c in o.criteria if c.result == "not_met")
            lines.append(f"  * {o.title} [{_approval(o)}]")
            lines.append(f"      not eligible: {failed.reason}")

    if others:
        lines.append("")
        lines.append(f"{others} other option(s) for this tumor type do not apply (the JSON output's ruled_out lists "
                     "them with the criteria not met; reasons: --expand).")
    return "\n".join(lines) + "\n"
