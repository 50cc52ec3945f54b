"""A fake FHIR server on a loopback port (a real socket, unlike the httpx mock transport), recording every
request it receives, with switchable misbehaviour: redirects, huge or slow answers, non-FHIR answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.cdshooks import fhirdata


@dataclass
class Seen:
    path: str
    authorization: str | None


@dataclass
class LoopbackFhir:
    """``mode``: ``fhir`` (answer from ``resources``), ``redirect`` (302 to ``redirect_to``), ``huge`` (an endless
    chunked body), ``huge-declared`` (a Content-Length beyond any cap), ``slow`` (sleep before answering),
    ``html`` (200 text/html), ``error`` (500 OperationOutcome)."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "fhir"
    redirect_to: str = ""
    next_link: str | None = None
    seen: list[Seen] = field(default_factory=list)
    bytes_sent: int = 0
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        self.seen.append(Seen(parts.path, handler.headers.get("Authorization")))
        if self.mode == "redirect":
            handler.send_response(302)
            handler.send_header("Location", self.redirect_to + parts.path[len("/fhir"):] + "?" + parts.query)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if self.mode == "slow":
            time.sleep(3)
        if self.mode == "huge":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/fhir+json")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(2000):  # up to 128 MiB, never all read
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.bytes_sent += len(chunk)
            except OSError:
                return
            return
        if self.mode == "huge-declared":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/fhir+json")
            handler.send_header("Content-Length", str(300 * 1024 * 1024))
            handler.end_headers()
            return
        if self.mode == "html":
            self._send(handler, 200, b"<html>FHIR?</html>", "text/html")
            return
        if self.mode == "error":
            body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
            self._send(handler, 500, json.dumps(body).encode(), "application/fhir+json")
            return
        self._send(handler, *self._fhir(parts.path, parse_qs(parts.query)))

    def _fhir(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, str]:
        segments = path.strip("/").split("/")[1:]  # after /fhir
        if len(segments) == 2:
            found = [r for r in self.resources if r["resourceType"] == segments[0] and r["id"] == segments[1]]
            if not found:
                return 404, b'{"resourceType": "OperationOutcome", "issue": []}', "application/fhir+json"
            return 200, json.dumps(found[0]).encode(), "application/fhir+json"
        kind = segments[0] if segments else ""
        bundle = fhirdata.searchset(*[r for r in self.resources if r["resourceType"] == kind])
        if self.next_link is not None and "page" not in query:
            bundle["link"] = [{"relation": "next", "url": self.next_link}]
        return 200, json.dumps(bundle).encode(), "application/fhir+json"

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, media: str) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", media)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first (the slow mode's timeouts)
            pass


def serve(fake: LoopbackFhir) -> Iterator[LoopbackFhir]:
    """Run ``fake`` on an ephemeral loopback port for the duration of the generator (a pytest fixture body)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            fake.answer(self)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
