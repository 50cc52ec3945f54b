"""Slim output writers that append chunk by chunk: Parquet (with version metadata), CSV, TSV, JSON Lines."""

from __future__ import annotations

import io
import queue
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO

import polars as pl

from her2cds.cohort.columns import LIST_SEPARATOR, SLIM_COLUMNS, SLIM_LIST_COLUMNS
from her2cds.errors import UsageError

FORMATS = (".parquet", ".csv", ".tsv", ".jsonl")
_IN_FLIGHT = 2  # chunks handed to the Parquet writer and not yet taken by it
_POLL_SECONDS = 0.05  # how often a chunk waiting for room checks that the Parquet writer is still running


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"--out must end in one of {', '.join(FORMATS)}: {path}")
    return suffix


class SlimWriter:
    """Writes slim frames to one file; ``versions`` go into the Parquet metadata (every row has kb_version)."""

    def __init__(self, path: Path, versions: dict[str, str], extra: tuple[str, ...] = ()) -> None:
        self.path = path
        self.columns = (*SLIM_COLUMNS, *extra)
        self.kind = output_format(path)
        self.versions = versions
        self.rows = 0
        self._sink: ParquetSink | None = None
        self._text: IO[bytes] | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._text = path.open("wb")
            if self.kind == ".parquet":  # (opened here to refuse an unwritable path at once; polars reopens it)
                self._text.close()
                self._text = None
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None

    def __enter__(self) -> SlimWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def write(self, frame: pl.DataFrame) -> None:
        frame = frame.select(self.columns)
        if self.kind == ".parquet":
            if self._sink is None:  # the file's schema is the first chunk's
                self._sink = ParquetSink(self.path, frame.schema,
                                         {f"her2cds.{k}": v for k, v in self.versions.items()})
            self._sink.put(frame)
        else:
            assert self._text is not None
            if self.kind == ".jsonl":
                frame.write_ndjson(self._text)
            else:
                flat = frame.with_columns(  # an empty list is an empty cell
                    pl.when(pl.col(c).list.len() > 0).then(pl.col(c).cast(pl.List(pl.String()))
                                                            .list.join(LIST_SEPARATOR)).otherwise(None)
                    for c in SLIM_LIST_COLUMNS
                )
                flat.write_csv(self._text, separator="\t" if self.kind == ".tsv" else ",",
                               include_header=self.rows == 0)
        self.rows += frame.height

    def close(self) -> None:
        if self.kind == ".parquet" and self._sink is None:  # no rows: still a valid file with the columns
            from her2cds.cohort.local import answers_frame

            empty = answers_frame([], [], []).with_columns(pl.lit(None, dtype=pl.String).alias(c)
                                                         for c in self.columns if c not in SLIM_COLUMNS)
            self.write(empty)
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.close()
        if self._text is not None:
            if self.rows == 0 and self.kind in (".csv", ".tsv"):
                self._text.write(("\t" if self.kind == ".tsv" else ",").join(self.columns).encode() + b"\n")
            self._text.close()
            self._text = None


class ParquetSink:
    """Frames of one schema appended to one Parquet file by polars' streaming Parquet sink, on a thread of its own
    (docs/decisions.md D12w.1): :meth:`put` hands a frame over (waiting while ``_IN_FLIGHT`` frames wait already),
    :meth:`close` ends the file. An error of the sink is raised by a later :meth:`put` or by :meth:`close`.

    The answers' words are categorical in memory (a few hundred distinct values for millions of rows); the file holds
    them as dictionary-encoded plain strings: its Arrow schema (the footer's ``ARROW:schema``, which Arrow readers
    restore types from) is that of the plain types, so that pyarrow, pandas and polars read strings, as the CSV and
    JSON Lines outputs hold."""

    def __init__(self, path: Path, schema: pl.Schema, metadata: dict[str, str]) -> None:
        self.path = path
        self.schema = schema
        self._queue: queue.Queue[pl.DataFrame | None] = queue.Queue(maxsize=_IN_FLIGHT)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="her2cds-parquet")
        self._done: Future[None] = self._pool.submit(self._sink, {**metadata, **plain_arrow_schema(schema)})

    def put(self, frame: pl.DataFrame) -> None:
        if frame.schema != self.schema:  # (a chunk whose column has no value may carry another type)
            frame = frame.cast(self.schema)
        self._hand_over(frame)

    def close(self) -> None:
        try:
            self._hand_over(None)
            self._done.result()
        finally:
            self._pool.shutdown(wait=True)

    def _hand_over(self, item: pl.DataFrame | None) -> None:
        while True:
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                if self._done.done():  # the sink stopped: its error (it never stops before the end otherwise)
                    self._done.result()
                    raise RuntimeError("the Parquet writer stopped before the end of its input") from None

    def _frames(self, with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
                batch_size: int | None) -> Iterator[pl.DataFrame]:
        """The source polars' sink reads: the frames handed over, in order, until :meth:`close`."""
        while (frame := self._queue.get()) is not None:
            if with_columns is not None:
                frame = frame.select(with_columns)
            if predicate is not None:
                frame = frame.filter(predicate)
            yield frame

    def _sink(self, metadata: dict[str, str]) -> None:
        from polars.io.plugins import register_io_source

        source = register_io_source(self._frames, schema=self.schema)
        try:
            source.sink_parquet(self.path, compression="snappy", metadata=metadata)
        except OSError as exc:
            raise UsageError(f"cannot write {self.path}: {exc}") from None
        finally:  # (a sink that failed takes no more frames: those waiting are let go; later ones find it done)
            while not self._queue.empty():
                self._queue.get_nowait()


def plain(dtype: pl.DataType) -> pl.DataType:
    """``dtype`` with every categorical (at any depth of lists) a string."""
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.List):
        inner = dtype.inner
        return pl.List(plain(inner if isinstance(inner, pl.DataType) else inner()))
    return dtype


def plain_arrow_schema(schema: pl.Schema) -> dict[str, str]:
    """The Parquet footer's ``ARROW:schema`` entry for ``schema`` with plain strings for categoricals: polars' own
    serialization of it, read from an empty file written to memory."""
    buffer = io.BytesIO()
    pl.DataFrame(schema={name: plain(dtype) for name, dtype in schema.items()}).write_parquet(buffer)
    buffer.seek(0)
    return {"ARROW:schema": pl.read_parquet_metadata(buffer)["ARROW:schema"]}
