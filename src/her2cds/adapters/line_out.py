"""The output of ``assess --batch``: each answer written whole, even when the batch is stopped by a signal.

A line is written with one write and then flushed. A write into a full pipe can still be cut if the process
dies in the middle of it: a line longer than the pipe's atomic size (4 KB on Linux) is copied in parts while the
reader drains the pipe. ``SIGKILL`` cannot be caught, but ``SIGINT`` (Ctrl-C) and ``SIGTERM`` (``kill``) can:
while :class:`LineOut` is installed, such a signal that arrives during the write of a line is held until that
line is written and flushed; at any other moment (reading input, evaluating a case) it stops the batch at once.
Either way the batch stops with :class:`BatchInterrupted`, which the CLI turns into exit status 128 + signal.
"""

from __future__ import annotations

import io
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO, Any

#: the signals a batch stops on, whole lines first
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class BatchInterrupted(KeyboardInterrupt):
    """The batch was stopped by ``signum`` after its last whole line. A ``KeyboardInterrupt`` (not an
    ``Exception``), so that no per-line error handler answers it as the line's error."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class LineOut:
    """Writes batch answers whole (one write, then a flush) and counts them on the progress bar."""

    __slots__ = ("_fd", "_held", "_writing", "out", "progress")

    def __init__(self, out: IO[str], progress: Any = None) -> None:
        self.out = out
        self.progress = progress
        self._writing = False
        self._held: int | None = None
        try:
            self._fd: int | None = out.fileno()
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            self._fd = None  # an in-memory stream

    def _write_whole(self, text: str) -> None:
        """To a file descriptor: ``os.write`` until every byte is out (one call unless the pipe is full; a
        signal handled meanwhile does not lose the rest, as a text stream's buffered write can)."""
        if self._fd is None:
            self.out.write(text)
            self.out.flush()
            return
        self.out.flush()  # nothing of ours is buffered there; keep any foreign text in order
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(self._fd, data):]

    def write(self, text: str, ok: bool) -> bool:
        """Write one answer line; returns ``ok``. Raises :class:`BatchInterrupted` after the line when a stop
        signal arrived while it was being written."""
        self._writing = True
        try:
            self._write_whole(text + "\n")
        finally:
            self._writing = False
        if self.progress is not None:
            self.progress.step(ok)
        if self._held is not None:
            raise BatchInterrupted(self._held)
        return ok

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Signal handler: hold the stop while a line is being written (the write resumes and ends), else stop."""
        if self._writing:
            self._held = signum
            return
        raise BatchInterrupted(signum)

    @contextmanager
    def stopping_between_lines(self) -> Iterator[LineOut]:
        """Install :meth:`on_signal` for :data:`STOP_SIGNALS` (main thread only; elsewhere nothing changes) and
        restore the previous handlers afterwards."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.signal(signum, self.on_signal) for signum in STOP_SIGNALS}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
