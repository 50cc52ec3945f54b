"""Hostile input to the library and the CLI (issue 10): every reproducer gets a clear error naming the field and
value (exit 2), never a traceback, an internal error or a silent answer; ``--batch`` answers every line."""

from __future__ import annotations

import copy
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import her2cds
from her2cds.adapters.cli import _batch, main
from her2cds.engine import Engine
from her2cds.errors import InvalidInputError, MalformedInputError, short_repr
from her2cds.model import case as case_model
from her2cds.reading import MAX_DEPTH, parse_document, parse_json, parse_yaml

ISH_CASE: dict[str, Any] = {
    "tumor": {"oncotree_code": "STAD", "setting": "metastatic"},
    "specimens": [
        {
            "id": "B1",
            "procedure": "biopsy",
            "site": "primary",
            "ihc": {"score": "2+", "cluster_cells": {"strong_complete": 0, "weak_moderate_complete": 40}},
            "ish": {"probe": "dual", "her2_per_cell": 6.2, "cep17_per_cell": 2.1, "cells_counted": 20},
        }
    ],
    "biomarkers": {"pd_l1_cps": 5},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """ISH_CASE with the dotted ``path`` (list indexes as numbers) set to ``value``."""
    data = copy.deepcopy(ISH_CASE)
    node: Any = data
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[last] = value
    return data


def _field(path: str) -> str:
    return path.replace("specimens.0", "specimens[0]")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- numeric bounds: physically possible, finite, named -----------------------------------------------------
OUT_OF_RANGE = [
    ("specimens.0.ish.her2_per_cell", case_model.MAX_SIGNALS_PER_CELL + 1),
    ("specimens.0.ish.cep17_per_cell", 5e-324),  # the reproducer: made the ratio infinite and the case positive
    ("specimens.0.ish.cep17_per_cell", case_model.MIN_CEP17_PER_CELL / 2),
    ("specimens.0.ish.cep17_per_cell", case_model.MAX_SIGNALS_PER_CELL + 1),
    ("specimens.0.ish.ratio", case_model.MAX_RATIO + 1),
    ("specimens.0.ish.cells_counted", case_model.MAX_CELLS_COUNTED + 1),
    ("specimens.0.ish.percent_cells_amplified", 100.5),
    ("specimens.0.ihc.cluster_cells.strong_complete", case_model.MAX_CLUSTER_CELLS + 1),
    ("specimens.0.ihc.cluster_cells.weak_moderate_complete", 2**100),
    ("biomarkers.pd_l1_cps", case_model.MAX_CPS + 1),
    ("biomarkers.pd_l1_cps", float("nan")),
    ("specimens.0.ish.her2_per_cell", float("inf")),
    ("specimens.0.ish.her2_per_cell", 2**1100),  # an integer beyond float range
    ("specimens.0.ish.cells_counted", 2**1100),
]


@pytest.mark.parametrize(("path", "value"), OUT_OF_RANGE)
def test_out_of_range_numbers_are_errors_naming_field(path: str, value: Any) -> None:
    with pytest.raises(InvalidInputError) as caught:
        her2cds.assess(_with(path, value))
    assert caught.value.field == _field(path)
    assert len(str(caught.value)) < 400


def test_recount_and_copy_number_are_bounded_too() -> None:
    recount = _with("specimens.0.ish.recount", {"her2_per_cell": 4.0, "cep17_per_cell": 1e-300})
    with pytest.raises(InvalidInputError) as caught:
        her2cds.assess(recount)
    assert caught.value.field == "specimens[0].ish.recount.cep17_per_cell"
    ngs = _with("specimens.0.ngs", {"erbb2_copy_number": case_model.MAX_COPY_NUMBER * 2})
    with pytest.raises(InvalidInputError) as caught:
        her2cds.assess(ngs)
    assert caught.value.field == "specimens[0].ngs.erbb2_copy_number"


def test_values_at_the_bounds_are_accepted() -> None:
    data = _with("specimens.0.ish.cells_counted", case_model.MAX_CELLS_COUNTED)
    data["specimens"][0]["ish"]["cep17_per_cell"] = case_model.MIN_CEP17_PER_CELL
    data["specimens"][0]["ish"]["her2_per_cell"] = case_model.MAX_SIGNALS_PER_CELL
    data["biomarkers"]["pd_l1_cps"] = case_model.MAX_CPS
    result = her2cds.assess(data)
    ratio = result.specimens[0].ish.ratio if result.specimens[0].ish else None
    assert ratio == pytest.approx(case_model.MAX_RATIO)


def test_tiny_cep17_is_never_a_positive_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(_with("specimens.0.ish.cep17_per_cell", 5e-324)), encoding="utf-8")
    code, out, err = run(["assess", str(path), "--output", "fhir"], capsys)
    assert code == 2 and out == ""
    assert "specimens[0].ish.cep17_per_cell" in err and "5e-324" in err


# -- reading: duplicate keys, depth, huge integers, aliases, dates ------------------------------------------
def test_duplicate_json_key_names_the_key() -> None:
    with pytest.raises(MalformedInputError) as caught:
        parse_json('{"tumor": {"oncotree_code": "STAD"}, "specimens": [{"ihc": {"score": "0", "score": "3+"}}]}')
    assert caught.value.field == "score" and "duplicate key 'score'" in str(caught.value)


def test_duplicate_yaml_key_names_the_key_and_line() -> None:
    text = 'tumor: {oncotree_code: STAD}\nspecimens:\n- id: B1\n  ihc:\n    score: "0"\n    score: "3+"\n'
    with pytest.raises(MalformedInputError) as caught:
        parse_yaml(text)
    assert "duplicate key 'score'" in str(caught.value) and "line 6" in str(caught.value)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_duplicate_keys_exit_2(suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"case{suffix}"
    if suffix == ".json":
        path.write_text('{"tumor": {"oncotree_code": "STAD", "oncotree_code": "IDC"}}', encoding="utf-8")
    else:
        path.write_text("tumor:\n  oncotree_code: STAD\n  oncotree_code: IDC\n", encoding="utf-8")
    code, out, err = run(["assess", str(path)], capsys)
    assert code == 2 and out == "" and "duplicate key 'oncotree_code'" in err


def _alias_bomb() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text + "tumor: *i\n"


def test_yaml_alias_bomb_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = _alias_bomb()
    assert len(bomb) < 400
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb, encoding="utf-8")
    code, _, err = run(["assess", str(path)], capsys)
    assert code == 2 and "aliases" in err and "line 2" in err


@pytest.mark.parametrize("text", ["[" * 10_000 + "]" * 10_000, "{\"a\": " * 5_000 + "1" + "}" * 5_000])
def test_deep_json_is_refused(text: str) -> None:
    with pytest.raises(MalformedInputError, match="nests deeper than"):
        parse_json(text)


def test_deep_yaml_is_refused() -> None:
    with pytest.raises(MalformedInputError, match="nests deeper than"):
        parse_yaml("a: " + "[" * 10_000 + "]" * 10_000)
    deep_block = "".join(f"{'  ' * level}k{level}:\n" for level in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "x"
    with pytest.raises(MalformedInputError, match="nests deeper than"):
        parse_yaml(deep_block)


def test_depth_up_to_the_limit_is_accepted() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(text) is not None
    assert parse_yaml(text) is not None
    with pytest.raises(MalformedInputError):
        parse_json("[" + text + "]")


@pytest.mark.parametrize("reader", [parse_json, parse_yaml])
def test_5000_digit_integer_names_its_field(reader: Any) -> None:
    digits = "1" + "0" * 4999
    text = (
        '{"tumor": {"oncotree_code": "STAD"}, "specimens": [{"id": "B1", "procedure": "biopsy", '
        f'"ish": {{"her2_per_cell": 6, "cep17_per_cell": 2, "cells_counted": {digits}}}}}]}}'
    )
    with pytest.raises(MalformedInputError) as caught:
        reader(text) if reader is parse_json else parse_yaml(text.replace('{"', '{ "'))
    assert caught.value.field == "specimens[0].ish.cells_counted"
    assert "5000 digits" in str(caught.value)
    with pytest.raises(MalformedInputError, match="5000 digits"):
        reader(digits)


def test_invalid_yaml_date_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(
        "tumor: {oncotree_code: STAD}\nspecimens:\n- id: B1\n  procedure: biopsy\n  collected_on: 2026-13-45\n"
        '  ihc: {score: "3+"}\n',
        encoding="utf-8",
    )
    code, _, err = run(["assess", str(path)], capsys)
    assert code == 2 and "specimens[0].collected_on" in err and "2026-13-45" in err


def test_valid_yaml_dates_still_work() -> None:
    data = parse_document("tumor: {oncotree_code: STAD}\nspecimens:\n- id: B1\n  procedure: biopsy\n"
                          '  collected_on: 2026-03-02\n  ihc: {score: "3+"}\n')
    assert her2cds.assess(data).specimens[0].collected_on.isoformat() == "2026-03-02"  # type: ignore[union-attr]


def test_error_values_are_rendered_lazily() -> None:
    shared: list[Any] = ["lol"] * 9
    for _ in range(12):  # 9**13 leaves if walked in full
        shared = [shared] * 9
    shown = short_repr(shared)
    assert len(shown) <= 80 and shown.startswith("[[[")
    assert short_repr(10**5000).startswith("<an integer of about")
    assert short_repr({"a": 1}) == "{'a': 1}"
    error = InvalidInputError.single("tumor", "bad", shared)
    assert len(str(error)) < 120


def test_huge_shared_value_in_a_case_fails_fast() -> None:
    shared: list[Any] = ["x"] * 9
    for _ in range(12):
        shared = [shared] * 9
    with pytest.raises(InvalidInputError) as caught:
        her2cds.assess({"tumor": shared})
    assert caught.value.field == "tumor" and len(str(caught.value)) < 200


# -- --batch: one output line per input line, always --------------------------------------------------------
class _CountingOut(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1


def test_batch_answers_every_hostile_line(tmp_path: Path) -> None:
    good = json.dumps(ISH_CASE).encode()
    lines = [
        good,
        b"\xff\xfe not utf-8",
        json.dumps(_with("specimens.0.ish.her2_per_cell", 2**1100)).encode(),
        b"[" * 10_000 + b"]" * 10_000,
        good.replace(b'"cells_counted": 20', b'"cells_counted": 1' + b"0" * 5000),
        b'{"tumor": {"oncotree_code": "STAD", "oncotree_code": "IDC"}}',
        json.dumps(_with("specimens.0.ish.cep17_per_cell", 5e-324)).encode(),
        b"",
        good,
    ]
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = _CountingOut()
    code = _batch(Engine(), str(path), out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1
    assert len(records) == len(lines)
    assert out.writes == len(lines) and out.flushes == len(lines)  # one write and one flush per line
    assert records[0]["her2"]["status"] == records[-1]["her2"]["status"]
    assert [r["line"] for r in records[1:-1]] == list(range(2, len(lines)))
    assert "not UTF-8" in records[1]["error"]["message"]
    assert records[2]["error"]["field"] == "specimens[0].ish.her2_per_cell"
    assert "nests deeper" in records[3]["error"]["message"]
    assert records[4]["error"]["field"] == "specimens[0].ish.cells_counted"
    assert records[5]["error"]["field"] == "oncotree_code"
    assert records[6]["error"]["field"] == "specimens[0].ish.cep17_per_cell"


def test_batch_of_a_non_utf8_file_still_answers_every_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = json.dumps(ISH_CASE).encode()
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(good + b"\n" + "{\"id\": \"caf\u00e9\"}".encode("latin-1") + b"\n" + good + b"\n")
    code, out, _ = run(["assess", "--batch", str(path)], capsys)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(records) == 3
    assert "her2" in records[0] and "her2" in records[2] and records[1]["line"] == 2


def test_batch_survives_an_engine_bug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine()
    calls = {"n": 0}
    real = engine.evaluate  # what every output path of the engine runs

    def flaky(data: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug quoting patient data")
        return real(data)

    monkeypatch.setattr(engine, "evaluate", flaky)
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join([json.dumps(ISH_CASE)] * 3) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert _batch(engine, str(path), out) == 1
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 3 and "her2" in records[0] and "her2" in records[2]
    assert records[1]["line"] == 2 and "internal error" in records[1]["error"]["message"]
    assert "patient" not in records[1]["error"]["message"]


def test_batch_from_stdin_bytes(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.TextIOWrapper(io.BytesIO(json.dumps(ISH_CASE).encode() + b"\n\x80\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", raw)
    code, out, _ = run(["assess", "--batch", "-"], capsys)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(records) == 2 and "not UTF-8" in records[1]["error"]["message"]
