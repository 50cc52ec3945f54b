"""Per-assessment accumulator of trace entries, recommendations and flags (local, never global)."""

from __future__ import annotations

from dataclasses import dataclass, field
from json.encoder import encode_basestring as _quote  # the string escaping of pydantic's JSON (D14.8)
from typing import NamedTuple

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model._build import build
from her2cds.model.assessment import Flag, Recommendation, TraceEntry
from her2cds.rules.compiled import CompiledRule


class TraceRecord(NamedTuple):
    """One trace entry as plain data; the pydantic :class:`TraceEntry` is built from it only at the edge (D14.8).
    ``values`` is what the compact form writes (D14.11): the detail without the rule's fixed text."""

    rule: str
    sources: tuple[str, ...]
    detail: str
    specimen: str | None
    values: str | None = None


_record = tuple.__new__  # a TraceRecord from its five fields, without the named tuple's Python-level __new__


def case_values(text: str, detail: str | None) -> str | None:
    """What a detail adds to the fixed ``text`` of its rule (D14.11): None when it is the text (or nothing), the
    rest after the text and one space when it starts with them, else the whole detail."""
    if not detail or detail == text:
        return None
    size = len(text)
    if detail.startswith(text) and detail[size:size + 1] == " ":
        return detail[size + 1:]
    return detail


def trace_json(records: list[TraceRecord]) -> str:
    """The compact trace (D14.5, D14.11) as JSON text: each entry's rule id, ``values`` and, for a specimen-level
    rule, the specimen; equal to pydantic's serialization of the :class:`TraceEntry` list as ``TraceStep`` s."""
    parts = []
    for record in records:
        values, specimen = record.values, record.specimen
        parts.append(f'{{"rule":{_quote(record.rule)}'
                     f'{"" if values is None else f",{_VALUES}{_quote(values)}"}'
                     f'{"" if specimen is None else f",{_SPECIMEN}{_quote(specimen)}"}}}')
    return f"[{','.join(parts)}]"


_VALUES = '"values":'
_SPECIMEN = '"specimen":'


@dataclass
class Collector:
    kb: KnowledgeBase
    trace: list[TraceRecord] = field(default_factory=list)
    _recs: dict[tuple[str, str | None], Recommendation] = field(default_factory=dict)
    _flags: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def fire(self, rule: CompiledRule, detail: str | None = None, specimen: str | None = None, *,
             fixed: bool = False) -> None:
        """A rule fired. ``fixed``: the detail is knowledge-base text given the case's tumor (lineage, family, scoring
        system: ``her2cds kb show CODE``), so the compact trace writes no values for it (D14.11)."""
        text = rule.text
        values = None if fixed else case_values(text, detail)
        self.trace.append(_record(TraceRecord, (rule.rule.id, rule.sources, detail or text, specimen, values)))

    def record(self, rule_id: str, sources: tuple[str, ...], detail: str, specimen: str | None = None,
               text: str | None = None) -> None:
        """A trace entry for a knowledge-base entry that is not a compiled rule (e.g. a testing indication), whose
        fixed ``text`` the detail starts with (None: the detail is all the case's)."""
        values = detail if text is None else case_values(text, detail)
        self.trace.append(TraceRecord(rule_id, sources, detail, specimen, values))

    def trace_entries(self) -> list[TraceEntry]:
        return [build(TraceEntry, rule=rule, sources=sources, detail=detail, values=values, specimen=specimen)
                for rule, sources, detail, specimen, values in self.trace]

    def _code(self, code: str) -> tuple[str, list[str]]:
        try:
            entry = self.kb.codes[code]
        except KeyError:
            raise KnowledgeBaseError(f"the engine emitted code {code!r}, which codes.yaml does not define") from None
        return entry.text, [ref.id for ref in entry.sources]

    def recommend(self, code: str, specimen: str | None = None, detail: str | None = None) -> None:
        key = (code, specimen)
        if key in self._recs:
            return
        text, sources = self._code(code)
        if detail:
            text = f"{text} {detail}"
        self._recs[key] = build(Recommendation, code=code, text=text, detail=detail or None, specimen=specimen,
                                sources=sources)

    def drop_recommendation(self, code: str, specimen: str | None) -> None:
        self._recs.pop((code, specimen), None)

    def drop_recommendations(self, specimen: str) -> None:
        for key in [k for k in self._recs if k[1] == specimen]:
            del self._recs[key]

    def has_recommendation(self, code: str) -> bool:
        return any(key[0] == code for key in self._recs)

    def flag(self, code: str, specimens: list[str] | tuple[str, ...] = (), detail: str | None = None) -> None:
        self._code(code)
        ids, details = self._flags.setdefault(code, ([], []))
        for spec in specimens:
            if spec not in ids:
                ids.append(spec)
        if detail and detail not in details:
            details.append(detail)

    def recommendations(self) -> list[Recommendation]:
        return list(self._recs.values())

    def flags(self) -> list[Flag]:
        out = []
        for code, (ids, details) in self._flags.items():
            text, _ = self._code(code)
            detail = " ".join(details) if details else None
            if detail:
                text = f"{text} {detail}"
            out.append(build(Flag, code=code, text=text, detail=detail, specimens=sorted(ids)))
        return sorted(out, key=lambda f: f.code)
