"""What a tumor board reads on each option: the line it would be, the history facts used, the alternatives.

* ``line_of_therapy``: for an indication for advanced disease, the line the option would be on this history
  (e.g. "third line, after THP (metastatic, line 1); T-DXd (metastatic, line 2)"); for a perioperative one,
  its place (neoadjuvant, adjuvant ...). Unknown prior lines say so instead of guessing.
* ``history_used``: the reason of every criterion that read the treatment history.
* ``alternatives``: for an option that is not eligible, the eligible options (in ranking order, at most
  three) that cover the case's disease setting (the option's own settings when the case's is not reported).
"""

from __future__ import annotations

from collections.abc import Sequence

from her2cds.therapy.facts import LINE_SETTINGS, TherapyFacts

_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
# TherapyFacts attributes that hold the treatment history
HISTORY_ATTRS = frozenset({"prior_lines", "prior_agents", "regimens", "recurrence_date", "pathologic_response",
                           "surgery_date"})
MAX_ALTERNATIVES = 3


def _ordinal(n: int) -> str:
    return _ORDINALS[n - 1] if n <= len(_ORDINALS) else f"{n}th"


def line_of_therapy(facts: TherapyFacts, order: int, perioperative_text: str) -> str:
    """The line this option would be for the case (indication line ``order``: 0 = perioperative)."""
    if order == 0:
        return perioperative_text
    if facts.prior_lines is None:
        return "line not determinable: prior lines of therapy for advanced disease not reported"
    line = facts.prior_lines + 1
    if facts.prior_lines == 0:
        return "first line (no prior therapy for advanced disease)"
    advanced = [r for r in facts.regimens if r.setting in LINE_SETTINGS or r.setting == "maintenance"]
    if advanced:
        after = "; ".join(r.label() for r in advanced)
    elif facts.prior_agents:
        after = ", ".join(facts.prior_agents) + " (settings not reported)"
    else:
        after = f"{facts.prior_lines} prior line(s), agents not reported"
    return f"{_ordinal(line)} line, after {after}"


def alternatives_for(settings: Sequence[str], option_id: str,
                     eligible: Sequence[tuple[str, tuple[str, ...]]]) -> tuple[str, ...]:
    """Up to three eligible option ids (already ranked) that cover one of ``settings``."""
    wanted = set(settings)
    return tuple(oid for oid, their in eligible if oid != option_id and wanted.intersection(their))[
        :MAX_ALTERNATIVES]
