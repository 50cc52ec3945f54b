"""Reading around the engine calls: text columns of few distinct values parsed once per value (readers/table.py),
the patient pre-pass beside the first chunk (run.chunks). The Parquet writer: test_parquet_sink.py."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.readers import table
from her2cds.cohort.run import chunks, grouped_patients

_WORDS = ["2+", " 2+", "3+ ", "0", "1+", "NA", " n/a ", "Unknown", "[Not Available]", "", "  ", "weird", "POS",
          "pos ", "Negative", "yes", "No", "amplified", "1,5", "2.25", " 7 ", "x1", "İ", "K", "–"]


def _messy(n: int, seed: int) -> pl.DataFrame:
    """Text columns of few distinct values (spaces, cases, missing words, words of a value dictionary, bad
    values) beside unique ids, a numeric column and nulls."""
    rng = random.Random(seed)

    def pick() -> str | None:
        return None if rng.random() < 0.1 else rng.choice(_WORDS)

    return pl.DataFrame({
        "pid": [f" P{i % (n - 7)} " if i % 11 else None for i in range(n)],  # a few repeated patients
        "code": [rng.choice(["IDC", " ilc", "BRCA ", "NA", "", None, "STAD"]) for _ in range(n)],
        "ihc": [pick() for _ in range(n)],
        "hr": [pick() for _ in range(n)],
        "amp": [pick() for _ in range(n)],
        "ratio": [pick() for _ in range(n)],
        "cells": [pick() for _ in range(n)],
        "cn": [rng.choice([None, 1.5, 7.0, float("nan")]) for _ in range(n)],
    }, schema={"pid": pl.String, "code": pl.String, "ihc": pl.String, "hr": pl.String, "amp": pl.String,
               "ratio": pl.String, "cells": pl.String, "cn": pl.Float64})


_MAPPING = TableMapping(
    columns={"patient_id": "pid", "oncotree_code": "code", "ihc_score": "ihc", "hormone_receptor": "hr",
             "ngs_erbb2_amplified": "amp", "ish_ratio": "ratio", "ish_cells_counted": "cells",
             "ngs_erbb2_copy_number": "cn", "ihc_result": "ihc"},  # one source column read as two
    constants={"setting": "metastatic"},
    values={"hormone_receptor": {"pos": "positive", "Negative": "negative", "weird": None},
            "ihc_score": {"POS": "3+"}},
    scale={"ish_ratio": 1.0},
)


def _read(frame: pl.LazyFrame, few: int, monkeypatch: pytest.MonkeyPatch) -> pl.DataFrame:
    monkeypatch.setattr(table, "_FEW_VALUES", few)
    return table.canonical(frame, _MAPPING, "messy.csv").collect()


@pytest.mark.parametrize("kind", ["memory", "csv", "parquet"])
def test_parsing_once_per_value_equals_parsing_each_row(kind: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _messy(3_000, seed=12)
    if kind == "memory":
        frame = raw.lazy()
    elif kind == "csv":
        path = tmp_path / "messy.csv"
        raw.write_csv(path)
        frame = table.scan(path, _MAPPING)
    else:
        path = tmp_path / "messy.parquet"
        raw.write_parquet(path, row_group_size=700)
        frame = table.scan(path, _MAPPING)
    each_row = _read(frame, -1, monkeypatch)
    once = _read(frame, 10**9, monkeypatch)
    assert "python_udf" in table.canonical(frame, _MAPPING, "messy.csv").explain()  # the per-value path ran
    assert once.schema == each_row.schema
    assert once.equals(each_row)
    # what it read is not trivial: values, nulls for missing words and errors naming column and value
    assert each_row.get_column("read_error").drop_nulls().str.contains("column ratio: 'x1' is not a number").any()
    assert each_row.get_column("read_error").drop_nulls().str.contains("column cells: '2.25' is not a whole").any()
    assert set(each_row.get_column("hormone_receptor").drop_nulls()) >= {"positive", "negative"}
    assert "weird" not in set(each_row.get_column("hormone_receptor").drop_nulls())
    assert each_row.get_column("oncotree_code").null_count() > 0
    assert set(each_row.get_column("ngs_erbb2_amplified").drop_nulls()) == {True, False}
    # in chunks of the streaming engine (several calls of the per-value parser) the same rows
    monkeypatch.setattr(table, "_FEW_VALUES", 10**9)
    batches = list(table.canonical(frame, _MAPPING, "messy.csv").collect_batches(chunk_size=500))
    assert len(batches) > 1
    assert pl.concat(batches).equals(each_row)


def test_only_columns_of_few_values_are_parsed_once_per_value() -> None:
    raw = _messy(3_000, seed=13)
    assert table._few_values(raw.lazy(), ["pid", "code", "ihc", "hr"]) == {"code", "ihc", "hr"}
    assert table._few_values(raw.lazy(), []) == set()
    # a column of many values later than the first rows is still read right (only slower)
    late = pl.DataFrame({"code": ["IDC"] * 2_100 + [f" c{i} " for i in range(900)]})
    mapping = TableMapping(columns={"oncotree_code": "code"})
    assert table._few_values(late.lazy(), ["code"]) == {"code"}
    read = table.canonical(late.lazy(), mapping, "late").collect().get_column("oncotree_code")
    assert read.to_list() == ["IDC"] * 2_100 + [f"c{i}" for i in range(900)]


def test_all_null_and_empty_text_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pl.DataFrame({"pid": ["a", "b"], "code": [None, None]}, schema={"pid": pl.String, "code": pl.String})
    mapping = TableMapping(columns={"patient_id": "pid", "oncotree_code": "code"})
    monkeypatch.setattr(table, "_FEW_VALUES", 10**9)
    read = table.canonical(frame.lazy(), mapping, "x").collect()
    assert read.get_column("oncotree_code").to_list() == [None, None]
    assert read.get_column("read_error").to_list() == [None, None]
    assert table.canonical(frame.head(0).lazy(), mapping, "x").collect().height == 0


def test_chunks_come_with_the_patients_of_several_rows_of_the_whole_frame() -> None:
    raw = _messy(3_000, seed=14)
    frame = table.canonical(raw.lazy(), _MAPPING, "messy.csv")
    got = list(chunks(frame, 700))
    assert len(got) > 2
    assert pl.concat([batch for batch, _ in got]).equals(frame.collect())
    expected = sorted(grouped_patients(frame).to_list())
    assert expected  # the frame has repeated patients
    for _, grouped in got:
        assert sorted(grouped.to_list()) == expected
    assert list(chunks(frame.head(0), 700)) == []


def test_the_last_chunk_comes_in_two_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = table.canonical(_messy(3_000, seed=15).lazy(), _MAPPING, "messy.csv")
    monkeypatch.setattr("her2cds.cohort.run._MIN_HALF_ROWS", 100)
    heights = [batch.height for batch, _ in chunks(frame, 1_000)]
    assert sum(heights) == 3_000 and len(heights) == 4 and heights[-2:] == [500, 500]
    assert pl.concat([batch for batch, _ in chunks(frame, 1_000)]).equals(frame.collect())
    monkeypatch.setattr("her2cds.cohort.run._MIN_HALF_ROWS", 600)  # a last chunk too small to split
    assert [batch.height for batch, _ in chunks(frame, 1_000)] == [1_000, 1_000, 1_000]
    monkeypatch.setattr("her2cds.cohort.run._MIN_HALF_ROWS", 100)  # a single chunk is not split
    assert [batch.height for batch, _ in chunks(frame, 5_000)] == [3_000]


def test_a_failing_pre_pass_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(frame: pl.LazyFrame) -> pl.Series:
        raise RuntimeError("pre-pass failed")

    monkeypatch.setattr("her2cds.cohort.run.grouped_patients", fail)
    with pytest.raises(RuntimeError, match="pre-pass failed"):
        list(chunks(pl.DataFrame({"patient_id": ["a"]}).lazy(), 10))
