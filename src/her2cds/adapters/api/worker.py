"""An engine worker process of the service (``python -m her2cds.adapters.api.worker LOG_LEVEL``).

Started by :class:`her2cds.adapters.api.procpool.ProcessEngine`; talks to it over its standard input and
output: frames of a 4-byte big-endian length then a pickle. It loads the knowledge base once (from its
precompiled form), runs one example case, freezes the long-lived objects out of the garbage collector's reach,
answers ``READY``, then runs one job at a time: ``(job name, arguments, request id)`` in, the job's result out
(errors as :class:`~her2cds.adapters.api.jobs.Failure`, never a traceback). It exits when its input closes.
SIGINT and SIGTERM are ignored: the service drains its requests first, then closes the workers' input.
"""

from __future__ import annotations

import contextlib
import gc
import logging.config
import os
import pickle
import signal
import sys
from typing import IO

from her2cds.adapters.api.wire import READY, frame, read_frame


def serve(inbox: IO[bytes], outbox: IO[bytes]) -> int:
    from her2cds.adapters.api import jobs

    context = jobs.EngineContext.default()
    jobs.perform(jobs.warm_up, context, (), "warm-up")
    gc.collect()
    gc.freeze()  # the knowledge base and imported modules: never walked by a collection again
    outbox.write(frame(READY))
    outbox.flush()
    while (data := read_frame(inbox)) is not None:
        name, args, request_id = pickle.loads(data)
        job = jobs.JOBS[name]
        outbox.write(frame(jobs.perform(job, context, args, request_id)))
        outbox.flush()
    return 0


def batch_priority() -> None:
    """Linux: schedule this process as a batch (CPU-bound) job. Writing a job to a worker wakes it; an ordinary
    process woken that way preempts the writer, the service's event loop, which then waits with every other
    request behind it (measured: a fifth of the loop's wall time at saturation). A batch process waits for its
    turn instead. Its share of the CPU is unchanged. Elsewhere a no-op."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    batch_priority()
    from her2cds.adapters.api.server import log_config

    logging.config.dictConfig(log_config(args[0] if args else "info"))
    # the protocol owns the real standard output; anything printed goes to standard error
    outbox = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return serve(sys.stdin.buffer, outbox)


if __name__ == "__main__":
    raise SystemExit(main())
