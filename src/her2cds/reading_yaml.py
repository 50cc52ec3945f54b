"""The YAML half of :mod:`her2cds.reading` (its module docstring says what is refused), in a module of its own so
that reading JSON never imports PyYAML."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from her2cds.errors import MalformedInputError
from her2cds.reading import MAX_DEPTH, MAX_INT_DIGITS, Huge, checked


class _TooDeepError(Exception):
    pass


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


def _construct_int(loader: _SafeLoader, node: ScalarNode) -> int | Huge:
    text = str(node.value).replace("_", "")
    if len(text) > MAX_INT_DIGITS + 1:
        return Huge(text)
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
    return checked(value)
