"""Pure ASGI middleware: request ids, access logging without patient data, a last-resort error guard, and
the request-body size limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from her2cds.adapters.api.errors import BodyTooLargeError, envelope, safe_traceback

log = logging.getLogger("her2cds.api")
access_log = logging.getLogger("her2cds.api.access")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
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
            access_log.info(
                "%s %s %d %.1fms id=%s",
                scope.get("method", "-"),
                template,
                status,
                (time.perf_counter() - started) * 1000,
                request_id,
            )


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
