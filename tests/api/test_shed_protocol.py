"""The server protocol's fast path of load shedding (issue 10 item 7): a POST arriving while the admission
limit is reached is answered 503 + Retry-After as soon as its headers are parsed, without calling the
application; other requests, and POSTs it cannot answer safely that way, reach the application."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from her2cds.adapters.api.capacity import Admission
from her2cds.adapters.api.server import header_timeout_protocol

BODY = b'{"id": "x"}'


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.closed_by_server = False  # before the test ends the connection

    def write(self, data: Any) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def finish(protocol: Any, transport: Transport) -> None:
    """Wait until the application's tasks have answered (no timing: a bound only), then end the connection."""
    for _ in range(2000):
        if all(task.done() for task in protocol.tasks):
            break
        await asyncio.sleep(0.001)
    transport.closed_by_server = transport.closed
    protocol.connection_lost(None)


def _post(*headers: bytes, body: bytes = BODY) -> bytes:
    return (b"POST /v1/assess HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + b"".join(headers)
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _run(admission: Admission, data: bytes) -> tuple[Transport, list[tuple[str, str]]]:
    """Feed ``data`` to a new connection of the protocol; the transport and the requests the app received."""
    calls: list[tuple[str, str]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append((scope["method"], scope["path"]))
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def go() -> Transport:
        config = Config(app, log_level="warning")
        config.load()
        protocol_class = header_timeout_protocol(10.0, admission)
        protocol: Any = protocol_class(config=config, server_state=ServerState(), app_state={})  # type: ignore[call-arg]
        transport = Transport()
        protocol.connection_made(transport)
        protocol.data_received(data)
        await finish(protocol, transport)
        return transport

    return asyncio.run(go()), calls


def _statuses(written: bytes) -> list[bytes]:
    return re.findall(rb"HTTP/1\.1 (\d{3}) ", written)


def test_a_post_over_the_limit_is_answered_without_the_application() -> None:
    admission = Admission(1, retry_after_seconds=4)
    admission.pending = 1  # the engine is full
    transport, calls = _run(admission, _post() + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert calls == [("GET", "/healthz")]  # the POST never reached the application; its body was dropped
    assert _statuses(transport.written) == [b"503", b"200"]
    assert b"retry-after: 4\r\n" in transport.written and b"service_unavailable" in transport.written
    assert admission.shed == 1 and not transport.closed_by_server


def test_below_the_limit_posts_reach_the_application() -> None:
    admission = Admission(1)
    transport, calls = _run(admission, _post())
    assert calls == [("POST", "/v1/assess")]
    assert _statuses(transport.written) == [b"200"] and admission.shed == 0


@pytest.mark.parametrize(
    "headers",
    [
        (b"Expect: 100-continue\r\n",),  # the client waits for 100 before sending the body
    ],
)
def test_posts_it_cannot_answer_safely_go_to_the_application(headers: tuple[bytes, ...]) -> None:
    admission = Admission(1)
    admission.pending = 1
    _, calls = _run(admission, _post(*headers))
    assert calls == [("POST", "/v1/assess")]  # where LoadSheddingMiddleware answers it
    assert admission.shed == 0


def test_a_body_over_the_size_limit_goes_to_the_application() -> None:
    admission = Admission(1, max_body_bytes=4)
    admission.pending = 1
    _, calls = _run(admission, _post())
    assert calls == [("POST", "/v1/assess")] and admission.shed == 0


def test_a_shed_request_asking_to_close_is_answered_then_closed() -> None:
    admission = Admission(1)
    admission.pending = 1
    transport, calls = _run(admission, _post(b"Connection: close\r\n"))
    assert calls == [] and _statuses(transport.written) == [b"503"]
    assert b"connection: close\r\n" in transport.written and transport.closed_by_server


def test_get_requests_are_never_shed() -> None:
    admission = Admission(1)
    admission.pending = 1
    transport, calls = _run(admission, b"GET /v1/service-info HTTP/1.1\r\nHost: x\r\n\r\n")
    assert calls == [("GET", "/v1/service-info")] and _statuses(transport.written) == [b"200"]
