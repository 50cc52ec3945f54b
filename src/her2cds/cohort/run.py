"""One cohort run: sources -> engine -> slim writer (+ report), chunk by chunk with bounded memory."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import polars as pl

from her2cds.cohort.local import LocalEngine, Stats, patient_hashes, repeated
from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.sources import open_sources
from her2cds.cohort.writers import SlimWriter, output_format
from her2cds.cores import available_cores
from her2cds.engine import Engine, default_engine

DEFAULT_CHUNK_ROWS = 250_000
_MIN_HALF_ROWS = 50_000  # a last chunk of fewer than twice this many rows is not split


@dataclass(frozen=True)
class Options:
    inputs: Sequence[str]
    fmt: str
    out: Path
    mapping: TableMapping | None = None
    report: Path | None = None
    engine: str = "local"
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    progress: IO[str] | None = None
    spark_master: str = "local[2]"
    criteria: str = "current"
    full: Path | None = None  # also every patient's whole assessment, JSON Lines (per-case engine speed)
    processes: int | None = None  # processes for the engine calls of new keys (None: the cores available)


class Progress:
    """A one-line progress display on a terminal (nothing otherwise)."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream if stream is not None and stream.isatty() else None
        self.start = time.perf_counter()

    def update(self, rows: int) -> None:
        if self.stream is not None:
            rate = rows / max(time.perf_counter() - self.start, 1e-9)
            self.stream.write(f"\rcohort: {rows:,} rows ({rate:,.0f} rows/s)")
            self.stream.flush()

    def done(self) -> None:
        if self.stream is not None:
            self.stream.write("\n")


def grouped_patients(frame: pl.LazyFrame) -> pl.Series:
    """Hashes of the patient keys with more than one row (a streaming pass over the id columns only).

    Hashes keep the pass small for tens of millions of rows; a collision only sends a one-row patient through
    the per-case path, which answers it the same way."""
    if "patient_id" not in frame.collect_schema():
        return pl.Series("h", [], dtype=pl.UInt64)
    return repeated(patient_hashes(frame).collect(engine="streaming").get_column("h"))


def chunks(frame: pl.LazyFrame, chunk_rows: int) -> Iterator[tuple[pl.DataFrame, pl.Series]]:
    """The chunks of ``frame``, each with :func:`grouped_patients` of the whole frame. The pre-pass runs on a
    thread while the first chunk is read (polars works without the interpreter lock: the two passes share the
    cores instead of one waiting for the other)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="her2cds-prepass") as pool:
        pending = pool.submit(grouped_patients, frame)
        batches = iter(frame.collect_batches(chunk_size=chunk_rows))
        batch = next(batches, None)
        grouped = pending.result()
        if batch is None:
            return
        yield batch, grouped  # (the first chunk at once: it is never the last of several)
        batch = next(batches, None)
        while batch is not None:
            following = next(batches, None)  # (read ahead while the previous chunk was evaluated)
            if following is None and batch.height >= 2 * _MIN_HALF_ROWS:
                # the last chunk in two halves: the first half is encoded while the second is evaluated, so that
                # what is left at the end (encoding what was evaluated last) is half a chunk
                half = batch.height // 2
                yield batch.slice(0, half), grouped
                batch = batch.slice(half)
            yield batch, grouped
            batch = following


def extra_columns(options: Options) -> tuple[str, ...]:
    return () if options.criteria == "current" else ("criteria_status",)


def versions(engine: Engine) -> dict[str, str]:
    v = engine.versions
    return {"engine": v.engine, "knowledge_base": v.knowledge_base, "as_of": v.as_of.isoformat(),
            "oncotree": v.oncotree}


def run(options: Options, engine: Engine | None = None) -> Stats:
    output_format(options.out)  # an unusable --out is refused before anything is read
    return _run(options, engine or default_engine())


def _run(options: Options, engine: Engine) -> Stats:
    if options.criteria != "current":  # refuse unusable criteria before reading anything
        from her2cds.cohort.criteria import criteria_expr

        criteria_expr(engine.ck, options.criteria)
    sources = open_sources(options.inputs, options.fmt, options.mapping)
    if options.full is not None:
        from her2cds.cohort.full import write_full

        write_full(sources, options.full, engine, options.chunk_rows, grouped_patients)
    if options.engine == "spark":
        from her2cds.cohort.spark import run_spark

        return run_spark(sources, options, engine)
    local = LocalEngine(engine, options.criteria, options.processes or available_cores())
    progress = Progress(options.progress)
    try:
        local.calls.start()  # (before the run's other threads start and before its memory grows)
        with SlimWriter(options.out, versions(engine), extra_columns(options)) as writer:
            for source in sources:
                for batch, grouped in chunks(source.frame, options.chunk_rows):
                    writer.write(local.evaluate(batch, grouped))
                    progress.update(local.stats.rows)
            writer.write(local.finish())
    finally:
        local.close()
    progress.done()
    if options.report is not None:
        from her2cds.cohort.report import write_report

        write_report(options.out, options.report, local.stats, versions(engine))
    return local.stats


def default_progress() -> IO[str]:
    return sys.stderr
