"""Keeping the service responsive under overload (issue 10, issue 14 item 4).

- **Engine off the event loop.** Every assessment (with its body parsing, FHIR conversion, card building and
  serialization: :mod:`her2cds.adapters.api.jobs`) runs on an engine worker, one per CPU core by default
  (``HER2CDS_WORKERS``): a worker process under ``her2cds serve`` (``HER2CDS_ENGINE=process``), a worker thread
  in an embedded application (``thread``). The event loop only routes and writes, so ``/healthz`` and cheap
  GETs keep answering while the workers are busy.
- **Load shedding.** At most ``HER2CDS_MAX_PENDING_REQUESTS`` POST requests (the ones that reach the engine) are
  admitted at a time: running on a worker or waiting for one. A POST beyond that is answered at once with
  ``503 service_unavailable`` and ``Retry-After``, instead of joining an unbounded queue where it would time out.
"""

from __future__ import annotations

import asyncio
import functools
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from her2cds.adapters.api.errors import envelope
from her2cds.adapters.api.jobs import EngineContext, Job, perform
from her2cds.adapters.api.middleware import CSP_API, SECURITY_HEADERS
from her2cds.adapters.api.procpool import ProcessEngine, failed


class ThreadEngine:
    """The engine on a bounded pool of worker threads of the service process (``HER2CDS_ENGINE=thread``), created
    on first use. The threads share the interpreter lock with the event loop: the process engine
    (:mod:`her2cds.adapters.api.procpool`) keeps the event loop faster under load; this one needs no child
    processes and honours dependency overrides of the assessor (tests, an embedded application)."""

    kind = "thread"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        """Nothing to start ahead: the threads are created on first use."""

    async def call(self, job: Job, context: EngineContext | None, *args: Any, request_id: str = "-") -> Any:
        """``job(context, *args)`` on a worker thread; its result, or the :class:`ServiceError` of its failure."""
        if context is None:
            context = EngineContext.default()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="her2cds-engine")
        loop = asyncio.get_running_loop()
        return failed(await loop.run_in_executor(self._executor, perform, job, context, args, request_id))

    async def aclose(self) -> None:
        """Finish the work already submitted, then stop the threads."""
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(None, functools.partial(executor.shutdown, wait=True))


Engine = ThreadEngine | ProcessEngine


def make_engine(kind: str, workers: int, log_level: str = "warning") -> Engine:
    """The engine of ``HER2CDS_ENGINE``: ``process`` or ``thread``."""
    if kind == "process":
        return ProcessEngine(workers, log_level=log_level)
    return ThreadEngine(workers)


class Admission:
    """Counts the admitted engine requests of one application (touched from the event loop thread only) and
    holds the answer to a request beyond the limit: ``503 service_unavailable`` with ``Retry-After``."""

    def __init__(self, limit: int, retry_after_seconds: int = 1, max_body_bytes: int = 1_000_000) -> None:
        self.limit = limit
        self.pending = 0
        self.shed = 0
        self.max_body_bytes = max_body_bytes
        self.body = json.dumps(
            envelope("service_unavailable", "the service is at capacity; retry after the seconds in Retry-After")
        ).encode()
        self.headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            (b"retry-after", str(retry_after_seconds).encode()),
            (b"cache-control", b"no-store"),
            *SECURITY_HEADERS,
            (b"content-security-policy", CSP_API),
        ]

    @property
    def full(self) -> bool:
        return self.pending >= self.limit

    def try_enter(self) -> bool:
        if self.pending >= self.limit:
            self.shed += 1
            return False
        self.pending += 1
        return True

    def leave(self) -> None:
        self.pending -= 1

    def wire(self, extra_headers: list[tuple[bytes, bytes]], *, close: bool) -> bytes:
        """The whole HTTP/1.1 answer to a shed request, as bytes (for the server protocol's fast path)."""
        lines = [b"HTTP/1.1 503 Service Unavailable"]
        lines += [name + b": " + value for name, value in (*extra_headers, *self.headers)]
        if close:
            lines.append(b"connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


class LoadSheddingMiddleware:
    """503 + ``Retry-After`` for POST requests beyond the admission limit; other methods pass untouched.

    Installed outermost, so that a shed request costs as little as possible: no request id, no access-log line
    (the count is in :class:`Admission`), no routing. The body is read and dropped (up to ``max_body_bytes``)
    so that the connection stays usable for the client's next request. (Under ``her2cds serve`` most shed
    requests never get here: the server protocol answers them before the application is called, see
    :func:`her2cds.adapters.api.server.header_timeout_protocol`.)"""

    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        admission = self.admission
        if admission.try_enter():
            try:
                await self.app(scope, receive, send)
            finally:
                admission.leave()
            return
        headers = list(admission.headers)
        read = 0
        while True:  # drain the body, so that the connection can be reused
            message = await receive()
            read += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body") or read > admission.max_body_bytes:
                break
        if read > admission.max_body_bytes:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": admission.body})
