"""The OpenAPI document: a snapshot (contract review), examples that run, and the error envelope everywhere."""

from __future__ import annotations

import difflib
import json
from typing import Any

import pytest

from her2cds.adapters.api import Settings, create_app
from tests.api.client import Client
from tests.api.snapshot import SNAPSHOT, document, render

REGENERATE = "python -m tests.api.snapshot"


def test_openapi_matches_the_snapshot() -> None:
    assert SNAPSHOT.is_file(), f"no snapshot yet: run `{REGENERATE}`"
    expected = SNAPSHOT.read_text(encoding="utf-8")
    actual = render(document())
    if actual != expected:
        diff = "".join(
            list(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "snapshot", "current", n=2))[
                :80
            ]
        )
        pytest.fail(f"the OpenAPI document changed; review and run `{REGENERATE}`:\n{diff}")


def test_openapi_is_served(client: Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]


def test_every_post_has_a_documented_body_with_examples() -> None:
    spec = create_app(Settings()).openapi()
    posts = [(path, op) for path, method, op in _operations(spec) if method == "post"]
    assert len(posts) == 7
    for path, op in posts:
        if path == "/v1/cases/{case_id}/assessments":  # re-assess a stored case: no body
            assert "requestBody" not in op
            continue
        content = op["requestBody"]["content"]
        assert "application/json" in content, path
        ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert ref in spec["components"]["schemas"], path
        if path.startswith("/v1"):
            assert content["application/json"]["examples"], path


def test_errors_are_documented_with_the_envelope() -> None:
    spec = create_app(Settings()).openapi()
    for path, method, op in _operations(spec):
        for status, response in op["responses"].items():
            assert "HTTPValidationError" not in json.dumps(response), (path, method, status)
            if status in {"401", "413", "422", "500"}:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, method, status)


def test_openapi_examples_run(client: Client) -> None:
    """Every request example in the document is a working request (executable documentation)."""
    spec = client.get("/openapi.json").json()
    seen = 0
    for path, method, op in _operations(spec):
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            for name, example in content.get("examples", {}).items():
                url = path.replace("{service_id}", "her2-assessment")
                response = client.request(method.upper(), url, json=example["value"], headers={"content-type": media})
                assert response.status_code == (201 if path == "/v1/cases" else 200), (path, name, response.text)
                seen += 1
    assert seen >= 8


def test_every_operation_has_examples_security_and_a_stable_id() -> None:
    spec = create_app(Settings()).openapi()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer" and schemes["cdsClientJwt"]["bearerFormat"] == "JWT"
    ids = set()
    for path, method, op in _operations(spec):
        assert "_" not in op["operationId"] or not op["operationId"].endswith(("_get", "_post")), op["operationId"]
        ids.add(op["operationId"])
        if path.startswith(("/v1", "/cds-services")):
            assert op["security"], (path, method)
        for media in op.get("requestBody", {}).get("content", {}).values():
            assert media.get("examples") or "example" in media, (path, method)
        for status, response in op["responses"].items():
            for media_type, media in response.get("content", {}).items():
                assert media.get("examples") or "example" in media, (path, method, status, media_type)
        if method == "post" and "requestBody" in op:
            assert {"400", "415", "503"} <= set(op["responses"]), (path, method)
            assert "Retry-After" in op["responses"]["503"]["headers"]
    assert {"assess", "assess_batch", "assess_fhir", "call", "feedback", "healthz"} <= ids


def test_error_examples_are_envelopes_with_their_code() -> None:
    spec = create_app(Settings()).openapi()
    call = spec["paths"]["/cds-services/{service_id}"]["post"]["responses"]
    assert call["400"]["content"]["application/json"]["example"]["error"]["code"] == "bad_request"
    assert call["503"]["content"]["application/json"]["example"]["error"]["code"] == "service_unavailable"
    assess = spec["paths"]["/v1/assess"]["post"]["responses"]["200"]["content"]["application/json"]["example"]
    assert assess["her2"]["status"] and assess["versions"]["knowledge_base"]
