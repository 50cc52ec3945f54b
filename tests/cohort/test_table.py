"""`her2cds cohort run --format table`: mapping, value dictionaries, errors per row, writers, chunks, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from her2cds.adapters.cli import main
from her2cds.cohort.columns import SLIM_COLUMNS
from her2cds.cohort.report import read_slim
from her2cds.cohort.slim import slim_answer
from her2cds.engine import Engine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cohort" / "table"
EXTRACT, MAPPING = FIXTURES / "extract.csv", FIXTURES / "extract.yaml"


def cohort(tmp_path: Path, out: str, *extra: str) -> tuple[int, pl.DataFrame]:
    target = tmp_path / out
    code = main(["cohort", "run", str(EXTRACT), "--format", "table", "--mapping", str(MAPPING), "--out",
                 str(target), *extra])
    return code, read_slim(target)


def by_id(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in frame.iter_rows(named=True)}


def test_every_input_row_is_answered_or_named_in_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, frame = cohort(tmp_path, "out.parquet")
    assert code == 1  # some rows are in error
    assert frame.columns == list(SLIM_COLUMNS)
    rows = by_id(frame)
    # 10 input rows: A8 has two specimens, the last row has no patient id and is named by file and row
    assert sorted(rows) == ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "extract.csv:10"]
    assert "column HER2 FISH ratio" in rows["A8"]["error"] and "'two point one'" in rows["A8"]["error"]
    assert "extract.csv:8" in rows["A8"]["error"]
    assert "column ihc_score" in rows["A7"]["error"] and "'5+'" in rows["A7"]["error"]
    assert rows["A6"]["error"] is None and rows["A6"]["her2_status"] == "indeterminate"  # "Not done": no result
    assert all(r["kb_version"] for r in rows.values())
    err = capsys.readouterr().err
    assert "9 patients" in err and "2 error rows" in err and "1 unreadable" in err


def test_answers_equal_the_per_case_engine_on_the_same_facts(tmp_path: Path, engine: Engine) -> None:
    _, frame = cohort(tmp_path, "out.jsonl")
    rows = by_id(frame)
    case = {
        "id": "A2", "tumor": {"oncotree_code": "IDC", "setting": "metastatic"},
        "specimens": [{"id": "s", "procedure": "biopsy", "collected_on": "2024-03-11", "ihc": {"score": "2+"},
                       "ish": {"ratio": 2.6, "her2_per_cell": 5.2, "cep17_per_cell": 2.0}}],
    }
    expected = slim_answer(engine.assess(case))
    assert {k: rows["A2"][k] for k in expected} == expected
    gastric = slim_answer(engine.assess({"tumor": {"oncotree_code": "STAD", "setting": "metastatic"},
                                         "specimens": [{"id": "s", "procedure": "resection", "ihc": {"score": "0"}}]}))
    assert {k: rows["A4"][k] for k in gastric} == gastric


@pytest.mark.parametrize("out", ["out.csv", "out.tsv", "out.jsonl", "out.parquet"])
def test_writers_round_trip_the_same_answers(tmp_path: Path, out: str) -> None:
    _, reference = cohort(tmp_path, "ref.parquet")
    _, frame = cohort(tmp_path, out)
    assert by_id(frame).keys() == by_id(reference).keys()
    for pid, row in by_id(reference).items():
        other = by_id(frame)[pid]
        for column in ("her2_status", "her2_category", "ihc_score", "flags", "recommendations", "needs", "error"):
            assert row[column] == other[column] or (row[column] in (None, []) and other[column] in (None, [])), (
                pid, column)


def test_parquet_carries_the_versions(tmp_path: Path, engine: Engine) -> None:
    cohort(tmp_path, "out.parquet")
    meta = pq.read_metadata(tmp_path / "out.parquet").metadata  # the file's key-value metadata
    assert meta[b"her2cds.knowledge_base"].decode() == engine.versions.knowledge_base
    assert meta[b"her2cds.engine"].decode() == engine.versions.engine
    assert meta[b"her2cds.as_of"].decode() == engine.versions.as_of.isoformat()
    assert pl.read_parquet_metadata(tmp_path / "out.parquet")["her2cds.engine"] == engine.versions.engine


def test_small_chunks_give_the_same_answers(tmp_path: Path) -> None:
    _, whole = cohort(tmp_path, "whole.parquet")
    _, chunked = cohort(tmp_path, "chunked.parquet", "--chunk-rows", "2")  # A8's rows fall in two chunks
    assert sorted(whole.rows()) == sorted(chunked.rows())


def test_report_and_summary(tmp_path: Path) -> None:
    cohort(tmp_path, "out.csv", "--report", str(tmp_path / "r.html"), "--summary", str(tmp_path / "s.json"))
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<svg" in page and "HER2 status by tumor type" in page and "two point one" in page
    summary = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert summary["rows"] == 10 and summary["patients"] == 9 and summary["read_errors"] == 1


def test_mapping_errors_name_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: {her2_ihc: HER2 IHC}\n", encoding="utf-8")
    code = main(["cohort", "run", str(EXTRACT), "--format", "table", "--mapping", str(bad), "--out",
                 str(tmp_path / "o.csv")])
    assert code == 2 and "her2_ihc" in capsys.readouterr().err
    bad.write_text("columns: {ihc_score: HER2 score}\n", encoding="utf-8")
    code = main(["cohort", "run", str(EXTRACT), "--format", "table", "--mapping", str(bad), "--out",
                 str(tmp_path / "o.csv")])
    assert code == 2 and "HER2 score" in capsys.readouterr().err
    code = main(["cohort", "run", str(EXTRACT), "--format", "table", "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "--mapping" in capsys.readouterr().err
    code = main(["cohort", "run", str(EXTRACT), "--format", "table", "--mapping", str(MAPPING), "--out",
                 str(tmp_path / "o.xlsx")])
    assert code == 2 and ".parquet" in capsys.readouterr().err


def test_progress_is_drawn_on_a_terminal_only() -> None:
    import io

    from her2cds.cohort.run import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        progress = Progress(stream)
        progress.update(250_000)
        progress.done()
    assert "250,000 rows" in tty.getvalue() and tty.getvalue().endswith("\n")
    assert pipe.getvalue() == ""


def test_full_json_lines_hold_the_whole_assessment_of_every_patient(tmp_path: Path, engine: Engine) -> None:
    full = tmp_path / "full.jsonl"
    _, slim = cohort(tmp_path, "out.parquet", "--full", str(full), "--chunk-rows", "3")
    lines = [json.loads(line) for line in full.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(slim["id"].to_list())
    by = {line["id"]: line for line in lines}
    assert by["A2"]["assessment"]["versions"]["knowledge_base"] == engine.versions.knowledge_base
    assert by["A2"]["assessment"]["her2"]["status"] == by_id(slim)["A2"]["her2_status"]
    assert "'5+'" in by["A7"]["error"] and "'two point one'" in by["A8"]["error"]
