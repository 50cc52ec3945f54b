"""A progress bar for ``her2cds assess --batch`` on stderr, only when stderr is a terminal (silent in a pipe,
a file or CI logs). No patient data: it shows counts and a rate only."""

from __future__ import annotations

import time
from typing import IO

__all__ = ["Progress", "progress_for"]

_WIDTH = 30
_EVERY = 0.2  # seconds between redraws


class Progress:
    def __init__(self, stream: IO[str], total: int | None) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self.last = 0.0

    def step(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        now = time.monotonic()
        if now - self.last >= _EVERY:
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        failed = f", {self.failed} invalid" if self.failed else ""
        if self.total:
            filled = min(_WIDTH, _WIDTH * self.done // self.total)
            bar = f"[{'#' * filled}{'.' * (_WIDTH - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done} cases"
        self.stream.write(f"\r{bar} ({rate:,.0f}/s{failed})\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    count, last = 0, b"\n"
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return None
    return count + (last != b"\n")  # a last line without a newline is a line too


def progress_for(stream: IO[str], path: str) -> Progress | None:
    """A progress bar when ``stream`` is a terminal, else None (nothing is written)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return Progress(stream, _count_lines(path)) if tty else None
