"""Per-assessment accumulator of trace entries, recommendations and flags (local, never global)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model._build import build
from her2cds.model.assessment import Flag, Recommendation, TraceEntry
from her2cds.rules.compiled import CompiledRule


class TraceRecord(NamedTuple):
    """One trace entry as plain data; the pydantic :class:`TraceEntry` is built from it only at the edge (D14.8)."""

    rule: str
    sources: tuple[str, ...]
    detail: str
    specimen: str | None


@dataclass
class Collector:
    kb: KnowledgeBase
    trace: list[TraceRecord] = field(default_factory=list)
    _recs: dict[tuple[str, str | None], Recommendation] = field(default_factory=dict)
    _flags: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def fire(self, rule: CompiledRule, detail: str | None = None, specimen: str | None = None) -> None:
        self.trace.append(TraceRecord(rule.rule.id, rule.sources, detail or rule.text, specimen))

    def record(self, rule_id: str, sources: tuple[str, ...], detail: str, specimen: str | None = None) -> None:
        """A trace entry for a knowledge-base entry that is not a compiled rule (e.g. a testing indication)."""
        self.trace.append(TraceRecord(rule_id, sources, detail, specimen))

    def trace_entries(self) -> list[TraceEntry]:
        return [build(TraceEntry, rule=rule, sources=sources, detail=detail, specimen=specimen)
                for rule, sources, detail, specimen in self.trace]

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
        self._recs[key] = build(Recommendation, code=code, text=text, specimen=specimen, sources=sources)

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
            if details:
                text = f"{text} {' '.join(details)}"
            out.append(build(Flag, code=code, text=text, specimens=sorted(ids)))
        return sorted(out, key=lambda f: f.code)
