"""Deployment defaults (issue 10 item 8): security headers, API docs without a CDN, Content-Type required on
POST, a Host allow-list, no client-chosen request id in the logs, control characters escaped in text output."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from her2cds import examples
from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.cli import main
from tests.api.client import Client, assert_envelope

CASE = examples.load()


def test_security_headers_on_json_and_errors(client: Client) -> None:
    for response in (client.post("/v1/assess", json=CASE), client.get("/nope"), client.get("/healthz")):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"


def test_api_docs_use_local_assets_under_a_strict_policy(client: Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert "<script>" not in page.text  # no inline script: the policy allows none
    for src in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/assets/init.js"):
        assert src in page.text
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 50, src
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "/openapi.json" in client.get("/docs/assets/init.js").text
    assert client.get("/docs/assets/../../etc/passwd").status_code == 404
    assert client.get("/docs/assets/secret.py").status_code == 404


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_post_needs_a_json_content_type(client: Client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/assess", content=json.dumps(CASE).encode(), headers=headers)
    assert_envelope(response, 415, "unsupported_media_type")


def test_host_allow_list() -> None:
    client = Client(create_app(Settings(allowed_hosts=["cds.example.org"])), base_url="http://cds.example.org")
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz", headers={"host": "cds.example.org:443"}).status_code == 200
    assert_envelope(client.get("/healthz", headers={"host": "evil.example"}), 400, "bad_request")
    assert_envelope(client.post("/v1/assess", json=CASE, headers={"host": "evil.example"}), 400, "bad_request")


def test_client_request_id_is_logged_only_as_a_hash(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="her2cds")
    mrn = "MRN-0042-7731"
    response = client.post("/v1/assess", json=CASE, headers={"x-request-id": mrn})
    assert response.status_code == 200
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert mrn not in text and mrn not in response.headers["x-request-id"]
    assert hashlib.sha256(mrn.encode()).hexdigest()[:12] in text
    assert response.headers["x-request-id"] in text


def test_text_output_escapes_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads(json.dumps(CASE))
    case["id"] = "case\x1b[2J\x1b[31m\u202eevil"
    case["specimens"][0]["id"] = "S\x07\x1b]0;title\x07"
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    assert main(["assess", str(path), "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "\\x1b[2J" in out or "\\x07" in out
    assert "\n" in out  # layout kept
