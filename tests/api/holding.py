"""Engine workers that hold chosen assessments until the test releases them: no timing in the tests.

``HOLD`` patches ``her2cds.assess`` (in a worker process, or in the server for ``HER2CDS_ENGINE=thread``): a case
whose id starts with "hold" announces itself with a file ``started-<pid>-<n>`` in ``$TEST_GATE_DIR``, then waits
until a file ``release`` appears there (at most 30 s). ``WORKER`` is a worker process with that patch.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HOLD = """
import itertools, os, time
import her2cds
_real, _gate, _count = her2cds.assess, os.environ["TEST_GATE_DIR"], itertools.count()
def _held(case):
    if str(case.get("id", "")).startswith("hold"):
        open(os.path.join(_gate, f"started-{os.getpid()}-{next(_count)}"), "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(_gate, "release")) and time.monotonic() < deadline:
            time.sleep(0.01)
    return _real(case)
her2cds.assess = _held
"""
WORKER = "import sys\n" + HOLD + "from her2cds.adapters.api.worker import main\nraise SystemExit(main(sys.argv[1:]))\n"


def worker_command(level: str) -> list[str]:
    """A replacement of :func:`her2cds.adapters.api.procpool.worker_command`: holding workers."""
    return [sys.executable, "-c", WORKER, level]


def started(gate: Path, count: int = 1) -> list[int]:
    """Wait until ``count`` held assessments have started; the pids of the processes running them."""
    deadline = time.monotonic() + 60
    while len(marks := sorted(gate.glob("started-*"))) < count:
        assert time.monotonic() < deadline, "the held assessment never started"
        time.sleep(0.01)
    return [int(mark.name.split("-")[1]) for mark in marks]


def release(gate: Path) -> None:
    (gate / "release").touch()
