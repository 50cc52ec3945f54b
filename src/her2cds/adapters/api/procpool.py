"""The engine in worker processes (``HER2CDS_ENGINE=process``, the default of ``her2cds serve``).

Each worker is a child process (:mod:`her2cds.adapters.api.worker`) that runs one job at a time: the request
body's bytes in, the response bytes out. The service process keeps only the event loop: no engine thread
holds its interpreter lock, so ``/healthz``, shedding and routing stay fast however busy the workers are.

- Jobs wait, first come first served, for an idle worker; the admission limit bounds how many wait.
- A worker that dies (killed, out of memory) fails the request it was running with a 500 JSON error and is
  replaced; requests waiting meanwhile go to the other workers or to the replacement. When no worker can be
  started at all, waiting requests get 503.
- :meth:`ProcessEngine.aclose` (after the server has drained its requests) closes the workers' input: each
  finishes its job and exits; one still running after ``grace`` seconds is killed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import pickle
import sys
from typing import Any

from her2cds.adapters.api.errors import ServiceError
from her2cds.adapters.api.jobs import JOBS, EngineContext, Failure, Job
from her2cds.adapters.api.wire import LENGTH, READY, frame

log = logging.getLogger("her2cds.api")


def worker_command(log_level: str) -> list[str]:
    """The command line of a worker process."""
    return [sys.executable, "-m", "her2cds.adapters.api.worker", log_level]


class WorkerLostError(Exception):
    """The worker process ended while running a job."""


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.alive = True

    @property
    def pid(self) -> int:
        return self.process.pid

    async def receive(self) -> Any:
        stdout = self.process.stdout
        assert stdout is not None
        head = await stdout.readexactly(LENGTH.size)
        (length,) = LENGTH.unpack(head)
        return pickle.loads(await stdout.readexactly(length))

    async def exchange(self, data: bytes) -> Any:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(data)
        await stdin.drain()
        return await self.receive()


def failed(result: Any) -> Any:
    """``result``, or the :class:`ServiceError` of a :class:`Failure` raised (answered as its JSON envelope)."""
    if isinstance(result, Failure):
        error = result.error["error"]
        raise ServiceError(result.status, error["code"], error["message"], field=error.get("field"))
    return result


class ProcessEngine:
    """A fixed number of engine worker processes, started by :meth:`start` (or on first use)."""

    kind = "process"

    def __init__(self, workers: int, *, log_level: str = "warning", start_timeout: float = 120.0,
                 grace: float = 30.0) -> None:
        self.workers = workers
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.grace = grace
        self.replaced = 0  # workers started again after one was lost
        self._idle: list[_Worker] = []
        self._waiters: collections.deque[asyncio.Future[_Worker]] = collections.deque()
        self._all: set[_Worker] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._starting: asyncio.Task[None] | None = None
        self._closed = False
        self._broken: str | None = None  # why no worker can be started, when so

    @property
    def pids(self) -> list[int]:
        """The process ids of the live workers."""
        return sorted(worker.pid for worker in self._all if worker.alive)

    async def start(self) -> None:
        """Start every worker and wait until each has loaded the knowledge base (raises when one cannot)."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start_all())
        await asyncio.shield(self._starting)

    async def _start_all(self) -> None:
        started = await asyncio.gather(*(self._spawn() for _ in range(self.workers)), return_exceptions=True)
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _spawn(self) -> None:
        process = await asyncio.create_subprocess_exec(
            *worker_command(self.log_level), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        worker = _Worker(process)
        self._all.add(worker)
        try:
            hello = await asyncio.wait_for(worker.receive(), self.start_timeout)
            if hello != READY:
                raise WorkerLostError(f"unexpected greeting {hello!r}")
        except (OSError, asyncio.IncompleteReadError, TimeoutError, WorkerLostError, pickle.UnpicklingError) as exc:
            self._retire(worker)
            raise RuntimeError(f"an engine worker process did not start ({type(exc).__name__}); see its log above") \
                from None
        self._watch(worker)
        self._release(worker)

    def _watch(self, worker: _Worker) -> None:
        task = asyncio.ensure_future(self._await_exit(worker))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await_exit(self, worker: _Worker) -> None:
        code = await worker.process.wait()
        if worker.alive and not self._closed:
            log.error("engine worker process %d ended (exit status %s); starting another", worker.pid, code)
            self._lost(worker)

    def _retire(self, worker: _Worker) -> None:
        worker.alive = False
        self._all.discard(worker)
        if worker.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()

    def _lost(self, worker: _Worker) -> None:
        if not worker.alive:
            return
        self._retire(worker)
        if self._closed:
            return
        task = asyncio.ensure_future(self._replace())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replace(self) -> None:
        delay = 0.5
        for _ in range(5):
            try:
                await self._spawn()
            except RuntimeError as exc:
                log.error("%s", exc)
                await asyncio.sleep(delay)
                delay *= 2
            else:
                self.replaced += 1
                self._broken = None
                return
        if not any(worker.alive for worker in self._all):
            self._broken = "no engine worker process could be started"
            log.error("%s: requests are answered 503", self._broken)
            self._wake_waiters()

    def _unavailable(self) -> ServiceError:
        return ServiceError(503, "service_unavailable", "the engine is unavailable; retry later",
                            headers={"Retry-After": "5"})

    def _wake_waiters(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(self._unavailable())

    def _release(self, worker: _Worker) -> None:
        """Hand an idle worker to the longest-waiting job, or keep it idle."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    async def _acquire(self) -> _Worker:
        await self.start()
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
        if self._broken is not None:
            raise self._unavailable()
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())  # handed a worker just as the request was cancelled
            raise

    async def _run_on(self, worker: _Worker, data: bytes) -> Any:
        try:
            result = await worker.exchange(data)
        except (OSError, asyncio.IncompleteReadError, pickle.UnpicklingError) as exc:
            self._lost(worker)
            raise WorkerLostError(str(exc)) from None
        self._release(worker)
        return result

    async def call(self, job: Job, context: EngineContext | None, *args: Any, request_id: str = "-") -> Any:
        """``job(*args)`` on an idle worker process (``context`` is the worker's own); its result, or the
        :class:`ServiceError` of its failure."""
        if self._closed:
            raise ServiceError(503, "service_unavailable", "the service is shutting down", headers={"Retry-After": "5"})
        name = job.__name__
        if JOBS.get(name) is not job:
            raise ServiceError(500, "internal_error", f"{name} is not an engine job")
        data = frame((name, args, request_id))
        worker = await self._acquire()
        # shielded: a cancelled request still reads its answer, so the worker's next job gets its own
        run = asyncio.ensure_future(self._run_on(worker, data))
        try:
            result = await asyncio.shield(run)
        except WorkerLostError:
            log.error("request %s: the engine worker process %d ended while running it", request_id, worker.pid)
            raise ServiceError(
                500, "internal_error",
                f"internal error: the engine worker stopped while handling this request (request id {request_id})",
            ) from None
        return failed(result)

    async def aclose(self) -> None:
        """Close the workers' input (each finishes its job, then exits); kill any still running after ``grace``."""
        self._closed = True
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        for task in list(self._tasks):
            task.cancel()
        workers = list(self._all)
        for worker in workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in workers:
            try:
                await asyncio.wait_for(worker.process.wait(), self.grace)
            except TimeoutError:
                log.warning("engine worker process %d did not stop; killing it", worker.pid)
                self._retire(worker)
                await worker.process.wait()
            worker.alive = False
        self._all.clear()
