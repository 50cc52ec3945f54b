"""Reading FHIR JSON defensively: typed accessors, references, dates and Observation values.

Nothing here knows clinical codes; meanings come from the code table (:mod:`her2cds.adapters.fhir.codes`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from her2cds.adapters.fhir.codes import AnswerEntry, CodeMap

JsonObj = Mapping[str, Any]

Comparator = Literal["<", "<=", ">", ">="]


def obj(value: Any) -> JsonObj | None:
    return value if isinstance(value, Mapping) else None


def objs(value: Any) -> list[JsonObj]:
    """The mappings in a JSON array (a lone mapping counts as a one-element array)."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def short(value: str, limit: int = 80) -> str:
    """A value shortened for a warning text (warnings never carry whole free-text fields)."""
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 3] + "..."


# -- references ------------------------------------------------------------------------------------
_HISTORY = re.compile(r"/_history/[^/]+$")


def ref_key(reference: str) -> str:
    """A comparable key of a reference: ``Type/id`` for relative or absolute URLs, else the URI itself."""
    reference = _HISTORY.sub("", reference.strip())
    if reference.startswith(("urn:", "#")):
        return reference
    parts = [part for part in reference.split("/") if part]
    if len(parts) >= 2:
        return f"{parts[-2]}/{parts[-1]}"
    return reference


def reference_of(value: Any) -> str | None:
    node = obj(value)
    return text(node.get("reference")) if node else None


# -- dates -----------------------------------------------------------------------------------------
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def parse_date(value: Any) -> dt.date | None:
    """The date part of a FHIR date/dateTime/instant (a partial date is taken at its first day)."""
    raw = text(value)
    if raw is None:
        return None
    match = _DATE.match(raw)
    if match is None:
        return None
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def effective_date(resource: JsonObj) -> dt.date | None:
    for key in ("effectiveDateTime", "effectiveInstant", "collectedDateTime", "occurrenceDateTime"):
        found = parse_date(resource.get(key))
        if found is not None:
            return found
    for key in ("effectivePeriod", "collectedPeriod"):
        period = obj(resource.get(key))
        if period is not None:
            found = parse_date(period.get("start")) or parse_date(period.get("end"))
            if found is not None:
                return found
    return parse_date(resource.get("issued"))


# -- codes -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Coding:
    system: str | None  # canonical name, or None when the system is not in the code table
    raw_system: str | None
    code: str | None
    display: str | None


def codings(concept: Any, code_map: CodeMap) -> list[Coding]:
    node = obj(concept)
    if node is None:
        return []
    found: list[Coding] = []
    for coding in objs(node.get("coding")):
        raw_system = text(coding.get("system"))
        code = coding.get("code")
        code_text = str(code).strip() if isinstance(code, str | int) and not isinstance(code, bool) else None
        found.append(Coding(code_map.system_name(raw_system), raw_system, code_text or None,
                            text(coding.get("display"))))
    return found


def concept_texts(concept: Any, code_map: CodeMap) -> list[str]:
    """Concept.text first, then each coding's display."""
    node = obj(concept)
    if node is None:
        return []
    texts = [t for t in [text(node.get("text"))] if t]
    texts.extend(c.display for c in codings(concept, code_map) if c.display)
    return texts


def concept_label(concept: Any, code_map: CodeMap) -> str:
    """A short human label of a concept for warnings: 'system|code' of the first coding, or its text."""
    for coding in codings(concept, code_map):
        if coding.code:
            return f"{coding.system or coding.raw_system or '?'}|{coding.code}"
    texts = concept_texts(concept, code_map)
    return short(texts[0], 60) if texts else "(no code)"


_LOINC_SHAPE = re.compile(r"^(?:LA|LL|LP)?\d{1,7}-\d$")
_SNOMED_SHAPE = re.compile(r"^\d{6,18}$")


@dataclass(frozen=True)
class AnswerMatch:
    entry: AnswerEntry
    system_mismatch: Coding | None = None  # a coding whose code belongs to another system than it says


def match_answer(concept: Any, code_map: CodeMap) -> AnswerMatch | None:
    """The coded answer of a CodeableConcept: by coding, then by legacy system mix-ups, then by text."""
    items = codings(concept, code_map)
    for coding in items:
        if coding.system and coding.code:
            entry = code_map.answer_index.get((coding.system, coding.code.upper()))
            if entry is not None:
                return AnswerMatch(entry)
    for coding in items:  # e.g. a SNOMED CT concept id sent under the LOINC system (older Synthea)
        if coding.system == "loinc" and coding.code and not _LOINC_SHAPE.match(coding.code) \
                and _SNOMED_SHAPE.match(coding.code):
            entry = code_map.answer_index.get(("snomed", coding.code))
            if entry is not None:
                return AnswerMatch(entry, system_mismatch=coding)
    for label in concept_texts(concept, code_map):
        entry = code_map.answer_texts.get(normalise_text(label))
        if entry is not None:
            return AnswerMatch(entry)
    return None


def normalise_text(value: str) -> str:
    value = value.strip().lower()
    value = re.sub(r"\s+", " ", value)
    value = re.sub(r"\s*\((?:qualifier value|finding)\)$", "", value)
    return value.strip(" .")


_IHC_PLUS = re.compile(r"(?<![\d.])([0-3])\s*\+")
_IHC_ZERO = re.compile(r"^(?:her2\s*)?(?:ihc\s*)?(?:score\s*)?[:=]?\s*0(?![\d.,])")
_IHC_PLUSSES = re.compile(r"^\+{1,3}$")


def parse_ihc_text(value: str) -> str | None:
    """An IHC score written as text ('2+', 'HER2 3+ (positive)', 'Score 0', '+++') as '0'/'1+'/'2+'/'3+'."""
    lowered = normalise_text(value)
    match = _IHC_PLUS.search(lowered)
    if match:
        return "0" if match.group(1) == "0" else f"{match.group(1)}+"
    if _IHC_ZERO.match(lowered):
        return "0"
    if _IHC_PLUSSES.match(lowered):
        return f"{len(lowered)}+"
    return None


# -- values ----------------------------------------------------------------------------------------
_BOUND_WORDS: tuple[tuple[str, Comparator], ...] = (
    ("greater than or equal to", ">="), ("less than or equal to", "<="), ("greater than", ">"),
    ("more than", ">"), ("less than", "<"), ("above", ">"), ("below", "<"), ("over", ">"), ("under", "<"),
    (">=", ">="), ("<=", "<="), ("≥", ">="), ("≤", "<="), (">", ">"), ("<", "<"),
)
_NUMBER = re.compile(r"^([0-9]+(?:[.,][0-9]+)?)\s*(.*)$")


@dataclass(frozen=True)
class Number:
    value: float
    unit: str | None = None
    comparator: Comparator | None = None  # set when only a bound is known ("greater than 2.2")
    legacy_text: str | None = None  # the string a number was read from


def parse_number_text(raw: str) -> Number | None:
    """'2.3', '2,3', '> 2.2', 'greater than 2.2', '6.1 copies' -> Number; anything else -> None."""
    rest = raw.strip().lower()
    comparator: Comparator | None = None
    for word, op in _BOUND_WORDS:
        if rest.startswith(word):
            comparator = op
            rest = rest[len(word):].strip()
            break
    match = _NUMBER.match(rest)
    if match is None:
        return None
    value = float(match.group(1).replace(",", "."))
    if not math.isfinite(value):
        return None
    unit = match.group(2).strip() or None
    return Number(value, unit, comparator, legacy_text=raw.strip())


@dataclass(frozen=True)
class Value:
    """The value of an Observation (or component), as far as it can be read."""

    kind: Literal["coded", "number", "string", "boolean", "missing", "other"]
    path: str  # the FHIR element the value came from, e.g. valueQuantity
    concept: JsonObj | None = None
    number: Number | None = None
    string: str | None = None
    boolean: bool | None = None
    problems: list[str] = field(default_factory=list)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        return None
    return number if math.isfinite(number) else None


def read_value(node: JsonObj) -> Value:
    """Read value[x] of an Observation or Observation.component."""
    if "valueCodeableConcept" in node:
        concept = obj(node.get("valueCodeableConcept"))
        if concept is not None:
            return Value("coded", "valueCodeableConcept", concept=concept)
    if "valueQuantity" in node:
        quantity = obj(node.get("valueQuantity")) or {}
        unit = text(quantity.get("unit")) or text(quantity.get("code"))
        comparator = quantity.get("comparator")
        op: Comparator | None = comparator if comparator in ("<", "<=", ">", ">=") else None
        number = _finite(quantity.get("value"))
        if number is not None:
            return Value("number", "valueQuantity", number=Number(number, unit, op))
        raw = quantity.get("value")
        if isinstance(raw, str):  # a legacy exporter wrote text into Quantity.value
            parsed = parse_number_text(raw)
            if parsed is not None:
                return Value("number", "valueQuantity", number=Number(parsed.value, unit or parsed.unit,
                                                                       op or parsed.comparator, raw.strip()))
            return Value("string", "valueQuantity", string=raw)
        return Value("other", "valueQuantity", problems=["valueQuantity has no numeric value"])
    if "valueInteger" in node:
        number = _finite(node.get("valueInteger"))
        if number is not None:
            return Value("number", "valueInteger", number=Number(number))
    if "valueRatio" in node:
        ratio = obj(node.get("valueRatio")) or {}
        numerator = _finite((obj(ratio.get("numerator")) or {}).get("value"))
        denominator = _finite((obj(ratio.get("denominator")) or {}).get("value"))
        if numerator is not None and denominator:
            return Value("number", "valueRatio", number=Number(numerator / denominator))
        return Value("other", "valueRatio", problems=["valueRatio lacks a numerator or a non-zero denominator"])
    if "valueString" in node:
        raw_string = node.get("valueString")
        if isinstance(raw_string, str) and raw_string.strip():
            return Value("string", "valueString", string=raw_string.strip())
    if "valueBoolean" in node and isinstance(node.get("valueBoolean"), bool):
        return Value("boolean", "valueBoolean", boolean=bool(node.get("valueBoolean")))
    for key in node:
        if key.startswith("value"):
            return Value("other", key)
    return Value("missing", "value[x]")


def iter_extensions(resource: JsonObj, url: str) -> Iterator[JsonObj]:
    for extension in objs(resource.get("extension")):
        if text(extension.get("url")) == url:
            yield extension
