"""Per-assessment accumulator of trace entries, recommendations and flags (local, never global)."""

from __future__ import annotations

from dataclasses import dataclass, field

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model._build import build
from her2cds.model.assessment import Flag, Recommendation, TraceEntry
from her2cds.rules.compiled import CompiledRule

_set = object.__setattr__
_new = object.__new__


def _trace(rule: str, sources: tuple[str, ...], detail: str, specimen: str | None) -> TraceEntry:
    """A TraceEntry from trusted values (the hot path of every rule that fires; see model/_build.py)."""
    obj: TraceEntry = _new(TraceEntry)
    _set(obj, "__dict__", {"rule": rule, "sources": sources, "detail": detail, "specimen": specimen})
    _set(obj, "__pydantic_fields_set__", {"rule", "sources", "detail", "specimen"})
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


@dataclass(frozen=True)
class ReplayPlan:
    placeholder: str
    trace: tuple[tuple[str, tuple[str, ...], str, bool, bool], ...]
    recs: tuple[tuple[str, bool, str | None, str, bool, list[str]], ...]
    flags: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]


@dataclass
class Collector:
    kb: KnowledgeBase
    trace: list[TraceEntry] = field(default_factory=list)
    _recs: dict[tuple[str, str | None], Recommendation] = field(default_factory=dict)
    _flags: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def fire(self, rule: CompiledRule, detail: str | None = None, specimen: str | None = None) -> None:
        self.trace.append(
            build(TraceEntry,
                rule=rule.rule.id, sources=rule.sources, detail=detail or rule.text, specimen=specimen
            )
        )

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

    def replay_plan(self, placeholder: str) -> ReplayPlan:
        """What this collector holds for one specimen interpreted under ``placeholder``, ready to replay."""
        return ReplayPlan(
            placeholder=placeholder,
            trace=tuple((e.rule, e.sources, e.detail, placeholder in e.detail, e.specimen == placeholder)
                        for e in self.trace),
            recs=tuple((code, spec == placeholder, spec, rec.text, placeholder in rec.text, rec.sources)
                       for (code, spec), rec in self._recs.items()),
            flags=tuple((code, tuple(ids), tuple(details)) for code, (ids, details) in self._flags.items()),
        )

    def replay(self, plan: ReplayPlan, specimen: str) -> None:
        """Add a specimen's interpretation (see ``replay_plan``) under its real id."""
        ph = plan.placeholder
        append = self.trace.append
        for rule, sources, detail, swap_detail, own in plan.trace:
            append(_trace(rule, sources, detail.replace(ph, specimen) if swap_detail else detail,
                          specimen if own else None))
        for code, own, spec, text, swap_text, rec_sources in plan.recs:
            target = specimen if own else spec
            key = (code, target)
            if key not in self._recs:
                self._recs[key] = build(Recommendation, code=code, text=text.replace(ph, specimen) if swap_text
                                        else text, specimen=target, sources=list(rec_sources))
        for code, ids, details in plan.flags:
            mine_ids, mine_details = self._flags.setdefault(code, ([], []))
            for sid in ids:
                real = specimen if sid == ph else sid
                if real not in mine_ids:
                    mine_ids.append(real)
            for detail in details:
                real_detail = detail.replace(ph, specimen)
                if real_detail not in mine_details:
                    mine_details.append(real_detail)

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
