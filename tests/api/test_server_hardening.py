"""The real server under uvicorn (subprocess, loopback): slow request headers are cut off, SIGTERM drains the
requests in flight, overload answers 503 + Retry-After on the wire (issue 10 items 7 and 9)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from her2cds import examples
from tests.api.holding import HOLD, WORKER, release, started

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
SERVER = f"""
import sys
{HOLD}
from her2cds.adapters.api import procpool, run
procpool.worker_command = lambda level: [sys.executable, "-c", {WORKER!r}, level]
run("127.0.0.1", int(sys.argv[1]))
"""
HELD_CASE = {**examples.load(), "id": "hold-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(tmp_path: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    environment = {**os.environ, "TEST_GATE_DIR": str(tmp_path), "HER2CDS_LOG_LEVEL": "warning", **env}
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=log, stderr=log, env=environment)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        log.close()


def _post_raw(port: int, body: bytes) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=15)
    sock.sendall(
        b"POST /v1/assess HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    return sock


def _get_raw(port: int, target: bytes) -> bytes:
    """The raw answer to ``GET target`` (Connection: close), its Date and request id blanked."""
    with socket.create_connection((HOST, port), timeout=15) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = _read_all(sock)
    answer = re.sub(rb"\r\ndate: [^\r]*", b"\r\ndate: -", answer)
    return re.sub(rb"\r\nx-request-id: [0-9a-f]{32}", b"\r\nx-request-id: -", answer)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_trickled_headers_are_cut_off(tmp_path: Path) -> None:
    with server(tmp_path, HER2CDS_HEADER_TIMEOUT_SECONDS="0.5") as (_, port):
        sock = socket.create_connection((HOST, port), timeout=10)
        started = time.monotonic()
        closed = False
        with sock:
            for byte in b"POST /v1/assess HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200:
                try:
                    sock.sendall(bytes([byte]))
                    sock.settimeout(0.1)
                    if sock.recv(1) == b"":
                        closed = True
                        break
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
                    break
        assert closed, "the server kept a trickling connection open"
        assert time.monotonic() - started < 5
        assert httpx.get(f"http://{HOST}:{port}/healthz").status_code == 200  # and keeps serving


ENGINES = pytest.mark.parametrize("engine", ["process", "thread"])


@ENGINES
def test_sigterm_finishes_requests_in_flight(tmp_path: Path, engine: str) -> None:
    with server(tmp_path, HER2CDS_ENGINE=engine) as (process, port):
        sock = _post_raw(port, json.dumps(HELD_CASE).encode())
        (worker,) = started(tmp_path)
        process.send_signal(signal.SIGTERM)
        if worker != process.pid:  # a worker process: it ignores a SIGTERM sent to the whole group, too
            os.kill(worker, signal.SIGTERM)
        time.sleep(0.2)  # give the signals time to act
        release(tmp_path)
        with sock:
            answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["her2"]["status"]
        # uvicorn re-raises the signal once it has shut down cleanly (the default SIGTERM disposition)
        assert process.wait(20) in (0, -signal.SIGTERM)
        if worker != process.pid:
            with pytest.raises(ProcessLookupError):  # the worker process is gone too
                _wait_gone(worker)


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        os.kill(pid, 0)  # ProcessLookupError once it is gone (reaped by the server)
        time.sleep(0.05)


@ENGINES
def test_saturated_engine_sheds_posts_with_503_and_healthz_answers(tmp_path: Path, engine: str) -> None:
    env = {"HER2CDS_WORKERS": "1", "HER2CDS_MAX_PENDING_REQUESTS": "1", "HER2CDS_ENGINE": engine}
    with server(tmp_path, **env) as (_, port):
        first = _post_raw(port, json.dumps(HELD_CASE).encode())
        started(tmp_path)
        body = json.dumps(examples.load()).encode()
        for _ in range(3):
            second = httpx.post(f"http://{HOST}:{port}/v1/assess", content=body,
                                headers={"content-type": "application/json"}, timeout=10)
            assert second.status_code == 503 and second.headers["retry-after"] == "1"
            assert second.json()["error"]["code"] == "service_unavailable"
            health = httpx.get(f"http://{HOST}:{port}/healthz", timeout=10)
            assert health.status_code == 200
        # on the wire, the protocol's own answer (/healthz) is the application's (/healthz? goes through it)
        fast, routed = _get_raw(port, b"/healthz"), _get_raw(port, b"/healthz?")
        assert fast.startswith(b"HTTP/1.1 200 OK\r\n") and fast == routed
        release(tmp_path)
        with first:
            assert _read_all(first).startswith(b"HTTP/1.1 200")
        again = httpx.post(f"http://{HOST}:{port}/v1/assess", content=body,
                           headers={"content-type": "application/json"}, timeout=10)
        assert again.status_code == 200


def test_a_killed_worker_process_fails_its_request_cleanly_and_is_replaced(tmp_path: Path) -> None:
    env = {"HER2CDS_WORKERS": "1", "HER2CDS_ENGINE": "process"}
    with server(tmp_path, **env) as (process, port):
        sock = _post_raw(port, json.dumps(HELD_CASE).encode())
        (worker,) = started(tmp_path)
        assert worker != process.pid
        os.kill(worker, signal.SIGKILL)
        with sock:
            answer = _read_all(sock)
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 500"), answer[:300]
        assert b"application/json" in head
        error = json.loads(payload)["error"]
        assert error["code"] == "internal_error" and "engine worker stopped" in error["message"]
        # the pool has started another worker: the next requests are answered (by a new process)
        release(tmp_path)
        held_again = httpx.post(f"http://{HOST}:{port}/v1/assess", json={**HELD_CASE, "id": "hold-2"}, timeout=60)
        assert held_again.status_code == 200
        pids = started(tmp_path, 2)
        assert set(pids) - {worker, process.pid}
        assert process.poll() is None


def _responses(sock: socket.socket, count: int) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """Read ``count`` HTTP responses (with Content-Length) from ``sock``: (status line, headers, body)."""
    data = b""
    out: list[tuple[bytes, dict[bytes, bytes], bytes]] = []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses"
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        status, *lines = head.split(b"\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(b":") for line in lines)}
        length = int(headers[b"content-length"])
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        out.append((status, headers, data[:length]))
        data = data[length:]
    return out


def test_shed_requests_leave_the_connection_usable_and_in_order(tmp_path: Path) -> None:
    """The server answers shed POSTs before the application sees them (Content-Length bodies) or in the
    application (chunked bodies); either way each body is dropped, answers stay in request order, and the
    connection serves the next request."""
    env = {"HER2CDS_WORKERS": "1", "HER2CDS_MAX_PENDING_REQUESTS": "1", "HER2CDS_RETRY_AFTER_SECONDS": "7"}
    with server(tmp_path, **env) as (_, port):
        held = _post_raw(port, json.dumps(HELD_CASE).encode())
        started(tmp_path)
        body = json.dumps(examples.load()).encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        with socket.create_connection((HOST, port), timeout=15) as sock:
            sock.sendall(
                b"POST /v1/assess HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + b"Content-Length: %d\r\n\r\n" % len(body) + body
                + b"POST /v1/assess HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + b"Transfer-Encoding: chunked\r\n\r\n" + chunked
                + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            answers = _responses(sock, 3)
            assert [status.split(b" ")[1] for status, _, _ in answers] == [b"503", b"503", b"200"]
            for _, headers, payload in answers[:2]:
                assert headers[b"retry-after"] == b"7"
                assert headers[b"content-type"] == b"application/json"
                assert headers[b"x-content-type-options"] == b"nosniff"
                assert headers[b"cache-control"] == b"no-store"
                assert b"content-security-policy" in headers
                assert json.loads(payload)["error"]["code"] == "service_unavailable"
            assert json.loads(answers[2][2])["status"] == "ok"
            # a shed request that asks to close: answered, then closed
            sock.sendall(b"POST /v1/assess HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            ((status, headers, _),) = _responses(sock, 1)
            assert status.split(b" ")[1] == b"503" and headers[b"connection"] == b"close"
            assert sock.recv(1) == b""
        release(tmp_path)
        with held:
            assert _read_all(held).startswith(b"HTTP/1.1 200")
