"""The one error tree of her2cds.

::

    Her2CdsError
    ├── InvalidInputError      the caller's case (or request) is not valid; names the field and value
    ├── KnowledgeBaseError     the knowledge base failed to load or validate
    ├── UsageError             the library was called the wrong way (unknown id, bad option)
    └── InternalError          a bug: an invariant of the engine did not hold

Library code raises only these; the CLI maps them to exit codes and the HTTP layer to
status codes, each in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Her2CdsError(Exception):
    """Base class of every error her2cds raises on purpose."""

    code = "her2cds_error"


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of the input."""

    field: str
    message: str
    value: Any = None
    has_value: bool = False

    def describe(self) -> str:
        """The message with the offending value, without the field path."""
        text = self.message
        if self.has_value:
            text += f" (got {short_repr(self.value)})"
        return text

    def render(self) -> str:
        return f"{self.field}: {self.describe()}" if self.field else self.describe()


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, computed lazily: only as much of a (possibly huge, deeply
    nested or self-sharing) value is visited as is shown, and huge integers are described, not converted."""
    parts: list[str] = []
    size = 0
    stack: list[Any] = [value]
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, _Text):
            piece = item.text
        elif isinstance(item, dict):
            pairs = list(item.items())[: limit // 4 + 1]
            stack.append(_Text("}" if len(pairs) == len(item) else ", ...}"))
            for index, (key, child) in enumerate(reversed(pairs)):
                stack.extend((child, _Text(": "), key))
                if index < len(pairs) - 1:
                    stack.append(_Text(", "))
            piece = "{"
        elif isinstance(item, list | tuple):
            items = list(item[: limit // 2 + 1])
            stack.append(_Text("]" if len(items) == len(item) else ", ...]"))
            for index, child in enumerate(reversed(items)):
                stack.append(child)
                if index < len(items) - 1:
                    stack.append(_Text(", "))
            piece = "["
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 256:
            piece = f"<an integer of about {int(item.bit_length() * 0.30103)} digits>"
        elif isinstance(item, str | bytes) and len(item) > limit:
            piece = repr(item[:limit])
        else:
            piece = repr(item)
        parts.append(piece)
        size += len(piece)
    shown = "".join(parts)
    if stack or len(shown) > limit:
        return shown[: limit - 3] + "..."
    return shown


@dataclass(frozen=True)
class _Text:
    text: str


class InvalidInputError(Her2CdsError):
    """The input does not satisfy the contract; carries every field problem found."""

    code = "invalid_input"

    def __init__(self, problems: list[FieldProblem]) -> None:
        if not problems:
            problems = [FieldProblem(field="", message="invalid input")]
        self.problems = problems
        super().__init__("; ".join(p.render() for p in problems))

    @classmethod
    def single(cls, field: str, message: str, value: Any = None, *, has_value: bool = True) -> InvalidInputError:
        return cls([FieldProblem(field=field, message=message, value=value, has_value=has_value)])

    @property
    def field(self) -> str:
        return self.problems[0].field


class MalformedInputError(InvalidInputError):
    """The input could not even be parsed (JSON / YAML syntax)."""

    code = "malformed_input"


class KnowledgeBaseError(Her2CdsError):
    """The knowledge base is missing, malformed or inconsistent."""

    code = "knowledge_base_error"


class UsageError(Her2CdsError):
    """The API was used incorrectly (e.g. an unknown knowledge-base id was asked for)."""

    code = "usage_error"


class NotFoundError(UsageError):
    """A requested entry does not exist."""

    code = "not_found"


class ConflictError(UsageError):
    """A stored record changed since the caller read it (e.g. another revision of the case was saved first)."""

    code = "conflict"


class InternalError(Her2CdsError):
    """An invariant of the engine was violated: a bug in her2cds."""

    code = "internal_error"
