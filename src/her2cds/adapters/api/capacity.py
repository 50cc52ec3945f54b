"""Keeping the service responsive under overload (issue 10, issue 14 item 4).

- **Engine off the event loop.** Every assessment (and FHIR conversion, and card building) runs in a bounded
  pool of worker threads, one per CPU core by default (``HER2CDS_WORKERS``). The event loop only parses,
  routes and writes, so ``/healthz`` and cheap GETs keep answering while the workers are busy.
- **Load shedding.** At most ``HER2CDS_MAX_PENDING_REQUESTS`` POST requests (the ones that reach the engine) are
  admitted at a time: running on a worker or waiting for one. A POST beyond that is answered at once with
  ``503 service_unavailable`` and ``Retry-After``, instead of joining an unbounded queue where it would time out.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from her2cds.adapters.api.errors import envelope

T = TypeVar("T")


def default_workers() -> int:
    """One engine worker per CPU core available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class EnginePool:
    """A bounded pool of engine worker threads, created on first use."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker thread; the caller's event loop stays free meanwhile."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="her2cds-engine")
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    def shutdown(self) -> None:
        """Finish the work already submitted, then stop the threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


class Admission:
    """Counts the admitted engine requests of one application (touched from the event loop thread only)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending = 0
        self.shed = 0

    def try_enter(self) -> bool:
        if self.pending >= self.limit:
            self.shed += 1
            return False
        self.pending += 1
        return True

    def leave(self) -> None:
        self.pending -= 1


class LoadSheddingMiddleware:
    """503 + ``Retry-After`` for POST requests beyond the admission limit; other methods pass untouched.

    Installed outermost, so that a shed request costs as little as possible: no request id, no access-log line
    (the count is in :class:`Admission`), no routing. The body is read and dropped (up to ``max_body_bytes``)
    so that the connection stays usable for the client's next request."""

    def __init__(self, app: ASGIApp, admission: Admission, retry_after_seconds: int, max_body_bytes: int) -> None:
        self.app = app
        self.admission = admission
        self.retry_after = str(retry_after_seconds).encode()
        self.max_body = max_body_bytes
        self.body = json.dumps(
            envelope("service_unavailable", "the service is at capacity; retry after the seconds in Retry-After")
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if self.admission.try_enter():
            try:
                await self.app(scope, receive, send)
            finally:
                self.admission.leave()
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            (b"retry-after", self.retry_after),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
        ]
        read = 0
        while True:  # drain the body, so that the connection can be reused
            message = await receive()
            read += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body") or read > self.max_body:
                break
        if read > self.max_body:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
