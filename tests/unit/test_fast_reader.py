"""The strict JSON reader's hook-free path (D14i.1) returns exactly what the hooked reader returns, or leaves the
text to it: same value, or the same error naming the same key / field. Checked on generated cases (compact and
spaced), on mutations that add duplicate keys at every depth, escaped and spaced keys, colons in strings, integers
around the digit bound and nesting around the depth bound."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from bench.cases import generate

from her2cds import reading
from her2cds.errors import MalformedInputError
from her2cds.reading import MAX_DEPTH, MAX_INT_DIGITS, parse_json


def _hooked(text: str) -> Any:
    """The reader with its hook-free path switched off."""
    saved = reading._plainly_strict
    reading._plainly_strict = lambda value, text: False
    try:
        return parse_json(text)
    finally:
        reading._plainly_strict = saved


def _outcome(read: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", json.dumps(read(text))  # dumps: key order and int/float kinds compared too
    except MalformedInputError as exc:
        return "error", (exc.field, str(exc))


def _same(text: str) -> tuple[str, Any]:
    new, old = _outcome(parse_json, text), _outcome(_hooked, text)
    assert new == old, text[:300]
    return new


def _objects(value: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.append(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _with_duplicate(case: dict[str, Any], rng: random.Random) -> str:
    """The case's text with one key of one of its objects (any depth) written twice, the first time with
    another value."""
    target = rng.choice([obj for obj in _objects(case) if obj])
    key = rng.choice(list(target))
    marker = "__DUPLICATE_MARKER__"
    target[marker] = 1
    text = json.dumps(case, separators=rng.choice([(",", ":"), (", ", ": ")]))
    del target[marker]
    spelled = rng.choice([json.dumps(key), json.dumps(key, ensure_ascii=False),
                          '"' + "".join(f"\\u{ord(c):04x}" for c in key) + '"'])
    space = rng.choice(["", " ", "\n\t "])
    return text.replace(f'"{marker}":1', f'{spelled}{space}:"first"').replace(f'"{marker}": 1',
                                                                              f'{spelled}{space}: "first"')


def test_generated_cases_read_the_same_and_take_the_hook_free_path() -> None:
    taken = 0
    for i, case in enumerate(generate(1500, 314)):
        text = json.dumps(case, separators=(",", ":")) if i % 2 else json.dumps(case)
        kind, _ = _same(text)
        assert kind == "value"
        taken += reading._plainly_strict(json.loads(text), text)
    assert taken == 1500  # the fast path is really taken (else this test would compare the hooked reader twice)


def test_a_duplicate_key_at_any_depth_is_still_refused_naming_the_key() -> None:
    rng = random.Random(5)
    for case in generate(600, 99):
        text = _with_duplicate(case, rng)
        kind, detail = _same(text)
        assert kind == "error" and "duplicate key" in detail[1], text[:300]


@pytest.mark.parametrize("text", [
    '{"a":1,"a":2}', '{"a" :1, "a" : 2}', '{"a":{"b":"x:y","b":"z"}}', '{"a":"\\":","a":1}',
    '{"a":"\\u0022:","b":1,"b":2}', '{"a\\\\":1,"a\\u005c":2}', '[{"x":[{"k":1},{"k":1,"k":2}]}]',
    '{"note":"a: b: c","a":1,"a":2}', '{"\\"":1,"\\"":2}', '{"":0,"":0}', '{ "a"\n:\t1 , "a"\r: 1 }',
])
def test_tricky_duplicates_are_refused(text: str) -> None:
    kind, detail = _same(text)
    assert kind == "error" and "duplicate key" in detail[1]


@pytest.mark.parametrize("text", [
    '{"note":"a: b","x":1}', '{"a":"\\":","b":1}', '{"t":"10:30","u":"http://x:80/"}', '{"a" : 1}', '{}', '[]',
    '{"a":[]}', '"x:y"', "5", "-5", "1.5e300", "1e400", "NaN", "-Infinity", "null", "true", '{"a":NaN}',
    '{"k":"\\u00e9\\ud83d\\ude00"}', '{"\\u0061":1,"b":2}',
])
def test_other_documents_read_the_same(text: str) -> None:
    assert _same(text)[0] == "value"


@pytest.mark.parametrize("digits", [MAX_INT_DIGITS - 2, MAX_INT_DIGITS - 1, MAX_INT_DIGITS, MAX_INT_DIGITS + 1,
                                    MAX_INT_DIGITS + 2, 4300, 4301, 5000])
@pytest.mark.parametrize("sign", ["", "-"])
def test_integers_around_the_digit_bound_read_the_same(digits: int, sign: str) -> None:
    number = sign + "9" * digits
    for text in (number, f'{{"cells_counted":{number}}}', f'{{"a":[1,{{"b":[{number}]}}]}}'):
        kind, detail = _same(text)
        if len(number) > MAX_INT_DIGITS + 1:
            assert kind == "error" and "digits" in detail[1]


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 5000])
def test_nesting_around_the_depth_bound_reads_the_same(depth: int) -> None:
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        assert _same(text)[0] == ("value" if depth <= MAX_DEPTH else "error")


def test_wide_shallow_documents_take_the_hook_free_path() -> None:
    """A Bundle-like document (hundreds of objects, shallow) is read without hooks, not sent to the hooked reader
    because of its size."""
    value = {"resourceType": "Bundle", "entry": [{"resource": {"id": str(i), "code": {"coding": [{"code": "x"}]}}}
                                                 for i in range(300)]}
    text = json.dumps(value)
    assert reading._plainly_strict(json.loads(text), text)
    assert _same(text) == ("value", json.dumps(value))


def test_broken_and_non_utf8_input_fail_the_same() -> None:
    for text in ('{"a":1', '{"a":1,}', "", "{'a':1}", '{"a":01}'):
        assert _same(text)[0] == "error"
    with pytest.raises(MalformedInputError, match="not UTF-8"):
        parse_json(b'{"a":"\xff"}')
