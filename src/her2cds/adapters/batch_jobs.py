"""``her2cds assess --batch --jobs N``: JSON Lines answered by N worker processes, written in input order (D14.12).

The parent reads the lines, hands them to the workers in chunks of :data:`CHUNK` lines and writes the answers in
input order, each line whole (one write, then a flush), as the sequential batch does; at most ``2 N`` chunks are
in flight, so memory stays flat on any input size. A worker answers each line exactly as the sequential batch does
(:func:`her2cds.adapters.cli.batch_line_result`: one answer per line, an error record for a bad one). If a worker
dies (killed, out of memory), the lines it held and every later line are answered in the parent: no line is lost.
Workers are forked from the parent after the knowledge base is loaded and frozen (they share its pages) and exit
when the parent goes away. ``--jobs 1`` (the default) runs the sequential loop; ``--jobs 0`` starts one worker
per available core.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from her2cds.cores import available_cores

if TYPE_CHECKING:
    from concurrent.futures import Future

    from her2cds.adapters.line_out import LineOut

#: lines per task handed to a worker (about 10 ms of work: pickling and scheduling costs vanish against it)
CHUNK = 32

Numbered = tuple[int, bytes | str]  # (line number, the line without its end)


def jobs_option(text: str) -> int:
    """``--jobs N``: a whole number, 0 or more."""
    try:
        jobs = int(text)
    except ValueError:
        jobs = -1
    if jobs < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of worker processes (0: one per core), got {text!r}")
    return jobs


def jobs_wanted(jobs: int) -> int:
    """The worker count for ``--jobs`` (0: one per core this process may run on)."""
    return jobs or available_cores()


def batch_assessor(engine: Any, criteria: str | None, region: str | None) -> Any:
    """The assessor every batch line goes through: the engine, re-reading under ``criteria`` and defaulting to
    ``region`` when given."""
    if criteria is not None:
        from her2cds.adapters.cli_criteria import CriteriaEngine

        engine = CriteriaEngine(engine, criteria)
    if region is not None:
        from her2cds.adapters.region import RegionalAssessor

        engine = RegionalAssessor(engine, region)  # type: ignore[arg-type]
    return engine


@functools.cache
def _worker_assessor(criteria: str | None, region: str | None) -> Any:
    """One assessor per worker process (forked: the parent's engine, already built, is inherited)."""
    from her2cds.engine import default_engine

    return batch_assessor(default_engine(), criteria, region)


def _watch_parent(parent: int) -> None:
    """Exit the worker when the parent is gone (killed): its queue would never tell it."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _start_worker(parent: int) -> None:
    # the parent's stop handler (line_out) is not the worker's: SIGTERM ends a worker (the pool terminates its
    # workers that way), and Ctrl-C, which reaches the whole process group, is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="her2cds-parent-watch").start()


def _answer(criteria: str | None, region: str | None, shape: Any, chunk: list[Numbered]) -> list[tuple[str, bool]]:
    """A worker's task: each line of ``chunk`` answered (never raises for a bad line)."""
    from her2cds.adapters.cli import batch_line_result

    assessor = _worker_assessor(criteria, region)
    return [batch_line_result(assessor, number, line, shape) for number, line in chunk]


def _chunks(lines: Iterable[Numbered]) -> Iterator[list[Numbered]]:
    chunk: list[Numbered] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parallel_batch(lines: Iterable[Numbered], out: LineOut, *, assessor: Any, criteria: str | None,
                   region: str | None, shape: Any, jobs: int) -> int:
    """Answer ``lines`` with ``jobs`` worker processes; returns the number of lines answered with an error.
    ``assessor`` (the parent's) answers in place what a dead worker left."""
    import multiprocessing  # here: the sequential batch does not pay for these imports
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from her2cds.adapters.cli import batch_line_result

    failures = 0
    window: deque[tuple[Future[list[tuple[str, bool]]] | None, list[Numbered]]] = deque()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool: ProcessPoolExecutor | None = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                                                           initargs=(os.getpid(),))

    def write_next() -> None:
        nonlocal failures, pool
        future, chunk = window.popleft()
        answers: list[tuple[str, bool]] | None = None
        if future is not None:
            try:
                answers = future.result()
            except BrokenProcessPool:  # a worker died: this chunk and the rest are answered here
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                pool = None
        if answers is None:
            answers = [batch_line_result(assessor, number, line, shape) for number, line in chunk]
        for text, ok in answers:
            failures += not out.write(text, ok)

    try:
        for chunk in _chunks(lines):
            submitted: Future[list[tuple[str, bool]]] | None = None
            if pool is not None:
                try:
                    submitted = pool.submit(_answer, criteria, region, shape, chunk)
                except BrokenProcessPool:
                    pool = None
            window.append((submitted, chunk))
            if len(window) >= 2 * jobs:
                write_next()
        while window:
            write_next()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return failures
