"""``GET /healthz`` answered by the server protocol itself (issue 10 item 7): byte for byte the application's
own answer (apart from the request id), its access-log line, without the application, while the engine is full;
and every request it must not answer that way still reaches the application."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from her2cds.adapters.api.app import create_app
from her2cds.adapters.api.capacity import Admission
from her2cds.adapters.api.fastpath import HealthAnswer
from her2cds.adapters.api.server import header_timeout_protocol
from her2cds.adapters.api.settings import Settings
from tests.api.test_shed_protocol import Transport, finish

DATE = [(b"date", b"Tue, 01 Dec 2026 01:23:45 GMT")]
ID = re.compile(rb"x-request-id: ([0-9a-f]{32})\r\n")
GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"

SETTINGS = {
    "defaults": Settings(),
    "allowed hosts": Settings(allowed_hosts=["x", "cds.example.org"]),
    "cors": Settings(cors_origins=["https://ehr.example.org"]),
}
REQUESTS = {
    "keep-alive": GET + b"\r\n",
    "connection close": GET + b"Connection: close\r\n\r\n",
    "HTTP/1.0": b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n",
    "client request id": GET + b"X-Request-ID: MRN-12345\r\n\r\n",
    "empty body": GET + b"Content-Length: 0\r\n\r\n",
}


@functools.cache
def _app(settings_name: str) -> Any:
    return create_app(SETTINGS[settings_name])


def _serve(settings_name: str, data: bytes, *, fast: bool, admission: Admission | None = None
           ) -> tuple[Transport, list[str], bytes]:
    """Feed ``data`` to a new connection of the server protocol over the real application: the transport, the
    paths the application was called for, and what was written before the event loop turned even once."""
    settings, real = SETTINGS[settings_name], _app(settings_name)
    calls: list[str] = []

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        calls.append(f"{scope['method']} {scope['path']}")
        await real(scope, receive, send)

    async def go() -> tuple[Transport, bytes]:
        config = Config(recording, log_level="warning", proxy_headers=False, lifespan="off")
        config.load()
        protocol_class = header_timeout_protocol(10.0, admission, HealthAnswer(settings) if fast else None)
        state = ServerState()
        state.default_headers = list(DATE)
        protocol: Any = protocol_class(config=config, server_state=state, app_state={})  # type: ignore[call-arg]
        transport = Transport()
        protocol.connection_made(transport)
        protocol.data_received(data)
        at_once = transport.written
        await finish(protocol, transport)
        return transport, at_once

    transport, at_once = asyncio.run(go())
    return transport, calls, at_once


@pytest.mark.parametrize("request_name", list(REQUESTS))
@pytest.mark.parametrize("settings_name", list(SETTINGS))
def test_the_fast_answer_is_the_applications_answer(
    settings_name: str, request_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = REQUESTS[request_name]
    with caplog.at_level(logging.INFO, logger="her2cds.api.access"):
        fast, fast_calls, at_once = _serve(settings_name, data, fast=True)
        fast_log = [record.getMessage() for record in caplog.records]
        caplog.clear()
        slow, slow_calls, _ = _serve(settings_name, data, fast=False)
        slow_log = [record.getMessage() for record in caplog.records]
    assert fast_calls == [] and slow_calls == ["GET /healthz"]  # the application answered only the second
    assert at_once == fast.written  # answered in the callback that parsed it, no turn of the event loop
    assert fast.written.startswith(b"HTTP/1.1 200 OK\r\n") and b'"status":"ok"' in fast.written
    (fast_id,), (slow_id,) = ID.findall(fast.written), ID.findall(slow.written)
    assert fast_id != slow_id  # our own id each time (never the client's)
    assert fast.written.replace(fast_id, slow_id) == slow.written  # byte for byte, headers in the same order
    assert fast.closed_by_server == slow.closed_by_server == (request_name in ("connection close", "HTTP/1.0"))
    # the same access-log line (route template, status, our id, the client's id only as a hash)
    assert len(fast_log) == len(slow_log) == 1

    def line(text: str, request_id: bytes) -> str:
        return re.sub(r" [0-9.]+ms ", " ", text).replace(request_id.decode(), "<id>")

    assert line(fast_log[0], fast_id) == line(slow_log[0], slow_id)
    assert "MRN" not in fast_log[0]


def test_it_answers_while_the_engine_is_full_and_every_worker_busy() -> None:
    """Admission limit reached (every worker busy, the queue full): the POST is shed, /healthz answered at
    once, and the application (whose engine would make a request wait) is never called."""
    admission = Admission(2)
    admission.pending = 2
    post = (b"POST /v1/assess HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"
            b"{}")
    transport, calls, at_once = _serve("defaults", post + GET + b"\r\n" + GET + b"\r\n", fast=True,
                                       admission=admission)
    assert calls == []
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", at_once) == [b"503", b"200", b"200"]
    assert admission.shed == 1 and not transport.closed_by_server


def test_behind_a_request_still_being_answered_it_waits_its_turn() -> None:
    """Pipelined behind a POST the application is answering: /healthz goes the usual way, after it."""
    post = (b"POST /v1/assess HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"
            b"{}")
    transport, calls, at_once = _serve("defaults", post + GET + b"\r\n", fast=True)
    assert calls == ["POST /v1/assess", "GET /healthz"] and at_once == b""
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", transport.written) == [b"422", b"200"]


@pytest.mark.parametrize(
    ("settings_name", "data", "status"),
    [
        ("defaults", b"GET /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n", b"200"),
        ("defaults", b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
        ("defaults", b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b"405"),
        ("defaults", b"GET /healthz/ HTTP/1.1\r\nHost: x\r\n\r\n", b"307"),
        ("defaults", GET + b"Content-Length: 2\r\n\r\n{}", b"200"),
        ("defaults", GET + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"200"),
        ("defaults", GET + b"Expect: 100-continue\r\n\r\n", b"200"),
        ("allowed hosts", b"GET /healthz HTTP/1.1\r\nHost: evil.example\r\n\r\n", b"400"),
        ("allowed hosts", b"GET /healthz HTTP/1.1\r\n\r\n", b"400"),
        ("cors", GET + b"Origin: https://ehr.example.org\r\n\r\n", b"200"),
        ("cors", GET + b"Origin: https://other.example\r\n\r\n", b"200"),
    ],
)
def test_requests_it_must_not_answer_itself_reach_the_application(settings_name: str, data: bytes,
                                                                  status: bytes) -> None:
    fast, calls, _ = _serve(settings_name, data, fast=True)
    slow, _, _ = _serve(settings_name, data, fast=False)
    assert len(calls) == 1
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", fast.written) == [status]
    assert ID.sub(b"", fast.written) == ID.sub(b"", slow.written)  # the application's answer, untouched
    if b"Origin: https://ehr" in data:
        assert b"access-control-allow-origin: https://ehr.example.org\r\n" in fast.written


SHED_POST = b"POST /v1/assess HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize("extra", [b"", b"Connection: close\r\n", b"X-Request-ID: MRN-1\r\n"],
                         ids=["keep-alive", "connection close", "client request id"])
def test_the_protocols_503_is_the_applications_503_byte_for_byte(extra: bytes) -> None:
    """At the admission limit, the 503 + Retry-After the server protocol writes (no application) equals, byte for
    byte, the one the application's LoadSheddingMiddleware answers; and a request below the limit is unaffected."""
    admission = _app("defaults").state.her2cds.admission
    request = SHED_POST + extra + b"Content-Length: 2\r\n\r\n{}"
    admission.pending = admission.limit
    try:
        fast, fast_calls, at_once = _serve("defaults", request, fast=True, admission=admission)
        slow, slow_calls, _ = _serve("defaults", request, fast=True, admission=None)
    finally:
        admission.pending = 0
    assert fast_calls == [] and slow_calls == ["POST /v1/assess"]
    assert at_once == fast.written and fast.written.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"retry-after: " in fast.written and b"service_unavailable" in fast.written
    assert fast.written == slow.written
    assert fast.closed_by_server == slow.closed_by_server == bool(extra.startswith(b"Connection"))
    below, below_calls, _ = _serve("defaults", SHED_POST + b"Content-Length: 2\r\n\r\n{}", fast=True,
                                   admission=admission)
    assert below_calls == ["POST /v1/assess"] and not below.written.startswith(b"HTTP/1.1 503")
