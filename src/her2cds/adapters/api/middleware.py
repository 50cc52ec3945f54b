"""Pure ASGI middleware: request ids, access logging without patient data, a last-resort error guard, and
the request-body size limit."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from her2cds.adapters.api.errors import BodyTooLargeError, envelope, safe_traceback

log = logging.getLogger("her2cds.api")
access_log = logging.getLogger("her2cds.api.access")


async def send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def client_id_digest(incoming: bytes) -> str:
    """What the access log shows of a client's own ``X-Request-ID``: a short SHA-256 prefix, never the value."""
    return hashlib.sha256(incoming).hexdigest()[:12] if incoming else "-"


def log_access(method: str, template: str, status: int, started: float, request_id: str, client_ref: str) -> None:
    """The one access-log line of a request (``started``: its ``time.perf_counter()`` at arrival)."""
    access_log.info(
        "%s %s %d %.1fms id=%s client-id-sha256=%s",
        method,
        template,
        status,
        (time.perf_counter() - started) * 1000,
        request_id,
        client_ref,
    )


class RequestContextMiddleware:
    """Assigns a request id, logs one access line per request and turns any escaped exception into a 500
    envelope.

    The access line holds the method, the *route template* (e.g. ``/v1/knowledge/{entry_id}``, never the raw
    path or query), the status, the duration and the request id: nothing a client put in the request. Escaped
    exceptions are logged with their type and code frames only; the message is withheld because it may quote
    input values. Handling them here keeps them from reaching the server's own error logging.
    """

    def __init__(self, app: ASGIApp, templates: Mapping[int, str] | None = None) -> None:
        self.app = app
        self.templates = dict(templates or {})  # id(route object) -> full path template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"")
        # our own id, always: a client-chosen id can carry an MRN, so it is logged only as a short hash
        request_id = uuid.uuid4().hex
        client_ref = client_id_digest(incoming)
        scope["her2cds.request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            log.error("request %s: unhandled %s", request_id, safe_traceback(exc))
            if not response_started:
                status = 500
                await send_json(
                    send,
                    500,
                    envelope("internal_error", f"internal error (request id {request_id}); see the service log"),
                    [id_header],
                )
        finally:
            route = scope.get("route")
            template = self.templates.get(id(route)) if route is not None else None
            if template is None:
                template = "<no route>" if route is None else str(getattr(route, "path_format", "<route>"))
            log_access(scope.get("method", "-"), template, status, started, request_id, client_ref)


#: headers of every response (API JSON and HTML alike); a response that sets its own value keeps it
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
#: Content-Security-Policy of JSON (and other non-HTML) answers: nothing may load, nothing may frame them
CSP_API = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
#: Content-Security-Policy of HTML pages (API docs, web app): own origin only, no plug-ins, no framing
CSP_HTML = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers :class:`SecurityHeadersMiddleware` appends to a response that has ``headers``."""
    present = {name.lower() for name, _ in headers}
    media = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
    if b"content-security-policy" not in present:
        extra.append((b"content-security-policy", CSP_HTML if media.startswith(b"text/html") else CSP_API))
    if b"cache-control" not in present and b"json" in media:
        extra.append((b"cache-control", b"no-store"))
    return extra


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS`, a Content-Security-Policy (:data:`CSP_HTML` for HTML, :data:`CSP_API`
    otherwise) and ``Cache-Control: no-store`` on JSON answers (they carry patient data) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message["headers"] = headers + security_headers(headers)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def host_allowed(hosts: set[str], header: bytes) -> bool:
    """Whether a request with ``Host: header`` is one a service answering ``hosts`` (lower case) answers."""
    host = header.decode("latin-1").lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return host in hosts or name in hosts


class AllowedHostsMiddleware:
    """400 for a request whose ``Host`` header is not one of ``hosts`` (``HER2CDS_ALLOWED_HOSTS``)."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.hosts = {host.lower() for host in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not host_allowed(self.hosts, dict(scope.get("headers", [])).get(b"host", b"")):
            await send_json(send, 400, envelope("bad_request", "the Host header is not one this service answers"), [])
            return
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware:
    """Rejects bodies larger than ``limit`` bytes with 413: at once when Content-Length says so, otherwise
    while the (chunked) body is being read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await send_json(send, 400, envelope("bad_request", "invalid Content-Length header"), [])
                return
            if length > self.limit:
                await send_json(
                    send,
                    413,
                    envelope("payload_too_large", f"request body exceeds the limit of {self.limit} bytes"),
                    [(b"connection", b"close")],
                )
                return

        received = 0
        limit = self.limit

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except BodyTooLargeError as exc:  # raised outside a route (no handler ran)
            if response_started:
                raise
            await send_json(send, 413, envelope("payload_too_large", str(exc)), [(b"connection", b"close")])
