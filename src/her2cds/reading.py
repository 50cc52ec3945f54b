"""Reading untrusted JSON and YAML documents (cases, FHIR Bundles, CDS Hooks requests) safely.

One reader for the CLI, ``--batch`` and the HTTP service. Compared with ``json.loads`` / ``yaml.safe_load`` it

- rejects duplicate object keys, naming the key (the standard parsers silently keep the last one);
- bounds nesting depth (:data:`MAX_DEPTH`) and the length of integer literals (:data:`MAX_INT_DIGITS`);
- refuses YAML aliases (``*name``): a few hundred bytes of nested aliases expand to billions of nodes;
- leaves YAML dates as text so that the case model validates them and names the field (PyYAML raises a bare
  ``ValueError`` for ``2026-13-45``).

Every failure is a :class:`~her2cds.errors.MalformedInputError` whose message names the key or position.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from her2cds.errors import MalformedInputError

#: deepest nesting of arrays/objects accepted (a case is about 5 deep, a CDS Hooks request with a prefetched
#: Bundle about 12)
MAX_DEPTH = 64
#: longest integer literal accepted, in digits (every numeric field is bounded far below 10**30)
MAX_INT_DIGITS = 40


class _TooDeepError(Exception):
    pass


def _too_long(digits: str) -> str:
    return f"a number with {len(digits.lstrip('+-'))} digits is out of range (at most {MAX_INT_DIGITS} digits)"


class _Huge:
    """Stands for an over-long integer literal until the reader knows which field holds it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedInputError.single(key, f"duplicate key {key!r} in a JSON object", has_value=False)
            seen.add(key)
    return obj


def _integer(text: str) -> int | _Huge:
    return _Huge(text) if len(text) > MAX_INT_DIGITS + 1 else int(text)


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_int=_integer)


def _path_to(value: Any, target: Any, path: str = "") -> str | None:
    if value is target:
        return path
    if isinstance(value, dict):
        for key, child in value.items():
            found = _path_to(child, target, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found = _path_to(child, target, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _check(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`MalformedInputError` when arrays/objects nest deeper than ``limit`` or an integer literal
    is over-long (naming its field). Iterative: the depth is not bounded yet."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            raise MalformedInputError.single("", f"the document nests deeper than {limit} levels", has_value=False)
        children = current.values() if isinstance(current, dict) else current
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif isinstance(child, _Huge):
                raise MalformedInputError.single(_path_to(value, child) or "", _too_long(child.text), has_value=False)


def parse_json(text: str | bytes, name: str = "the input") -> Any:
    """One JSON document (text or UTF-8 bytes), read strictly; see the module docstring."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise MalformedInputError.single(
            "", f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", has_value=False
        ) from None
    except UnicodeDecodeError as exc:
        raise MalformedInputError.single(
            "", f"{name} is not valid JSON: it is not UTF-8 text (byte {exc.start})", has_value=False
        ) from None
    except RecursionError:
        raise MalformedInputError.single(
            "", f"{name} nests deeper than {MAX_DEPTH} levels", has_value=False
        ) from None
    if isinstance(value, dict | list):
        _check(value)
    elif isinstance(value, _Huge):
        raise MalformedInputError.single("", _too_long(value.text), has_value=False)
    return value


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases, dates or duplicate keys, with bounded depth and integers."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            event: Any = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(None, None, "YAML aliases (*name) are not accepted", event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _TooDeepError
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if duplicate:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: _SafeLoader, node: ScalarNode) -> int | _Huge:
    text = str(node.value).replace("_", "")
    if len(text) > MAX_INT_DIGITS + 1:
        return _Huge(text)
    return loader.construct_yaml_int(node)


_SafeLoader.yaml_implicit_resolvers = {  # dates stay text: the case model validates them and names the field
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def parse_yaml(text: str, name: str = "the input") -> Any:
    """One YAML document, read strictly; see the module docstring."""
    loader: _SafeLoader | None = None
    try:
        loader = _SafeLoader(text)  # the reader rejects unprintable characters already here
        value = loader.get_single_data()
    except _TooDeepError:
        raise MalformedInputError.single("", f"{name} nests deeper than {MAX_DEPTH} levels", has_value=False) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise MalformedInputError.single("", f"{name} is not valid JSON or YAML: {problem}{where}",
                                         has_value=False) from None
    except RecursionError:
        raise MalformedInputError.single("", f"{name} nests too deeply", has_value=False) from None
    finally:
        if loader is not None:
            loader.dispose()
    if isinstance(value, dict | list):
        _check(value)
    elif isinstance(value, _Huge):
        raise MalformedInputError.single("", _too_long(value.text), has_value=False)
    return value


def parse_document(text: str, name: str = "the input") -> Any:
    """JSON when the text starts with ``{`` or ``[``, YAML otherwise."""
    if text.lstrip().startswith(("{", "[")):
        return parse_json(text, name)
    return parse_yaml(text, name)
