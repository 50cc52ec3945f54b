"""The case entry form: HTML form fields <-> a case document, and errors in words a clinician understands.

Form names are the case's field paths with ``-`` for ``.`` and indexes (``specimens-0-ish-her2_per_cell``).
Numbers, dates and choices are converted here; what the values mean is checked by the engine, whose field
problems are shown next to the field they name.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from her2cds.errors import FieldProblem
from her2cds.model import enums

MAX_SPECIMENS = 20

# case-level fields: path -> kind
CASE_FIELDS: dict[str, str] = {
    "id": "text",
    "tumor.oncotree_code": "code",
    "tumor.setting": "choice",
    "tumor.histology": "text",
    "biomarkers.pd_l1_cps": "number",
    "biomarkers.kras": "choice",
    "biomarkers.nras": "choice",
    "biomarkers.hormone_receptor": "choice",
    "history.prior_lines": "int",
    "history.prior_agents": "list",
}
# specimen fields (below specimens-<i>-)
SPECIMEN_FIELDS: dict[str, str] = {
    "id": "text",
    "procedure": "choice",
    "site": "choice",
    "site_detail": "text",
    "collected_on": "date",
    "after_her2_therapy": "bool",
    "ihc.score": "choice",
    "ihc.percent.strong_complete": "number",
    "ihc.percent.weak_moderate_complete": "number",
    "ihc.percent.faint_incomplete": "number",
    "ihc.cluster_cells.strong_complete": "int",
    "ihc.cluster_cells.weak_moderate_complete": "int",
    "ihc.cluster_cells.faint_incomplete": "int",
    "ihc.antibody": "text",
    "ish.probe": "choice",
    "ish.her2_per_cell": "number",
    "ish.cep17_per_cell": "number",
    "ish.ratio": "number",
    "ish.cells_counted": "int",
    "ish.percent_cells_amplified": "number",
    "ngs.erbb2_amplified": "bool",
    "ngs.erbb2_copy_number": "number",
    "ngs.erbb2_variants": "list",
    "ngs.tumor_fraction": "number",
    "ngs.assay": "text",
}
# case fields that newer case models have (shown only when the model has them)
OPTIONAL_CASE_FIELDS: dict[str, str] = {
    "assessed_on": "date",
    "tumor.recurrence_date": "date",
    "history.surgery.date": "date",
    "history.surgery.pathologic_response": "choice",
}
# prior systemic regimens (below history-regimens-<i>-), when the case model has history.regimens
REGIMEN_FIELDS: dict[str, str] = {
    "agents": "list",
    "setting": "choice",
    "line": "int",
    "start": "date",
    "end": "date",
    "best_response": "choice",
    "progressed": "bool",
    "progression_date": "date",
    "stopped_for": "choice",
}
MAX_REGIMENS = 20


def _enum_values(name: str) -> tuple[str, ...]:
    enum = getattr(enums, name, None)
    return tuple(str(e.value) for e in enum) if enum is not None else ()


CHOICES: dict[str, tuple[str, ...]] = {
    "regimen.setting": _enum_values("RegimenSetting"),
    "regimen.best_response": _enum_values("BestResponse"),
    "regimen.stopped_for": _enum_values("StoppedFor"),
    "history.surgery.pathologic_response": _enum_values("PathologicResponse"),
    "tumor.setting": tuple(e.value for e in enums.Setting),
    "biomarkers.kras": tuple(e.value for e in enums.RasStatus),
    "biomarkers.nras": tuple(e.value for e in enums.RasStatus),
    "biomarkers.hormone_receptor": tuple(e.value for e in enums.ReceptorStatus),
    "procedure": tuple(e.value for e in enums.Procedure),
    "site": tuple(e.value for e in enums.Site),
    "ihc.score": tuple(e.value for e in enums.IhcScore),
    "ish.probe": tuple(e.value for e in enums.Probe),
}
# what a clinician calls each field (used in error messages and labels)
LABELS: dict[str, str] = {
    "id": "Case id", "specimens.id": "Specimen id", "tumor.oncotree_code": "Tumor type (OncoTree)",
    "tumor.setting": "Disease setting",
    "tumor.histology": "Histology", "biomarkers.pd_l1_cps": "PD-L1 CPS", "biomarkers.kras": "KRAS",
    "biomarkers.nras": "NRAS", "biomarkers.hormone_receptor": "Hormone receptor",
    "history.prior_lines": "Prior lines of therapy", "history.prior_agents": "Prior agents",
    "procedure": "Procedure", "site": "Site", "site_detail": "Site detail", "collected_on": "Collected on",
    "after_her2_therapy": "Collected after HER2-directed therapy", "ihc.score": "IHC score",
    "ihc.percent.strong_complete": "% strong complete", "ihc.percent.weak_moderate_complete":
    "% weak-moderate complete", "ihc.percent.faint_incomplete": "% faint / incomplete",
    "ihc.cluster_cells.strong_complete": "cells strong complete", "ihc.cluster_cells.weak_moderate_complete":
    "cells weak-moderate complete", "ihc.cluster_cells.faint_incomplete": "cells faint / incomplete",
    "ihc.antibody": "Antibody", "ish.probe": "Probe", "ish.her2_per_cell": "HER2 signals per cell",
    "ish.cep17_per_cell": "CEP17 signals per cell", "ish.ratio": "HER2/CEP17 ratio (if only the ratio is reported)",
    "ish.cells_counted": "Cells counted", "ish.percent_cells_amplified": "% cells amplified",
    "ngs.erbb2_amplified": "ERBB2 amplified", "ngs.erbb2_copy_number": "ERBB2 copy number",
    "ngs.erbb2_variants": "ERBB2 variants (HGVS p., comma-separated)", "ngs.tumor_fraction":
    "Tumor fraction (0-1)", "ngs.assay": "Assay",
    "tumor.recurrence_date": "Recurrence date", "assessed_on": "Assessed on (date of this assessment)",
    "history.surgery.date": "Surgery of the primary: date",
    "history.surgery.pathologic_response": "Pathologic response at surgery",
    "regimen.agents": "Agents (comma-separated)", "regimen.setting": "Setting", "regimen.line":
    "Line (advanced disease)", "regimen.start": "Start date", "regimen.end": "End date (last dose)",
    "regimen.best_response": "Best response", "regimen.progressed": "Progressed on it",
    "regimen.progression_date": "Progression date", "regimen.stopped_for": "Stopped for",
}


def model_has(path: str) -> bool:
    """Whether the case model has the field at ``path`` (``history.regimens``)."""
    from typing import get_args

    from pydantic import BaseModel

    from her2cds.model.case import Case

    model: Any = Case
    for part in path.split("."):
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return False
        annotation = fields[part].annotation
        candidates = [annotation, *get_args(annotation)]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return True


def case_fields() -> dict[str, str]:
    return {**CASE_FIELDS, **{p: k for p, k in OPTIONAL_CASE_FIELDS.items() if model_has(p)}}


def regimens_supported() -> bool:
    return model_has("history.regimens")
_INDEX = re.compile(r"\[(\d+)\]")


def _form_names() -> frozenset[str]:
    return frozenset(path.replace(".", "-") for path in case_fields())


def name_of(path: str) -> str:
    """``specimens[0].ish.ratio`` -> ``specimens-0-ish-ratio``."""
    return _INDEX.sub(r".\1", path).replace(".", "-")


def label_of(path: str) -> str:
    generic = re.sub(r"^history\.regimens\[\d+\]\.", "regimen.", re.sub(r"^specimens\[\d+\]\.", "", path))
    return LABELS.get(generic, generic.replace("_", " ").replace(".", " › "))


@dataclass
class FormState:
    """Raw form values (strings, as typed), the number of specimen blocks, and errors by form name."""

    values: dict[str, str] = field(default_factory=dict)
    specimens: int = 1
    regimens: int = 1
    errors: dict[str, str] = field(default_factory=dict)
    label: str = ""

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str:
        return self.errors.get(name, "")


def _set(target: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _convert(kind: str, raw: str, path: str) -> tuple[Any, str | None]:
    text = raw.strip()
    if kind in ("text", "code"):
        return (text.upper() if kind == "code" else text), None
    if kind == "number":
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            return None, f"enter a number, e.g. 6.2 (you typed “{text}”)"
        if not math.isfinite(number):
            return None, f"enter a finite number (you typed “{text}”)"
        return (int(number) if number.is_integer() and re.fullmatch(r"-?\d+", text) else number), None
    if kind == "int":
        if not re.fullmatch(r"\d+", text):
            return None, f"enter a whole number of 0 or more (you typed “{text}”)"
        return int(text), None
    if kind == "date":
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return None, f"enter a date as YYYY-MM-DD (you typed “{text}”)"
        return day.isoformat(), None
    if kind == "bool":
        if text in ("yes", "no"):
            return text == "yes", None
        return None, "choose yes, no or not known"
    if kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()], None
    generic = re.sub(r"^history-regimens-\d+-", "regimen-", re.sub(r"^specimens-\d+-", "", path))
    choices = CHOICES.get(generic.replace("-", "."), ())
    if choices and text not in choices:
        return None, f"choose one of: {', '.join(choices)}"
    return text, None


def specimen_count(values: Mapping[str, str]) -> int:
    return _count(values, "specimen_count", 1, MAX_SPECIMENS)


def regimen_count(values: Mapping[str, str]) -> int:
    return _count(values, "regimen_count", 1, MAX_REGIMENS) if regimens_supported() else 0


def _count(values: Mapping[str, str], name: str, default: int, most: int) -> int:
    try:
        count = int(values.get(name, str(default)))
    except ValueError:
        count = default
    return max(0, min(count, most))


def _block(values: Mapping[str, str], prefix: str, fields: Mapping[str, str],
           errors: dict[str, str]) -> dict[str, Any]:
    """One repeated block (a specimen, a regimen) from the form; empty fields left out."""
    block: dict[str, Any] = {}
    for path, kind in fields.items():
        name = f"{prefix}{name_of(path)}"
        raw = values.get(name, "")
        if not raw.strip():
            continue
        value, problem = _convert(kind, raw, name)
        if problem:
            errors[name] = problem
        elif value not in ([], ""):
            _set(block, path.split("."), value)
    return block


def parse(values: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The case document from form values, and conversion errors by form name. Empty fields are left out."""
    document: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for path, kind in case_fields().items():
        name = name_of(path)
        raw = values.get(name, "")
        if not raw.strip():
            continue
        value, problem = _convert(kind, raw, path)
        if problem:
            errors[name] = problem
        elif value not in ([], ""):
            _set(document, path.split("."), value)
    specimens = []
    for index in range(specimen_count(values)):
        spec = _block(values, f"specimens-{index}-", SPECIMEN_FIELDS, errors)
        if spec:
            if "ish" in spec and set(spec["ish"]) == {"probe"}:
                del spec["ish"]  # a probe alone is not an ISH result
            specimens.append(spec)
    document["specimens"] = specimens
    regimens = [r for i in range(regimen_count(values))
                if (r := _block(values, f"history-regimens-{i}-", REGIMEN_FIELDS, errors))]
    if regimens:
        document.setdefault("history", {})["regimens"] = regimens
    extra = values.get("extra", "").strip()
    if extra:
        try:
            kept = json.loads(extra)
        except json.JSONDecodeError:
            kept = None
        if isinstance(kept, dict):
            _merge(document, kept)
    return document, errors


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Put back the parts of a stored case the form does not show (e.g. an ISH recount), field by field."""
    for key, value in extra.items():
        if key == "specimens" and isinstance(value, list):
            specimens = target.setdefault("specimens", [])
            for index, spec_extra in enumerate(value):
                if index < len(specimens) and isinstance(spec_extra, Mapping):
                    _merge(specimens[index], spec_extra)
        elif isinstance(value, Mapping):
            child = target.setdefault(key, {})
            if isinstance(child, dict):
                _merge(child, value)
        elif key not in target:
            target[key] = value


def _uncovered(node: Any, covered: Mapping[str, str], prefix: str = "") -> Any:
    """The parts of ``node`` that no form field covers (None when everything is covered)."""
    if not isinstance(node, Mapping):
        return None if prefix in covered else node
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in covered:
            continue
        rest = _uncovered(value, covered, path)
        if rest not in (None, {}):
            out[key] = rest
    return out or None


def from_document(document: Mapping[str, Any]) -> FormState:
    """Form values that show ``document`` (for editing a stored revision)."""
    values: dict[str, str] = {}

    def put(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                put(f"{prefix}-{key}" if prefix else str(key), value)
        elif isinstance(node, list):
            if all(not isinstance(v, Mapping | list) for v in node):
                values[prefix] = ", ".join(str(v) for v in node)
        elif isinstance(node, bool):
            values[prefix] = "yes" if node else "no"
        elif node is not None:
            values[prefix] = f"{node:g}" if isinstance(node, float) else str(node)

    top = {k: v for k, v in document.items() if k != "specimens"}
    put("", top)
    supported = regimens_supported()
    regimens = (document.get("history") or {}).get("regimens") or [] if supported else []
    for index, regimen in enumerate(regimens):
        if isinstance(regimen, Mapping):
            put(f"history-regimens-{index}", regimen)
    specimens = document.get("specimens") or []
    for index, spec in enumerate(specimens):
        put(f"specimens-{index}", spec)
    values["specimen_count"] = str(max(1, len(specimens)))
    covered = {**case_fields(), **({"history.regimens": "list"} if supported else {})}
    extra: dict[str, Any] = _uncovered(top, covered) or {}
    spec_extras = [_uncovered(spec, SPECIMEN_FIELDS) or {} for spec in specimens]
    if any(spec_extras):
        extra["specimens"] = spec_extras
    values = {k: v for k, v in values.items()
              if k in _form_names() or k.startswith(("specimens-", "history-regimens-"))}
    values["specimen_count"] = str(max(1, len(specimens)))
    values["regimen_count"] = str(max(1, len(regimens)))
    if extra:
        values["extra"] = json.dumps(extra, sort_keys=True)
    return FormState(values=values, specimens=max(1, len(specimens)), regimens=max(1, len(regimens)))


_MESSAGES = [
    (re.compile(r"^Input should be greater than or equal to (\S+)"), r"must be \1 or more"),
    (re.compile(r"^Input should be greater than (\S+)"), r"must be more than \1"),
    (re.compile(r"^Input should be less than or equal to (\S+)"), r"must be \1 or less"),
    (re.compile(r"^Input should be less than (\S+)"), r"must be less than \1"),
    (re.compile(r"^Field required$"), "this is required"),
    (re.compile(r"^String should have at most (\d+) characters?"), r"use at most \1 characters"),
    (re.compile(r"^String should have at least 1 character"), "this is required"),
    (re.compile(r"^Extra inputs are not permitted"), "this field is not part of a case"),
    (re.compile(r"^unknown OncoTree code.*"),
     "unknown tumor type code: pick one from the list (type a code or a name)"),
]


def clinician_words(problem: FieldProblem) -> str:
    """A field problem in plain words (the technical field path is replaced by the form's label)."""
    text = problem.message
    for pattern, replacement in _MESSAGES:
        if pattern.search(text):
            text = pattern.sub(replacement, text)
            break
    for path in sorted(LABELS, key=len, reverse=True):
        if "." in path or "_" in path:  # technical field names only, whole words
            text = re.sub(rf"\b{re.escape(path)}\b", LABELS[path], text)
    text = text.replace("her2_per_cell", "HER2 signals per cell").replace("cep17_per_cell", "CEP17 signals per cell")
    text = text.replace("percent_cells_amplified", "% cells amplified").replace("ngs results", "NGS results")
    text = text.replace("ihc", "IHC").replace("ish", "ISH").replace("ngs", "NGS")
    if problem.has_value and problem.value not in (None, "") and not isinstance(problem.value, Mapping | list):
        text += f" (entered: {problem.value})"
    return text[0].upper() + text[1:] if text else "Please check this field"


def place_errors(problems: list[FieldProblem], values: Mapping[str, str]) -> dict[str, str]:
    """Engine problems by the form name of the field they name (or the nearest enclosing section)."""
    out: dict[str, str] = {}
    for problem in problems:
        name = name_of(problem.field) if problem.field else "case"
        # the nearest existing input or a section anchor: specimens-0-ish, specimens-0, case
        while name and name not in values and not _is_section(name):
            name = name.rpartition("-")[0]
        name = name or "case"
        out[name] = (out[name] + " " if name in out else "") + clinician_words(problem)
    return out


def _is_section(name: str) -> bool:
    return bool(re.fullmatch(r"specimens-\d+(-(ihc|ish|ngs)(-(percent|cluster_cells))?)?|history-regimens-\d+"
                             r"|tumor|biomarkers|history", name))
