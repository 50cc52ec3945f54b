"""``GET /healthz`` answered by the server protocol itself (issue 10 item 7).

Under overload the event loop parses a flood of requests; an answer that goes through the ASGI application costs
a task and at least one more turn of the loop, and a turn can take tens of milliseconds when a thousand
connections are readable at once. The liveness check is therefore answered in the protocol's
``on_headers_complete``, in the same callback that parsed it, with the bytes the application would send: the
same status, body and headers (content type and length, our own ``X-Request-ID``, the security headers,
``Vary: Origin`` when CORS is on) and the same access-log line. It is the service's only liveness/readiness
route; it needs no engine worker and no admission, so it answers however busy the workers are.

A request the fast path cannot answer exactly that way goes to the application as usual: another method, path
or query, a body, ``Expect``/``Upgrade``, an ``Origin`` header while CORS is on (its answer depends on the
origin), a ``Host`` outside ``HER2CDS_ALLOWED_HOSTS`` (the application answers 400), or a request pipelined
behind one still being answered (answers keep their order).
"""

from __future__ import annotations

import time
import uuid

from starlette.responses import JSONResponse

from her2cds.adapters.api.middleware import client_id_digest, host_allowed, log_access, security_headers
from her2cds.adapters.api.routers.meta import health
from her2cds.adapters.api.settings import Settings

PATH = b"/healthz"
TEMPLATE = "/healthz"  # the access log's route template, as RequestContextMiddleware writes it


class HealthAnswer:
    """The wire answer of ``GET /healthz`` for one application's settings."""

    def __init__(self, settings: Settings) -> None:
        response = JSONResponse(health())
        self.hosts = {host.lower() for host in settings.allowed_hosts}
        self.cors = bool(settings.cors_origins)
        own = list(response.raw_headers)  # content-length, content-type: as the route's JSONResponse
        request_id = [(b"x-request-id", b"")]  # RequestContextMiddleware appends it
        cors = [(b"vary", b"Origin")] if self.cors else []  # CORSMiddleware, request without Origin
        after = cors + security_headers(own + request_id + cors)
        self._before = b"".join(name + b": " + value + b"\r\n" for name, value in own) + b"x-request-id: "
        self._after = b"\r\n" + b"".join(name + b": " + value + b"\r\n" for name, value in after)
        self.body = bytes(response.body)

    def applies(self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether this request (method, raw request target, lower-case headers) is answered by the fast path."""
        if method != b"GET" or url != PATH:
            return False
        host = b""
        for name, value in headers:
            if name in (b"content-length", b"transfer-encoding", b"expect", b"upgrade"):
                if name != b"content-length" or value != b"0":
                    return False
            elif name == b"origin" and self.cors:
                return False
            elif name == b"host":
                host = value
        return not self.hosts or host_allowed(self.hosts, host)

    def wire(self, default_headers: list[tuple[bytes, bytes]], headers: list[tuple[bytes, bytes]], *,
             close: bool) -> bytes:
        """The whole HTTP/1.1 answer (status line, the server's default headers such as Date, ours, body), and
        its access-log line."""
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        incoming = b""
        for name, value in headers:
            if name == b"x-request-id":
                incoming = value  # the last one, as the application's dict of headers
        parts = [b"HTTP/1.1 200 OK\r\n"]
        parts += [name + b": " + value + b"\r\n" for name, value in default_headers]
        parts += [self._before, request_id.encode(), self._after]
        if close:
            parts.append(b"connection: close\r\n")
        parts += [b"\r\n", self.body]
        log_access("GET", TEMPLATE, 200, started, request_id, client_id_digest(incoming))
        return b"".join(parts)
