"""Treatment-history observations for eligibility criteria: settings, regimen counts, timing, progression.

Each function returns an observation ``(truth, what was observed, extra need)`` where ``truth`` is ``None``
when the history does not decide it. ``history.regimens``, when given, is the complete systemic history; a
bare ``prior_agents`` list tells what was received but not when, in which setting or with what result, so
every criterion that needs a setting, a date or a progression is unknown on it, never met.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Sequence

from her2cds.knowledge.drugs import Resolution
from her2cds.therapy.facts import LINE_SETTINGS, RegimenFact, TherapyFacts

Observation = tuple[bool | None, str, str | None]
Resolved = Sequence[tuple[RegimenFact, Resolution]]

_SETTING_WORDS = {
    "neoadjuvant": "neoadjuvant",
    "adjuvant": "adjuvant",
    "metastatic": "metastatic",
    "locally_advanced": "locally advanced",
    "maintenance": "maintenance",
}


def _settings_text(settings: Sequence[str]) -> str:
    return " or ".join(_SETTING_WORDS[s] for s in settings)


def _labels(regs: Sequence[RegimenFact]) -> str:
    return "; ".join(r.label() for r in regs)


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus calendar months, clamped to the month's last day (31 Aug + 6 months = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _in(reg: RegimenFact, settings: Sequence[str] | None) -> bool | None:
    """Whether the regimen's setting is one of ``settings`` (None: setting not reported)."""
    if settings is None:
        return True
    if reg.setting is None:
        return None
    if reg.setting == "maintenance" and "metastatic" in settings:
        return True  # maintenance continues a line for advanced disease
    return reg.setting in settings


def _bare_history(facts: TherapyFacts, resolution: Resolution, classes: Sequence[str], label: str,
                  what: str) -> Observation:
    """A class criterion that needs regimens, on a bare agent list."""
    agents = resolution.agents_in(classes)
    if agents:
        return None, f"prior {label} ({_names(agents)}) reported without {what}", None
    if resolution.unrecognised:
        shown = f"no {label} among recognised prior agents; unrecognised {_names(resolution.unrecognised)}"
        return None, shown, f"identify prior agent(s) {_names(resolution.unrecognised)}"
    if facts.prior_agents:
        return False, f"no {label} among reported prior agents ({_names(facts.prior_agents)})", None
    if facts.prior_lines == 0:
        return False, "no prior systemic therapy reported (0 prior lines)", None
    return None, "prior therapy not reported", None


def class_in_settings(facts: TherapyFacts, resolution: Resolution, regimens: Resolved, classes: Sequence[str],
                      settings: Sequence[str], label: str) -> Observation:
    """Exposure to a drug class in given settings (e.g. trastuzumab in the neoadjuvant setting)."""
    where = _settings_text(settings)
    if not regimens:
        truth, shown, need = _bare_history(facts, resolution, classes, label, "its setting")
        if truth is None and need is None and resolution.agents_in(classes):
            need = f"history.regimens: the setting of prior {label} ({where}?)"
        return truth, shown, need
    hits = [(r, res) for r, res in regimens if res.agents_in(classes)]
    inside = [r for r, _ in hits if _in(r, settings)]
    if inside:
        return True, f"{label} in the {where} setting: {_labels(inside)}", None
    undetermined = [r for r, _ in hits if _in(r, settings) is None]
    if undetermined:
        return None, f"{label} given, setting not reported: {_labels(undetermined)}", (
            f"the setting of regimen(s) {_labels(undetermined)}")
    unrecognised = [u for r, res in regimens if _in(r, settings) is not False for u in res.unrecognised]
    if unrecognised:
        return None, f"no recognised {label} in the {where} setting; unrecognised {_names(unrecognised)}", (
            f"identify prior agent(s) {_names(unrecognised)}")
    elsewhere = f" ({label} only in: {_labels([r for r, _ in hits])})" if hits else ""
    return False, f"no {label} in the {where} setting{elsewhere}", None


def regimen_count(facts: TherapyFacts, resolution: Resolution, regimens: Resolved, classes: Sequence[str],
                  settings: Sequence[str] | None, label: str, compare: Callable[[float, float], bool],
                  threshold: float) -> Observation:
    """The number of prior regimens containing a class (in given settings), compared with a threshold.

    The count is known as a range [low, high]; the result is decided only when every count in the range
    gives the same answer.
    """
    where = f" in the {_settings_text(settings)} setting" if settings else ""
    low = 0
    high: int | None = 0
    counted: list[RegimenFact] = []
    if regimens:
        unsure: list[RegimenFact] = []
        for reg, res in regimens:
            inside = _in(reg, settings)
            if res.agents_in(classes):
                if inside:
                    counted.append(reg)
                elif inside is None:
                    unsure.append(reg)
            elif res.unrecognised and inside is not False:
                unsure.append(reg)
        low, high = len(counted), len(counted) + len(unsure)
        detail = f": {_labels(counted)}" if counted else ""
        shown = f"{low} prior {label} regimen(s){where}{detail}"
        if unsure:
            shown += f"; undetermined: {_labels(unsure)}"
        need = f"the setting or agents of regimen(s) {_labels(unsure)}" if unsure else None
    else:
        agents = resolution.agents_in(classes)
        metastatic_only = settings is not None and set(settings) <= LINE_SETTINGS | {"maintenance"}
        if metastatic_only and facts.prior_lines == 0:
            high = 0
            shown = "no prior line for advanced disease (0 prior lines)"
        elif agents:
            low, high = (0 if settings else 1), None
            shown = f"prior {label} ({_names(agents)}) reported without regimens, settings or counts"
        else:
            truth, shown, need_bare = _bare_history(facts, resolution, classes, label, "regimens")
            if truth is None:
                return None, shown, need_bare
            high = 0
        need = None
    values = range(low, int(max(low, threshold)) + 2) if high is None else range(low, high + 1)
    verdicts = {compare(float(v), threshold) for v in values}
    if len(verdicts) == 1:
        return verdicts.pop(), shown, None
    return None, shown, need


def early_relapse(facts: TherapyFacts, resolution: Resolution, regimens: Resolved, classes: Sequence[str],
                  settings: Sequence[str], label: str, months: int) -> Observation:
    """Recurrence during, or within ``months`` months (inclusive) of completing, a (neo)adjuvant regimen."""
    where = _settings_text(settings)
    if not regimens:
        truth, shown, need = _bare_history(facts, resolution, classes, label, "its setting and dates")
        if truth is None and need is None and resolution.agents_in(classes):
            need = "history.regimens (setting and end date) and tumor.recurrence_date"
        return truth, shown, need
    candidates = [r for r, res in regimens if res.agents_in(classes) and _in(r, settings)]
    undetermined = [r for r, res in regimens if res.agents_in(classes) and _in(r, settings) is None]
    if not candidates and not undetermined:
        unrecognised = [u for r, res in regimens if _in(r, settings) is not False for u in res.unrecognised]
        if unrecognised:
            return None, f"no recognised {where} {label}; unrecognised {_names(unrecognised)}", (
                f"identify prior agent(s) {_names(unrecognised)}")
        return False, f"no {where} {label} in history.regimens", None
    recurrence = facts.recurrence_date
    unknown: list[str] = []
    late: list[str] = []
    for reg in candidates:
        if reg.end is None:
            # the end is not before the start: a recurrence within `months` of the start is within `months` of the end
            if recurrence is not None and reg.start is not None and reg.start <= recurrence <= add_months(
                reg.start, months
            ):
                return True, f"recurrence {recurrence} within {months} months of starting {reg.label()}", None
            unknown.append(f"the end date of {reg.label()}")
            continue
        limit = add_months(reg.end, months)
        if recurrence is None:
            assessed = facts.assessed_on
            if facts.setting in LINE_SETTINGS and assessed is not None and reg.end <= assessed <= limit:
                return True, (f"recurrence not dated, but the case is advanced on {assessed}, within {months} "
                              f"months of completing {reg.label()}"), None
            unknown.append("tumor.recurrence_date")
            continue
        if reg.start is not None and recurrence < reg.start:
            late.append(f"recurrence {recurrence} precedes {reg.label()}")
            continue
        if recurrence <= limit:
            when = "during" if recurrence <= reg.end else f"within {months} months of completing"
            return True, f"recurrence {recurrence} {when} {reg.label()}", None
        late.append(f"recurrence {recurrence} is more than {months} months after completing {reg.label()} "
                    f"(limit {limit})")
    if undetermined:
        unknown.append(f"the setting of regimen(s) {_labels(undetermined)}")
    if unknown:
        shown = "; ".join([*late, f"not decidable without {', '.join(dict.fromkeys(unknown))}"])
        return None, shown, "; ".join(dict.fromkeys(unknown))
    return False, "; ".join(late), None


def residual_disease(facts: TherapyFacts) -> Observation:
    """Residual invasive disease at surgery (after neoadjuvant therapy)."""
    response = facts.pathologic_response
    if response is None:
        return None, "pathologic response at surgery not reported", None
    if response == "pcr":
        return False, "pathologic complete response (pCR) at surgery", None
    return True, "residual invasive disease at surgery", None


def progressed_on(facts: TherapyFacts, resolution: Resolution, regimens: Resolved,
                  drugs: Sequence[str]) -> Observation:
    """Whether the disease progressed on a regimen containing one of ``drugs``."""
    names = " or ".join(drugs)
    if not regimens:
        agents = resolution.agents_of(drugs)
        if agents:
            return None, f"prior {names} ({_names(agents)}) reported without its outcome", None
        if resolution.unrecognised:
            return None, f"unrecognised prior agent(s) {_names(resolution.unrecognised)}", (
                f"identify prior agent(s) {_names(resolution.unrecognised)}")
        if facts.prior_agents or facts.prior_lines == 0:
            return False, f"no prior {names}", None
        if facts.prior_lines is not None:
            return None, f"{facts.prior_lines} prior line(s) reported without the agents", (
                "the prior agents or regimens received")
        return None, "prior therapy not reported", "the prior agents or regimens received"
    containing = [(r, res) for r, res in regimens if res.agents_of(drugs)]
    progressed = [r for r, _ in containing if r.progressed]
    if progressed:
        return True, f"disease progressed on {names}: {_labels(progressed)}", None
    open_ = [r for r, _ in containing if r.progressed is None]
    if open_:
        return None, f"{names} given, outcome not reported: {_labels(open_)}", None
    if containing:
        return False, f"{names} given without progression: {_labels([r for r, _ in containing])}", None
    unrecognised = [u for _, res in regimens for u in res.unrecognised]
    if unrecognised:
        return None, f"no recognised {names}; unrecognised {_names(unrecognised)}", (
            f"identify prior agent(s) {_names(unrecognised)}")
    return False, f"no prior {names} in history.regimens", None
