"""The error envelope on every error, the body-size limit, the /v1 bearer token, CORS and request ids."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from her2cds import examples
from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.api.deps import get_assessor
from her2cds.adapters.api.state import Assessor
from her2cds.model.assessment import Assessment
from tests.api.client import Client, assert_envelope


def test_unknown_path_is_404_envelope(client: Client) -> None:
    error = assert_envelope(client.get("/v1/nothing-here"), 404, "not_found")
    assert "/v1/nothing-here" in error["message"]


def test_wrong_method_is_405_envelope(client: Client) -> None:
    response = client.request("DELETE", "/v1/assess")
    assert_envelope(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


def test_query_validation_is_422_envelope(client: Client) -> None:
    error = assert_envelope(client.get("/v1/knowledge", params={"limit": "many"}), 422, "invalid_input", "limit")
    assert "'many'" in error["message"]


def test_declared_oversized_body_is_413() -> None:
    client = Client(create_app(Settings(max_body_bytes=2048)))
    response = client.post(
        "/v1/assess", content=b"{" + b" " * 4096 + b"}", headers={"content-type": "application/json"}
    )
    error = assert_envelope(response, 413, "payload_too_large")
    assert "2048" in error["message"]


def test_streamed_oversized_body_is_413() -> None:
    """No Content-Length (chunked upload): the limit applies while the body is read."""
    client = Client(create_app(Settings(max_body_bytes=2048)))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"tumor": {"oncotree_code": "STAD"}, "id": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'"}'

    response = client.post("/v1/assess", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, "payload_too_large")


def test_body_within_limit_passes() -> None:
    client = Client(create_app(Settings(max_body_bytes=4096)))
    assert client.post("/v1/assess", json=examples.load(examples.DEFAULT)).status_code == 200


def test_bad_content_length_is_400() -> None:
    client = Client(create_app(Settings()))
    response = client.post(
        "/v1/assess", content=b"{}", headers={"content-length": "lots", "content-type": "application/json"}
    )
    assert_envelope(response, 400, "bad_request")


def test_unexpected_exception_is_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings())

    def exploding(case: dict[str, object]) -> Assessment:
        raise RuntimeError("secret detail about Zebulon Quixotefield")

    def provider() -> Assessor:
        return exploding

    app.dependency_overrides[get_assessor] = provider
    caplog.set_level(logging.DEBUG)
    response = Client(app).post("/v1/assess", json=examples.load(examples.DEFAULT))
    error = assert_envelope(response, 500, "internal_error")
    assert "Zebulon" not in response.text and "secret" not in response.text
    assert response.headers["x-request-id"] in error["message"]
    assert "RuntimeError" in caplog.text  # the log says what failed ...
    assert "Zebulon" not in caplog.text  # ... but never quotes the message


def test_batch_item_exception_is_isolated() -> None:
    app = create_app(Settings())

    def flaky(case: dict[str, object]) -> Assessment:
        if case.get("id") == "boom":
            raise RuntimeError("boom")
        from her2cds import assess

        return assess(case)

    app.dependency_overrides[get_assessor] = lambda: flaky
    good = examples.load(examples.DEFAULT)
    response = Client(app).post("/v1/assess/batch", json=[{**good, "id": "boom"}, good])
    assert response.status_code == 200
    first, second = response.json()
    assert first["index"] == 0 and first["error"]["code"] == "internal_error"
    assert second["her2"]["status"] == "positive"


# ---- bearer token ---------------------------------------------------------------------------------------
@pytest.fixture
def secured() -> Client:
    return Client(create_app(Settings(api_token=SecretStr("s3cret-token"))))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/assess"),
        ("POST", "/v1/assess/batch"),
        ("POST", "/v1/fhir/assess"),
        ("GET", "/v1/knowledge"),
        ("GET", "/v1/knowledge/asco-cap-2018"),
        ("GET", "/v1/service-info"),
    ],
)
def test_v1_needs_the_token(secured: Client, method: str, path: str) -> None:
    response = secured.request(method, path)
    assert_envelope(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    wrong = secured.request(method, path, headers={"authorization": "Bearer nope"})
    assert_envelope(wrong, 401, "unauthorized")
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]


def test_right_token_is_accepted(secured: Client) -> None:
    headers = {"authorization": "Bearer s3cret-token"}
    assert secured.get("/v1/service-info", headers=headers).status_code == 200
    assert secured.post("/v1/assess", json=examples.load(examples.DEFAULT), headers=headers).status_code == 200


def test_health_and_openapi_stay_open(secured: Client) -> None:
    assert secured.get("/healthz").status_code == 200
    assert secured.get("/openapi.json").status_code == 200


def test_token_check_comes_before_body_validation(secured: Client) -> None:
    response = secured.post("/v1/assess", content=b"{bad", headers={"content-type": "application/json"})
    assert_envelope(response, 401, "unauthorized")


# ---- CORS -----------------------------------------------------------------------------------------------
def test_cors_is_off_by_default(client: Client) -> None:
    response = client.get("/healthz", headers={"origin": "https://ehr.example.org"})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.request(
        "OPTIONS", "/v1/assess", headers={"origin": "https://ehr.example.org", "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_when_configured() -> None:
    client = Client(create_app(Settings(cors_origins=["https://ehr.example.org"])))
    allowed = client.get("/healthz", headers={"origin": "https://ehr.example.org"})
    assert allowed.headers["access-control-allow-origin"] == "https://ehr.example.org"
    other = client.get("/healthz", headers={"origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.request(
        "OPTIONS",
        "/v1/assess",
        headers={
            "origin": "https://ehr.example.org",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]


# ---- request ids ----------------------------------------------------------------------------------------
def test_client_request_id_is_never_used_verbatim(client: Client) -> None:
    """A client-chosen id can carry an MRN: the service uses its own id (and logs only a hash of the client's)."""
    response = client.get("/healthz", headers={"x-request-id": "MRN-12345678"})
    assert response.headers["x-request-id"] != "MRN-12345678"
    assert len(response.headers["x-request-id"]) == 32


def test_unsafe_request_id_is_replaced(client: Client) -> None:
    response = client.get("/healthz", headers={"x-request-id": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32


def test_error_responses_carry_the_request_id(client: Client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.headers["x-request-id"]


def test_asgi_transport_sanity() -> None:
    """The helper client really goes through the ASGI app (guards the other tests against vacuity)."""
    assert isinstance(Client(create_app(Settings())).get("/healthz"), httpx.Response)
