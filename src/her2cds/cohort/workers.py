"""The per-case engine calls of one step of a cohort run, spread over several processes (docs/decisions.md D12.5).

New decision keys come in batches (the keys of a chunk not seen before: thousands in the first chunk of a
registry, a handful later). A batch is split into contiguous parts; each extra process (forked from the run's
process once, when first needed: it shares the loaded engine and knowledge base) evaluates one part while the
run's process evaluates the last, and the answers are put back in input order. The calls are the same and
deterministic, so the answers do not depend on the number of processes (the differential tests run both).
The workers run only the engine (plain Python), never polars.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import warnings
from collections.abc import Hashable, Sequence
from multiprocessing.connection import Connection
from typing import Any, Literal

from her2cds.cohort.cases import Row, case_from_rows
from her2cds.cohort.percase import answer_rows
from her2cds.cohort.slim import SlimAnswer
from her2cds.cohort.stages import signature, specimen_row
from her2cds.engine import Engine
from her2cds.errors import InternalError, InvalidInputError

Kind = Literal["answer", "signature"]
MIN_PER_PROCESS = 32  # smaller batches stay in the run's process (a part costs a few milliseconds to send)


def specimen_signature(engine: Engine, row: Row) -> Hashable | None:
    """The specimen stage's signature of ``row``'s specimen key (stages.signature); None: the stage rejected it."""
    try:
        stage = engine.specimen_stage(case_from_rows([specimen_row(row)]))
    except InvalidInputError:
        return None
    return signature(stage)


def _call(engine: Engine, kind: Kind, item: Any) -> Any:
    return answer_rows(engine, item) if kind == "answer" else specimen_signature(engine, item)


def _serve(engine: Engine, conn: Connection) -> None:
    """A worker: (kind, items) -> the results in order, until None."""
    gc.freeze()  # what it inherited stays out of its collections
    while True:
        job = conn.recv()
        if job is None:
            break
        kind, items = job
        try:
            conn.send(("ok", [_call(engine, kind, item) for item in items]))
        except Exception as exc:  # a bug in the engine: reported to the run's process, which raises it
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    conn.close()


class EngineCalls:
    """Evaluates batches of engine calls in ``processes`` processes (1: all in this one)."""

    def __init__(self, engine: Engine, processes: int = 1) -> None:
        self.engine = engine
        self.processes = max(1, processes)
        self._workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
        self.started = 0  # worker processes started

    def start(self) -> None:
        """Starts the extra processes now. A run calls this before it reads anything: forked while the run's
        process is small, a worker shares fewer pages with it, so neither copies them on the first write after the
        fork (measured at 1M rows: 0.1-0.4 s less wall time than forking at the first large batch)."""
        if self.processes > 1:
            self._start(self.processes - 1)

    def answers(self, patients: Sequence[Sequence[Row]]) -> list[SlimAnswer]:
        """The slim answer of each patient's rows (``percase.answer_rows``)."""
        return self._map("answer", patients)

    def signatures(self, rows: Sequence[Row]) -> list[Hashable | None]:
        """The specimen-stage signature of each row (None: rejected)."""
        return self._map("signature", rows)

    def _map(self, kind: Kind, items: Sequence[Any]) -> list[Any]:
        parts = min(self.processes, len(items) // MIN_PER_PROCESS)
        if parts < 2:
            return [_call(self.engine, kind, item) for item in items]
        workers = self._start(parts - 1)
        size = -(-len(items) // parts)
        bounds = [(i * size, min(len(items), (i + 1) * size)) for i in range(parts)]
        for (start, end), (_, conn) in zip(bounds, workers, strict=False):
            conn.send((kind, list(items[start:end])))
        start, end = bounds[-1]
        own = [_call(self.engine, kind, item) for item in items[start:end]]
        out: list[Any] = []
        for _, conn in workers:
            out.extend(_receive(conn))
        return out + own

    def _start(self, count: int) -> list[tuple[multiprocessing.process.BaseProcess, Connection]]:
        context = multiprocessing.get_context("fork")  # the loaded engine is shared, not loaded again
        while len(self._workers) < count:
            # the parent's objects out of the collector's view while forking, so that the worker's collections never
            # walk (and so copy) the pages of the parent's heap (Python's gc.freeze documentation)
            gc.freeze()
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(self.engine, child), daemon=True,
                                      name=f"her2cds-cohort-{len(self._workers) + 1}")
            try:
                with warnings.catch_warnings():  # Python >= 3.12 warns on any fork of a multi-threaded process
                    # (polars' threads): the worker never uses them (it runs only the engine)
                    warnings.filterwarnings("ignore", message=r".*multi-threaded.*fork", category=DeprecationWarning)
                    process.start()
            finally:
                gc.unfreeze()
            child.close()
            self._workers.append((process, parent))
            self.started += 1
        return self._workers[:count]

    def close(self) -> None:
        """Stops the workers (they are waited for, so that their CPU time counts as the run's)."""
        workers, self._workers = self._workers, []
        for process, conn in workers:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
            process.join()


def _receive(conn: Connection) -> list[Any]:
    try:
        status, value = conn.recv()
    except EOFError:
        raise InternalError("a cohort worker process ended unexpectedly") from None
    if status != "ok":
        raise InternalError(f"a cohort worker failed: {value}")
    result: list[Any] = value
    return result

