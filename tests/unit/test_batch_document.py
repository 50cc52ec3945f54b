"""``--batch``'s default line equals the reference path on thousands of distinct generated cases: the strict
reader with its hooks on every object (no hook-free path, D14i.1), then pydantic's ``Assessment`` serialized by
``model_dump_json`` (no directly written parts, D14.8). Byte for byte, compact and spaced input alike."""

from __future__ import annotations

import itertools
import json
from typing import Any

from bench.cases import distinct, generate

from her2cds import reading
from her2cds.adapters.cli import batch_line_result
from her2cds.engine import default_engine
from her2cds.therapy import output


def _reference(line: str) -> str:
    saved = reading._plainly_strict
    reading._plainly_strict = lambda value, text: False
    try:
        data: Any = reading.parse_json(line)
    finally:
        reading._plainly_strict = saved
    return default_engine().assess(data).model_dump_json()


def test_batch_lines_equal_the_hooked_reader_and_pydantic_on_3000_generated_cases() -> None:
    engine = default_engine()
    cases = list(generate(3000, 4242))
    assert distinct(cases)
    outcomes: dict[str, int] = {}
    ruled_out = 0
    for number, case in enumerate(cases, start=1):
        line = json.dumps(case, separators=(",", ":")) if number % 2 else json.dumps(case)
        text, ok = batch_line_result(engine, number, line.encode())
        assert ok, text
        assert text == _reference(line), case.get("id")
        document = json.loads(text)
        for option in document["therapies"]:
            outcomes[option["outcome"]] = outcomes.get(option["outcome"], 0) + 1
        ruled_out += len(document["ruled_out"])
    # the mix exercises every part of the compact writer
    assert outcomes.get("eligible", 0) >= 200 and outcomes.get("insufficient_data", 0) >= 200
    assert ruled_out >= 3000


def test_the_comparison_would_catch_a_changed_writer(monkeypatch: Any) -> None:
    """A writer that drops the last criterion not met from ``ruled_out`` differs from the reference."""
    engine = default_engine()
    def dropping(data: Any, selectors: Any) -> Any:
        return list(itertools.compress(data, selectors))[:-1]

    monkeypatch.setattr(output, "compress", dropping)
    differs = 0
    for number, case in enumerate(generate(50, 4242), start=1):
        line = json.dumps(case)
        text, _ = batch_line_result(engine, number, line)
        differs += text != _reference(line)
    assert differs >= 10
