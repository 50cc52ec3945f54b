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
import re
from typing import Any

from her2cds.errors import MalformedInputError

#: deepest nesting of arrays/objects accepted (a case is about 5 deep, a CDS Hooks request with a prefetched
#: Bundle about 12)
MAX_DEPTH = 64
#: longest integer literal accepted, in digits (every numeric field is bounded far below 10**30)
MAX_INT_DIGITS = 40


def _too_long(digits: str) -> str:
    return f"a number with {len(digits.lstrip('+-'))} digits is out of range (at most {MAX_INT_DIGITS} digits)"


class Huge:
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


def _integer(text: str) -> int | Huge:
    return Huge(text) if len(text) > MAX_INT_DIGITS + 1 else int(text)


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_int=_integer)
_PLAIN = json.JSONDecoder()  # no Python hooks: the C scanner throughout
#: integers at least this large (in magnitude) send a document to the hooked reader, which decides exactly
_BIG = 10 ** (MAX_INT_DIGITS - 1)
#: the end of a key: its closing quote, JSON whitespace, the colon
_KEY_END = re.compile(r'"[ \t\n\r]*:')


def _plainly_strict(value: Any, text: str) -> bool:
    """True when ``value`` (``text`` read without hooks) is provably what the hooked reader returns: nesting
    within :data:`MAX_DEPTH`, no integer literal near :data:`MAX_INT_DIGITS`, and no duplicate key (D14i.1).

    Duplicates: every key of the text ends with its own ``"``, whitespace and ``:`` (so the text has at least as
    many colons, and as many such ends, as key literals), and the decoded objects hold one key per distinct key
    literal; when the decoded objects hold as many keys as the text has colons (or key ends), no key literal was
    dropped. Anything else (a duplicate, a colon inside a string, a huge number, deep nesting) is left to the
    hooked reader, which names the problem."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return kind is not int or -_BIG < value < _BIG
    keys = 0
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > MAX_DEPTH:
            return False
        if type(node) is dict:
            keys += len(node)
            node = node.values()
        depth += 1
        for child in node:
            kind = type(child)
            if kind is dict or kind is list:
                push((child, depth))
            elif kind is int and not -_BIG < child < _BIG:
                return False
    return keys == text.count(":") or keys == len(_KEY_END.findall(text))


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
            elif isinstance(child, Huge):
                raise MalformedInputError.single(_path_to(value, child) or "", _too_long(child.text), has_value=False)


def parse_json(text: str | bytes, name: str = "the input") -> Any:
    """One JSON document (text or UTF-8 bytes), read strictly; see the module docstring."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        try:  # the common case without Python hooks, taken only when provably the same (D14i.1)
            plain = _PLAIN.decode(text)
        except (ValueError, RecursionError):  # broken JSON, an integer beyond Python's digit limit, deep nesting
            pass
        else:
            if _plainly_strict(plain, text):
                return plain
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
    return checked(value)


def checked(value: Any) -> Any:
    """``value`` as read by a hooked reader, after the checks of depth and integer length (see :func:`_check`)."""
    if isinstance(value, dict | list):
        _check(value)
    elif isinstance(value, Huge):
        raise MalformedInputError.single("", _too_long(value.text), has_value=False)
    return value


def parse_yaml(text: str, name: str = "the input") -> Any:
    """One YAML document, read strictly; see the module docstring. (In :mod:`her2cds.reading_yaml`, imported
    here on first use: reading JSON, as ``--batch`` and the service do, never pays for importing PyYAML.)"""
    from her2cds.reading_yaml import parse_yaml as parse

    return parse(text, name)


def parse_document(text: str, name: str = "the input") -> Any:
    """JSON when the text starts with ``{`` or ``[``, YAML otherwise."""
    if text.lstrip().startswith(("{", "[")):
        return parse_json(text, name)
    return parse_yaml(text, name)
