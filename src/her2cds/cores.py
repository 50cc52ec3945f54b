"""How many CPU cores this process may run on: the default number of worker processes of the service, of
``assess --batch --jobs 0`` and of ``cohort run`` (``--processes``)."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
