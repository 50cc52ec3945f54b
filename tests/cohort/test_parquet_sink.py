"""The Parquet output (writers.ParquetSink, docs/decisions.md D12w.1): polars' streaming sink fed chunk by chunk
from a thread; plain string columns for every reader; order, bounded hand-over, errors never lost; no pyarrow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from her2cds.cohort import writers
from her2cds.cohort.columns import SLIM_COLUMNS
from her2cds.cohort.local import ANSWER_SCHEMA, answers_frame
from her2cds.cohort.slim import SlimAnswer, error_answer
from her2cds.cohort.writers import ParquetSink, SlimWriter, plain
from her2cds.errors import UsageError

_VERSIONS = {"engine": "9.9.9", "knowledge_base": "kb-test", "as_of": "2026-01-02"}


def _answer(i: int) -> SlimAnswer:
    answer = error_answer("BRCA" if i % 2 else "STAD", f"problem {i % 4}", "kb-1")
    answer.update(error=None if i % 3 else answer["error"], her2_status=["positive", "negative", None][i % 3],
                  ihc_score=None if i % 5 == 0 else "2+",
                  ish_group=None if i % 2 else i % 5 + 1, erbb2_amplified=[True, False, None][i % 3],
                  flags=[] if i % 4 else ["ihc-ish-discordant"], needs=[f"need-{j}" for j in range(i % 7)],
                  eligible_therapies=["trastuzumab", "T-DXd"][: i % 3])
    return answer


def _frame(start: int, n: int) -> pl.DataFrame:
    rows = range(start, start + n)
    return answers_frame([f"P{i}" for i in rows], [_answer(i) for i in rows], list(rows))


def test_every_reader_gets_plain_strings_and_the_values_written(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with SlimWriter(out, _VERSIONS) as writer:
        for start in range(0, 90, 30):
            writer.write(_frame(start, 30))
    expected = pl.concat([_frame(s, 30) for s in range(0, 90, 30)]).select(SLIM_COLUMNS)
    assert dict(expected.schema)["needs"] == pl.List(pl.Categorical())  # (categorical in memory)
    back = pl.read_parquet(out)
    assert back.schema == pl.Schema({name: plain(dtype) for name, dtype in ANSWER_SCHEMA.items()})
    assert back.schema["tumor"] == pl.String and back.schema["needs"] == pl.List(pl.String)
    assert back.equals(expected.cast(back.schema))
    arrow = pq.ParquetFile(out)
    for field in arrow.schema_arrow:  # no dictionary (categorical) type at any depth
        assert not pa.types.is_dictionary(field.type), field
        if pa.types.is_large_list(field.type) or pa.types.is_list(field.type):
            assert pa.types.is_large_string(field.type.value_type) or pa.types.is_string(field.type.value_type)
    assert pa.types.is_large_string(arrow.schema_arrow.field("her2_status").type)
    frame = pd.read_parquet(out)
    assert all(str(dtype) != "category" for dtype in frame.dtypes), frame.dtypes
    assert list(frame["needs"].iloc[6]) == [f"need-{j}" for j in range(6)]
    meta = arrow.metadata
    assert {k: meta.metadata[f"her2cds.{k}".encode()].decode() for k in _VERSIONS} == _VERSIONS
    encodings = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i).encodings
                 for i in range(meta.num_columns)}  # the words stay dictionary-encoded in the file
    assert "RLE_DICTIONARY" in encodings["tumor"] and "RLE_DICTIONARY" in encodings["needs.list.element"]


def test_many_chunks_keep_their_order(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with SlimWriter(out, _VERSIONS) as writer:
        for start in range(0, 600, 10):
            writer.write(_frame(start, 10))
    assert writer.rows == 600
    assert pl.read_parquet(out).get_column("id").to_list() == [f"P{i}" for i in range(600)]


def test_a_chunk_of_another_type_is_cast_to_the_files(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with SlimWriter(out, _VERSIONS, ("criteria_status",)) as writer:
        writer.write(_frame(0, 3).with_columns(criteria_status=pl.lit("positive")))
        writer.write(_frame(3, 3).with_columns(criteria_status=pl.lit(None)))  # (type null)
    back = pl.read_parquet(out)
    assert back.schema["criteria_status"] == pl.String
    assert back.get_column("criteria_status").to_list() == ["positive"] * 3 + [None] * 3


def test_no_rows_still_give_the_columns(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with SlimWriter(out, _VERSIONS, ("criteria_status",)):
        pass
    back = pl.read_parquet(out)
    assert back.height == 0 and back.columns == [*SLIM_COLUMNS, "criteria_status"]
    assert back.schema["needs"] == pl.List(pl.String) and back.schema["criteria_status"] == pl.String


def test_a_slow_file_holds_back_the_run_after_two_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the run may be at most _IN_FLIGHT chunks ahead of the file: memory stays bounded whatever the disk's pace
    go = threading.Event()
    frames = ParquetSink._frames

    def held(self: ParquetSink, *args: object) -> Iterator[pl.DataFrame]:
        go.wait(10)
        yield from frames(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ParquetSink, "_frames", held)
    sink = ParquetSink(tmp_path / "out.parquet", _frame(0, 1).schema, {})
    handed: list[int] = []

    def run() -> None:
        for i in range(writers._IN_FLIGHT + 2):
            sink.put(_frame(i, 1))
            handed.append(i)

    runner = threading.Thread(target=run)
    runner.start()
    try:
        runner.join(0.5)
        assert handed == list(range(writers._IN_FLIGHT))  # waiting for room
    finally:
        go.set()
        runner.join(10)
        sink.close()
    assert handed == list(range(writers._IN_FLIGHT + 2))
    assert pl.read_parquet(tmp_path / "out.parquet").get_column("id").to_list() == [f"P{i}" for i in range(4)]


def _write_ten(writer: SlimWriter) -> None:
    with writer:
        for start in range(0, 100, 10):
            writer.write(_frame(start, 10))


def test_an_unwritable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    writer = SlimWriter(folder / "out.parquet", _VERSIONS)
    folder.joinpath("out.parquet").unlink()
    folder.rmdir()  # (the folder goes after the writer checked it)
    with pytest.raises(UsageError, match=r"cannot write .*out\.parquet"):  # not a hang: the run is not left waiting
        _write_ten(writer)


def test_an_error_while_writing_is_raised_not_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = pl.LazyFrame.sink_parquet

    def failing(self: pl.LazyFrame, path: Any, **kwargs: Any) -> None:
        if not isinstance(path, Path):  # (the schema's file in memory)
            return sink(self, path, **kwargs)  # type: ignore[no-any-return]
        self.head(15).collect()  # takes some chunks, then the disk is full
        raise OSError("disk full")

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", failing)
    with pytest.raises(UsageError, match="disk full"):
        _write_ten(SlimWriter(tmp_path / "out.parquet", _VERSIONS))


_RUN = """
import json, sys
from pathlib import Path
from typing import Any
import polars as pl
from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.run import Options, run
folder = Path(sys.argv[1])
pl.DataFrame({"pid": [f"P{i}" for i in range(3000)], "code": ["IDC", "STAD", "COAD"] * 1000,
              "ihc": ["0", "1+", "2+", "3+", None, "2+"] * 500}).write_csv(folder / "rows.csv")
mapping = TableMapping(columns={"patient_id": "pid", "oncotree_code": "code", "ihc_score": "ihc"},
                       constants={"setting": "metastatic"})
stats = run(Options(inputs=[str(folder / "rows.csv")], fmt="table", out=folder / "out.parquet", mapping=mapping,
                    chunk_rows=500))
print(json.dumps({"rows": stats.rows,
                  "imported": sorted(m for m in ("pyarrow", "numpy", "pandas") if m in sys.modules)}))
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_parquet_run_imports_neither_pyarrow_nor_numpy_and_needs_no_spare_polars_thread(threads: str,
                                                                                          tmp_path: Path) -> None:
    # (with one polars thread: the sink's source waits for chunks without holding a thread the run needs)
    env = {**os.environ, "POLARS_MAX_THREADS": threads}
    done = subprocess.run([sys.executable, "-c", _RUN, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=120, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"rows": 3000, "imported": []}  # (numpy's import alone costs a run 0.1-0.2 CPU s)
    back = pl.read_parquet(tmp_path / "out.parquet")
    assert back.get_column("id").to_list() == [f"P{i}" for i in range(3000)]
