"""Slim output writers that append chunk by chunk: Parquet (with version metadata), CSV, TSV, JSON Lines."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import polars as pl

from her2cds.cohort.columns import LIST_SEPARATOR, SLIM_COLUMNS, SLIM_LIST_COLUMNS
from her2cds.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = (".parquet", ".csv", ".tsv", ".jsonl")
_IN_FLIGHT = 2  # chunks handed to the Parquet writer's thread and not yet written


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
        self._parquet: Any = None
        self._thread: ThreadPoolExecutor | None = None  # Parquet encoding (pyarrow releases the interpreter lock)
        self._pending: list[Future[None]] = []  # the writer's tasks not yet waited for, oldest first
        self._chunks = 0  # frames handed to the Parquet writer
        self._text: IO[bytes] | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._text = path.open("wb")
            if self.kind == ".parquet":  # (opened here to refuse an unwritable path at once; pyarrow reopens it)
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
            self._write_parquet(frame)
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

    def _write_parquet(self, frame: pl.DataFrame) -> None:
        # at most _IN_FLIGHT chunks wait for the writer's thread (or are being encoded): the run goes on evaluating
        # while a slow encoding (the first one is) catches up, and holds only that many chunks of answers
        # the chunk to Arrow on the run's thread: after the first chunk the writer's thread sets the pace (the run
        # ends waiting for it), so it only encodes
        table = frame.to_arrow()
        while len(self._pending) >= _IN_FLIGHT:
            self._pending.pop(0).result()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="her2cds-parquet")
        self._chunks += 1
        self._pending.append(self._thread.submit(self._encode, frame, table))

    def _encode(self, frame: pl.DataFrame, table: pa.Table) -> None:
        """On the writer's thread: ``frame`` (as the Arrow ``table``) to Parquet; the file is started with the
        first chunk's schema."""
        import pyarrow.parquet as pq

        if self._parquet is None:
            flat = [name for name, dtype in frame.schema.items() if not isinstance(dtype, pl.List)]
            try:  # answers are dictionary-encoded (categorical) in memory and plain strings in the file; no
                # statistics for list columns (min/max of lists cost more than the rest of the write)
                self._parquet = pq.ParquetWriter(str(self.path), table.schema, store_schema=False,
                                                 write_statistics=flat, use_dictionary=_dictionary_columns(frame))
                self._parquet.add_key_value_metadata({f"her2cds.{k}": v for k, v in self.versions.items()})
            except OSError as exc:
                raise UsageError(f"cannot write {self.path}: {exc}") from None
        elif table.schema != self._parquet.schema:  # (a cast imports pyarrow.compute: only when needed)
            table = table.cast(self._parquet.schema)
        self._parquet.write_table(table)

    def close(self) -> None:
        if self.kind == ".parquet" and self._chunks == 0:  # no rows: still a valid file with the columns
            from her2cds.cohort.local import answers_frame

            empty = answers_frame([], [], []).with_columns(pl.lit(None, dtype=pl.String).alias(c)
                                                         for c in self.columns if c not in SLIM_COLUMNS)
            self._write_parquet(empty.select(self.columns))
        pending, self._pending = self._pending, []
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        for task in pending:
            task.result()  # (raises what the encoding raised)
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._text is not None:
            if self.rows == 0 and self.kind in (".csv", ".tsv"):
                self._text.write(("\t" if self.kind == ".tsv" else ",").join(self.columns).encode() + b"\n")
            self._text.close()
            self._text = None


_UNIQUE = ("id",)  # a value per row: a dictionary would only be built and dropped (pyarrow falls back to plain)


def _dictionary_columns(frame: pl.DataFrame) -> list[str]:
    """The Parquet columns (leaf paths) to dictionary-encode: all but those of a value per row."""
    return [f"{name}.list.element" if isinstance(dtype, pl.List) else name for name, dtype in frame.schema.items()
            if name not in _UNIQUE]


def import_parquet() -> None:
    import pyarrow.parquet  # noqa: F401
