"""What ``her2cds assess`` writes for one assessment: the full JSON, the JSON without the trace, a short summary,
or only the fields asked for (``--fields``). Pure functions of an :class:`Assessment`; no I/O.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from her2cds.errors import UsageError
from her2cds.model.assessment import Assessment, ExpandedAssessment
from her2cds.therapy.criteria import need_fact

__all__ = ["SUMMARY_LIMIT", "OutputShape", "check_fields", "select_fields", "summary", "summary_line"]

SUMMARY_LIMIT = 300  # bytes of one --summary JSON line (without its newline), whatever the case holds
_COMPACT = (",", ":")


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=_COMPACT)


def summary(assessment: Assessment) -> dict[str, Any]:
    """The short form: HER2 status, category, IHC score, ERBB2 amplification (ISH or NGS), flag codes,
    recommendation codes, eligible therapy ids, the facts therapy matching still needs, and the versions
    (``engine/knowledge base/as_of``)."""
    her2 = assessment.her2
    needs: list[str] = []
    for option in assessment.therapies:
        for need in option.needs:
            # the fact's name (history.prior_lines), else the text without its explanation in parentheses
            short = need_fact(need) or need.split(" (", 1)[0]
            if short not in needs:
                needs.append(short)
    versions = assessment.versions
    return {
        "id": assessment.id,
        "status": her2.status.value,
        "category": her2.category.value if her2.category is not None else None,
        "ihc": her2.ihc_score.value if her2.ihc_score is not None else None,
        "amplified": her2.erbb2_amplified,
        "flags": [f.code for f in assessment.flags],
        "recommendations": list(dict.fromkeys(r.code for r in assessment.recommendations)),
        "eligible": [t.id for t in assessment.therapies if t.eligible],
        "needs": needs,
        "versions": f"{versions.engine}/{versions.knowledge_base}/{versions.as_of.isoformat()}",
        # the re-reading under superseded criteria, only when the case asked for one
        **({"criteria": assessment.criteria.status} if assessment.criteria is not None else {}),
    }


_LISTS = ("needs", "eligible", "recommendations", "flags")  # shortened in this order when a line is too long


_ID_KEEP = 60  # bytes of an id kept when a line is too long (the line's position still names the input line)


def _cut(text: str, size: int) -> str:
    return text.encode()[:size].decode(errors="ignore") + "..."


def summary_line(assessment: Assessment, limit: int = SUMMARY_LIMIT) -> str:
    """The summary as one compact JSON line of at most ``limit`` bytes.

    When it does not fit, a long id is cut first (``omitted.id_cut``), then the last items of ``needs``,
    ``eligible``, ``recommendations`` and ``flags`` are left out, and ``omitted`` says how many of each (the full
    output has them). Nothing is dropped silently.
    """
    data = summary(assessment)
    omitted: dict[str, int] = {}

    def render() -> str:
        return _json({**data, "omitted": omitted} if omitted else data)

    line = render()
    if len(line.encode()) > limit and data["id"] and len(data["id"].encode()) > _ID_KEEP:
        data["id"] = _cut(data["id"], _ID_KEEP)
        omitted["id_cut"] = 1
        line = render()
    for name in _LISTS:
        while len(line.encode()) > limit and data[name]:
            data[name] = data[name][:-1]
            omitted[name] = omitted.get(name, 0) + 1
            line = render()
    while len(line.encode()) > limit and data["id"]:  # only a pathological id can still be too long
        data["id"] = _cut(data["id"], max(0, len(data["id"].encode()) - 8 - len(line.encode()) + limit))
        omitted["id_cut"] = 1
        line = render()
        if len(data["id"]) <= 3:
            break
    return line


# -- --fields ----------------------------------------------------------------------------------------------
def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None``, ``list[X]`` or ``tuple[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def check_fields(spec: str, root: type[BaseModel] = Assessment) -> list[tuple[str, ...]]:
    """``"id,her2.status,specimens.id"`` -> paths; an unknown name is a usage error naming the choices."""
    paths: list[tuple[str, ...]] = []
    for raw in spec.split(","):
        name = raw.strip()
        if not name:
            continue
        parts = tuple(name.split("."))
        model: type[BaseModel] | None = root
        for depth, part in enumerate(parts):
            if model is None:
                raise UsageError(f"--fields: {'.'.join(parts[:depth])} has no sub-fields (in {name!r})")
            if part not in model.model_fields:
                where = ".".join(parts[:depth]) or "the output"
                raise UsageError(f"--fields: {name!r}: {where} has no field {part!r}; choose from "
                                 f"{', '.join(model.model_fields)}")
            if model.model_fields[part].exclude:  # e.g. therapies.history_used, trace.sources (D14.5)
                raise UsageError(f"--fields: {name!r} is in the expanded document only; add --expand")
            model = _model_of(model.model_fields[part].annotation)
        paths.append(parts)
    if not paths:
        raise UsageError("--fields needs at least one field name, e.g. --fields id,her2.status")
    return paths


def _pick(node: Any, path: Sequence[str], model: type[BaseModel] | None) -> Any:
    if not path:
        return node
    if isinstance(node, list):
        return [_pick(item, path, model) for item in node]
    if isinstance(node, dict):
        info = model.model_fields.get(path[0]) if model is not None else None
        if path[0] not in node and info is not None and not info.is_required():
            # left out of the compact document because it is empty or null (D14.5): its documented default
            default = info.get_default(call_default_factory=True)
            return list(default) if isinstance(default, (tuple, list)) else default
        return _pick(node.get(path[0]), path[1:], _model_of(info.annotation) if info is not None else None)
    return None


def select_fields(document: dict[str, Any], paths: Sequence[tuple[str, ...]],
                  root: type[BaseModel] = Assessment) -> dict[str, Any]:
    """Only the named fields, keyed by their dotted names, in the order asked (``versions`` always kept); a field
    the document leaves out when empty (D14.5) is given as its empty value."""
    out = {".".join(path): _pick(document, path, root) for path in paths}
    out.setdefault("versions", document.get("versions"))
    return out


class OutputShape:
    """How each assessment is written: full JSON (optionally without trace), summary, or selected fields."""

    def __init__(self, *, summary: bool = False, fields: str | None = None, trace: bool = True,
                 expand: bool = False) -> None:
        if summary and fields is not None:
            raise UsageError("give either --summary or --fields, not both")
        self.summary = summary
        self.expand = expand
        self.root: type[Assessment] = ExpandedAssessment if expand else Assessment
        self.paths = check_fields(fields, self.root) if fields is not None else None
        self.trace = trace

    @property
    def default(self) -> bool:
        """Whether this is the default document (what ``Engine.assess_json`` writes)."""
        return not self.summary and not self.expand and self.paths is None and self.trace

    def _shown(self, assessment: Assessment) -> Assessment:
        return assessment.expanded() if self.expand else assessment

    def document(self, assessment: Assessment) -> dict[str, Any]:
        if self.summary:
            return summary(assessment)
        exclude = None if self.trace else {"trace"}
        document: dict[str, Any] = self._shown(assessment).model_dump(mode="json", exclude=exclude)
        return select_fields(document, self.paths, self.root) if self.paths is not None else document

    def text(self, assessment: Assessment) -> str:
        """One case, indented JSON."""
        if self.paths is None and self.trace and not self.summary:
            return self._shown(assessment).model_dump_json(indent=2) + "\n"
        return json.dumps(self.document(assessment), ensure_ascii=False, indent=2) + "\n"

    def line(self, assessment: Assessment) -> str:
        """One JSON line (``--batch``)."""
        if self.summary:
            return summary_line(assessment)
        if self.paths is None and self.trace:
            return self._shown(assessment).model_dump_json()
        return _json(self.document(assessment))
