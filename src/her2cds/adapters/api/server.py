"""Running the service with uvicorn (``her2cds serve``)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import logging.config
import sys
from typing import TYPE_CHECKING, Any

from her2cds.adapters.api.settings import Settings

if TYPE_CHECKING:
    from her2cds.adapters.api.capacity import Admission
    from her2cds.adapters.api.fastpath import HealthAnswer
    from her2cds.adapters.api.state import AppState
from her2cds.errors import UsageError

log = logging.getLogger("her2cds.api")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def log_config(level: str) -> dict[str, Any]:
    """Logging for the server: our loggers at ``level``; uvicorn's access log off (ours logs route templates
    only); HTTP client request lines (URLs carry patient ids) kept below INFO."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "her2cds": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "httpx": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "httpcore": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }


class _HeaderDeadline:
    """Mixin for uvicorn's HTTP protocols: a connection whose request headers are not complete within
    ``header_timeout`` seconds of its start (or of the first byte of the next request) is closed."""

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_pending(self) -> bool:
        return True

    def _expire(self) -> None:
        self._header_timer = None
        if self._headers_pending() and not self.transport.is_closing():
            self.transport.close()


def header_timeout_protocol(
    seconds: float, admission: Admission | None = None, health: HealthAnswer | None = None
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11) with a request-header deadline of ``seconds``:
    a client trickling header bytes would otherwise hold a connection open forever.

    With ``admission`` (httptools only), a POST that arrives while the engine's admission limit is reached is
    answered 503 + Retry-After by the protocol itself, as soon as its headers are parsed: no ASGI task, no
    middleware, no routing; its body is parsed and dropped. Under overload nearly every request is such a one,
    and the event loop must stay fast for the others (``/healthz``). Requests it cannot answer that way
    (pipelined behind another, ``Expect: 100-continue``, a body over the size limit) go the usual way to the
    application, whose :class:`~her2cds.adapters.api.capacity.LoadSheddingMiddleware` sheds them.

    With ``health`` (httptools only), ``GET /healthz`` is answered the same way, by the protocol, with the
    application's own bytes (:mod:`her2cds.adapters.api.fastpath`), however busy the engine is."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return _h11_header_timeout(seconds)

    class HeaderTimeoutHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
        header_timeout = seconds
        _shedding = False  # the request being received was answered here (503, /healthz): drop its body
        _close_after_shed = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()  # the next request has begun: its headers are on the clock

        def on_headers_complete(self) -> None:
            self._disarm()
            if health is not None and self._in_turn() and health.applies(self.parser.get_method(), self.url,
                                                                           self.headers):
                close = self._answer_here()
                self.transport.write(health.wire(self.server_state.default_headers, self.headers, close=close))
                return
            if admission is not None and admission.full and self._may_shed_here():
                admission.shed += 1
                close = self._answer_here()
                self.transport.write(admission.wire(self.server_state.default_headers, close=close))
                return
            super().on_headers_complete()

        def _answer_here(self) -> bool:
            """The request is answered by the protocol: its body is dropped; whether to close afterwards."""
            keep_alive = self.parser.get_http_version() == "1.1" and self.parser.should_keep_alive()
            self._shedding, self._close_after_shed = True, not keep_alive
            return not keep_alive

        def _in_turn(self) -> bool:
            """No earlier request of this connection is still being answered (answers keep their order)."""
            return not self.pipeline and (self.cycle is None or self.cycle.response_complete)

        def _may_shed_here(self) -> bool:
            if self.parser.get_method() != b"POST" or self.expect_100_continue or not self._in_turn():
                return False
            assert admission is not None
            for name, value in self.headers:
                if name == b"content-length":
                    return value.isdigit() and int(value) <= admission.max_body_bytes
            return False  # chunked: left to the application (it bounds what it reads)

        def on_body(self, body: bytes) -> None:
            if not self._shedding:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._shedding:
                super().on_message_complete()
                return
            self._shedding = False
            if self._close_after_shed:
                self.transport.close()
            else:
                self.on_response_complete()  # keep-alive timer, next pipelined request

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutHttpToolsProtocol


def _h11_header_timeout(seconds: float) -> type[asyncio.Protocol]:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(_HeaderDeadline, H11Protocol):
        header_timeout = seconds

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._headers_pending() and not self.transport.is_closing():
                self._arm()  # the next request has begun: its headers are on the clock
            else:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _headers_pending(self) -> bool:
            return self.conn.their_state is h11.IDLE

    return HeaderTimeoutH11Protocol


def check_exposure(host: str, settings: Settings, *, insecure: bool) -> None:
    """Refuse to serve beyond loopback without authentication on both APIs, unless ``insecure``."""
    if is_loopback(host):
        return
    missing = []
    if settings.api_token is None:
        missing.append("HER2CDS_API_TOKEN (for /v1)")
    if settings.cds_jwks_file is None and settings.cds_clients_file is None:
        missing.append("HER2CDS_CDS_CLIENTS_FILE or HER2CDS_CDS_JWKS_FILE (for /cds-services)")
    if not missing:
        return
    if not insecure:
        raise UsageError(
            f"refusing to serve on {host} without authentication: set {' and '.join(missing)}, bind to "
            "127.0.0.1, or pass --insecure to accept an unauthenticated service on the network"
        )
    log.warning("serving on %s WITHOUT authentication (--insecure): %s not set", host, ", ".join(missing))


def run(
    host: str = "127.0.0.1", port: int = 8080, settings: Settings | None = None, *, insecure: bool = False
) -> None:
    """Serve the API on ``host:port`` until interrupted (loopback by default). On SIGTERM/SIGINT the server stops
    accepting connections and finishes the requests in flight (up to 30 s) before it exits."""
    import uvicorn

    from her2cds.adapters.api.app import create_app

    settings = settings or Settings()
    logging.config.dictConfig(log_config(settings.log_level))
    check_exposure(host, settings, insecure=insecure)
    if settings.engine == "auto":
        settings = settings.model_copy(update={"engine": "process"})
    if settings.engine == "thread":
        # the event loop shares the GIL with the engine threads: let it take the GIL back sooner (default 5 ms)
        sys.setswitchinterval(0.001)
    from her2cds.adapters.api.fastpath import HealthAnswer

    app = create_app(settings, loopback=is_loopback(host))
    state: AppState = app.state.her2cds
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=header_timeout_protocol(settings.header_timeout_seconds, state.admission, HealthAnswer(settings)),
        log_config=log_config(settings.log_level),
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=30,
    )
