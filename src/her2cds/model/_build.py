"""Fast construction of output models from values the engine has already validated.

The rules core builds many small immutable output objects per case; pydantic's ``model_construct`` spends
most of its time on per-call default handling. ``build`` precomputes each model's defaults once and sets the
instance state directly, exactly as ``model_construct`` would. Use it only with trusted, typed values.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__
_new = object.__new__


@functools.cache
def _defaults(cls: type[BaseModel]) -> tuple[dict[str, Any], tuple[tuple[str, type], ...], tuple[str, ...]]:
    """(immutable defaults, the fields whose default is a fresh empty container with its type, every field in
    order)."""
    fixed: dict[str, Any] = {}
    fresh: list[tuple[str, type]] = []
    for name, info in cls.model_fields.items():
        if info.is_required():
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, (list, dict, set)):
            if default:
                raise TypeError(f"{cls.__name__}.{name}: non-empty mutable default is not supported")
            fresh.append((name, type(default)))
        else:
            fixed[name] = default
    return fixed, tuple(fresh), tuple(cls.model_fields)


@functools.cache
def _template(cls: type[BaseModel]) -> tuple[dict[str, Any], tuple[tuple[str, type], ...]]:
    """(every field in declaration order with its immutable default, or None; the fresh-container fields)."""
    fixed, fresh, order = _defaults(cls)
    template: dict[str, Any] = dict.fromkeys(order)
    template.update(fixed)
    return template, fresh


def build(cls: type[M], **values: Any) -> M:
    template, fresh = _template(cls)
    state = template.copy()  # serialised in declaration order, as a validated model would be
    state.update(values)
    for name, kind in fresh:
        if name not in values:
            state[name] = [] if kind is list else kind()
    obj = _new(cls)
    _set(obj, "__dict__", state)
    _set(obj, "__pydantic_fields_set__", set(values))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj
