"""Unit tests of the HTTP layer's helpers: content negotiation, settings, error mapping, loopback check."""

from __future__ import annotations

import asyncio
import sys

import pytest
from pydantic import ValidationError

from her2cds.adapters.api.errors import ServiceError, status_for
from her2cds.adapters.api.io import FHIR_JSON, JSON, negotiate
from her2cds.adapters.api.server import is_loopback
from her2cds.adapters.api.settings import Settings, unknown_environment_names
from her2cds.errors import (
    InternalError,
    InvalidInputError,
    KnowledgeBaseError,
    MalformedInputError,
    NotFoundError,
    UsageError,
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("application/fhir+json", FHIR_JSON),
        ("application/fhir+json, application/json", FHIR_JSON),
        ("application/json, application/fhir+json", JSON),
        ("application/json;q=0.5, application/fhir+json", FHIR_JSON),
        ("application/fhir+json;q=0.1, */*", JSON),
        ("application/*", JSON),
        ("text/html, application/fhir+json;q=0.8", FHIR_JSON),
        ("application/fhir+json; fhirVersion=4.0", FHIR_JSON),
    ],
)
def test_negotiate(accept: str | None, expected: str) -> None:
    assert negotiate(accept) == expected


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json;q=0, application/fhir+json;q=0"])
def test_negotiate_refuses(accept: str) -> None:
    with pytest.raises(ServiceError) as info:
        negotiate(accept)
    assert info.value.status == 406


def test_status_mapping() -> None:
    assert status_for(MalformedInputError.single("", "x")) == 400
    assert status_for(InvalidInputError.single("a", "x")) == 422
    assert status_for(NotFoundError("x")) == 404
    assert status_for(UsageError("x")) == 400
    assert status_for(KnowledgeBaseError("x")) == 500
    assert status_for(InternalError("x")) == 500


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HER2CDS_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("HER2CDS_CDS_ALLOWED_ISSUERS", '["https://ehr.example/"]')
    monkeypatch.setenv("HER2CDS_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("HER2CDS_API_TOKEN", "s3cr3t-v4lue")
    monkeypatch.setenv("HER2CDS_PUBLIC_BASE_URL", "https://cds.example.org/")
    settings = Settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.cds_allowed_issuers == ["https://ehr.example/"]
    assert settings.max_body_bytes == 4096
    assert settings.api_token is not None and settings.api_token.get_secret_value() == "s3cr3t-v4lue"
    assert "s3cr3t" not in repr(settings)
    assert settings.public_base_url == "https://cds.example.org"


def test_settings_defaults_are_safe() -> None:
    settings = Settings()
    assert settings.api_token is None
    assert settings.cors_origins == []
    assert settings.cds_jwks_file is None
    assert "HS256" not in settings.cds_jwt_algorithms and "none" not in settings.cds_jwt_algorithms


@pytest.mark.parametrize("algorithms", [["HS256"], ["none"], []])
def test_settings_refuse_symmetric_algorithms(algorithms: list[str]) -> None:
    with pytest.raises(ValidationError):
        Settings(cds_jwt_algorithms=algorithms)


def test_settings_refuse_unknown_fields_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        Settings(max_body_bytes=10)
    with pytest.raises(ValidationError):
        Settings(public_base_url="cds.example.org")


def test_unknown_environment_names() -> None:
    names = unknown_environment_names({"HER2CDS_API_TOKN": "x", "HER2CDS_API_TOKEN": "y", "PATH": "/bin"})
    assert names == ["HER2CDS_API_TOKN"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.8.8.8", True),
        ("0.0.0.0", False),
        ("192.168.1.2", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_run_passes_safe_options_to_uvicorn(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import logging.config
    from typing import Any

    import uvicorn

    from her2cds.adapters.api import run

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: None)  # keep the test process's logging
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append({"app": app, **kwargs}))
    switch: list[float] = []
    monkeypatch.setattr(sys, "setswitchinterval", switch.append)  # keep the test process's GIL interval
    caplog.set_level("WARNING", logger="her2cds.api")

    run("127.0.0.1", 8123, Settings())
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["port"] == 8123
    assert calls[-1]["access_log"] is False and calls[-1]["server_header"] is False
    assert calls[-1]["log_config"]["loggers"]["httpx"]["level"] == "WARNING"
    assert calls[-1]["timeout_graceful_shutdown"] >= 10  # SIGTERM drains the requests in flight
    assert issubclass(calls[-1]["http"], asyncio.Protocol)  # with the request-header timeout
    assert switch == []  # the default engine is worker processes: no engine thread shares the GIL
    assert calls[-1]["app"].state.her2cds.engine.kind == "process"
    assert caplog.records == []
    run("127.0.0.1", 8123, Settings(engine="thread"))
    assert calls[-1]["app"].state.her2cds.engine.kind == "thread"
    assert switch == [0.001]  # engine threads: the event loop takes the GIL back sooner

    with pytest.raises(UsageError, match="--insecure"):
        run("0.0.0.0", 8124, Settings())
    run("0.0.0.0", 8124, Settings(), insecure=True)
    messages = [record.getMessage() for record in caplog.records]
    assert any("WITHOUT authentication" in m and "HER2CDS_API_TOKEN" in m for m in messages)
