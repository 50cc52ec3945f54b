"""The real server under uvicorn (subprocess, loopback): slow request headers are cut off, SIGTERM drains the
requests in flight, overload answers 503 + Retry-After on the wire (issue 10 items 7 and 9)."""

from __future__ import annotations

import contextlib
import json
import os
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

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
#: the server, with every assessment slowed down by HER2CDS_TEST_DELAY seconds (monkeypatched in the child)
SERVER = """
import os, sys, time
import her2cds
real = her2cds.assess
delay = float(os.environ["HER2CDS_TEST_DELAY"])
def slow(case):
    time.sleep(delay)
    return real(case)
her2cds.assess = slow
from her2cds.adapters.api import run
run("127.0.0.1", int(sys.argv[1]))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(tmp_path: Path, delay: float = 0.0, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    environment = {**os.environ, "HER2CDS_TEST_DELAY": str(delay), "HER2CDS_LOG_LEVEL": "warning", **env}
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


def test_sigterm_finishes_requests_in_flight(tmp_path: Path) -> None:
    with server(tmp_path, delay=1.5) as (process, port):
        sock = _post_raw(port, json.dumps(examples.load()).encode())
        time.sleep(0.4)  # the request is on a worker now
        process.send_signal(signal.SIGTERM)
        with sock:
            answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["her2"]["status"]
        # uvicorn re-raises the signal once it has shut down cleanly (the default SIGTERM disposition)
        assert process.wait(20) in (0, -signal.SIGTERM)


def test_overload_answers_503_with_retry_after_on_the_wire(tmp_path: Path) -> None:
    env = {"HER2CDS_WORKERS": "1", "HER2CDS_MAX_PENDING_REQUESTS": "1"}
    with server(tmp_path, delay=1.0, **env) as (_, port):
        body = json.dumps(examples.load()).encode()
        first = _post_raw(port, body)
        time.sleep(0.3)
        started = time.monotonic()
        second = httpx.post(f"http://{HOST}:{port}/v1/assess", content=body,
                            headers={"content-type": "application/json"}, timeout=10)
        assert second.status_code == 503 and second.headers["retry-after"] == "1"
        assert time.monotonic() - started < 0.5  # at once, not after queueing
        health = httpx.get(f"http://{HOST}:{port}/healthz", timeout=10)
        assert health.status_code == 200
        with first:
            assert _read_all(first).startswith(b"HTTP/1.1 200")
