"""SSRF through ``fhirServer`` (issue 10), against real fake FHIR servers on loopback ports: fetching is off
unless allowed; the allow-list compares parsed scheme, host, port and path; private addresses need an explicit
setting; no redirects; a size cap and a time budget; one uniform error; the token never reaches an unlisted
origin; a JWT client's registration can name its FHIR server."""

from __future__ import annotations

import ipaddress
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.cdshooks.egress import address_allowed
from her2cds.adapters.cdshooks.prefetch import FETCH_FAILED
from her2cds.errors import UsageError
from tests.api.client import Client, assert_envelope
from tests.cdshooks import fhirdata
from tests.cdshooks.loopback import LoopbackFhir, serve

TOKEN = "ehr-access-token-123"
AUTH = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "x"}
BASE = "http://testserver"


@pytest.fixture
def fhir() -> Iterator[LoopbackFhir]:
    resources = [fhirdata.patient(), fhirdata.condition("C16.9", "Stomach"), fhirdata.ihc("3+")]
    yield from serve(LoopbackFhir(resources))


@pytest.fixture
def other() -> Iterator[LoopbackFhir]:
    """A second server: the place a token must never reach."""
    yield from serve(LoopbackFhir([fhirdata.patient()]))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(client: Client, server: str, *, service: str = "her2-assessment", **headers: str) -> Any:
    body = fhirdata.patient_view(None, fhirServer=server, fhirAuthorization=AUTH)
    return client.post(f"/cds-services/{service}", json=body, headers=headers)


def app(*allowed: str, private: bool = True, **settings: Any) -> Client:
    return Client(create_app(Settings(fhir_allowed_servers=list(allowed), fhir_allow_private_networks=private,
                                      **settings)))


def diagnostics(response: Any) -> str:
    assert response.status_code == 412, response.text
    return str(response.json()["issue"][0]["diagnostics"])


# -- off by default ------------------------------------------------------------------------------------------
def test_fetching_is_off_without_an_allow_list(fhir: LoopbackFhir) -> None:
    response = call(Client(create_app(Settings())), fhir.base)
    assert "does not query FHIR servers" in diagnostics(response)
    assert fhir.seen == []


def test_allowed_server_is_queried_with_the_token(fhir: LoopbackFhir) -> None:
    response = call(app(fhir.base), fhir.base)
    assert response.status_code == 200, response.text
    assert response.json()["cards"][0]["summary"].startswith("HER2-positive")
    assert fhir.seen and all(seen.authorization == f"Bearer {TOKEN}" for seen in fhir.seen)
    assert all(seen.path.startswith("/fhir/") for seen in fhir.seen)


def test_loopback_needs_the_private_network_setting(fhir: LoopbackFhir) -> None:
    response = call(app(fhir.base, private=False), fhir.base)
    assert diagnostics(response).endswith(FETCH_FAILED + ".")
    assert fhir.seen == []  # refused before connecting: nothing (and no token) was sent


# -- the allow-list compares parsed parts exactly -----------------------------------------------------------
def test_credentials_trick_is_refused(fhir: LoopbackFhir) -> None:
    host = f"127.0.0.1:{fhir.port}"
    response = call(app(fhir.base), f"http://{host}@evil.example/fhir")
    assert_envelope(response, 422, "invalid_input", "fhirServer")
    assert fhir.seen == []


def test_another_port_of_an_allowed_host_is_refused(fhir: LoopbackFhir, other: LoopbackFhir) -> None:
    response = call(app(fhir.base), other.base)
    assert "not one this service may query" in diagnostics(response)
    assert other.seen == [] and fhir.seen == []


def test_a_host_without_port_does_not_allow_every_port(other: LoopbackFhir) -> None:
    response = call(app("http://127.0.0.1/fhir"), other.base)
    assert "not one this service may query" in diagnostics(response)
    assert other.seen == []


@pytest.mark.parametrize(
    "given",
    ["http://localhost.evil.example:{port}/fhir", "http://localhost:{port}/fhir", "https://127.0.0.1:{port}/fhir",
     "http://127.0.0.1:{port}/fhir-evil", "http://127.0.0.1:{port}/fhir/other", "http://127.0.0.1:{port}/"],
)
def test_look_alike_servers_are_refused(fhir: LoopbackFhir, given: str) -> None:
    response = call(app(fhir.base), given.format(port=fhir.port))
    assert "not one this service may query" in diagnostics(response)
    assert fhir.seen == []


@pytest.mark.parametrize("listed", ["{base}/", "{base}", "HTTP://127.0.0.1:{port}/fhir"])
def test_equivalent_spellings_of_the_allowed_base_are_allowed(fhir: LoopbackFhir, listed: str) -> None:
    response = call(app(listed.format(base=fhir.base, port=fhir.port)), fhir.base + "/")
    assert response.status_code == 200, response.text
    assert fhir.seen


def test_bad_allow_list_entries_refuse_to_start() -> None:
    with pytest.raises(ValueError, match="credentials"):
        Settings(fhir_allowed_servers=["http://user@fhir.example"])


# -- what an allowed server may do to us ---------------------------------------------------------------------
def test_redirects_are_not_followed(fhir: LoopbackFhir, other: LoopbackFhir) -> None:
    fhir.mode, fhir.redirect_to = "redirect", other.base
    assert diagnostics(call(app(fhir.base, other.base), fhir.base)).endswith(FETCH_FAILED + ".")
    assert fhir.seen and other.seen == []


def test_next_links_to_another_origin_are_not_followed(fhir: LoopbackFhir, other: LoopbackFhir) -> None:
    fhir.next_link = other.base + "/Condition?patient=pat-001&page=2"
    assert call(app(fhir.base), fhir.base).status_code == 200
    assert other.seen == []


@pytest.mark.parametrize("mode", ["huge", "huge-declared"])
def test_response_size_is_capped(fhir: LoopbackFhir, mode: str) -> None:
    fhir.mode = mode
    started = time.monotonic()
    response = call(app(fhir.base, fhir_max_response_bytes=100_000), fhir.base)
    assert diagnostics(response).endswith(FETCH_FAILED + ".")
    assert time.monotonic() - started < 20
    assert fhir.bytes_sent < 64 * 1024 * 1024  # the download was cut off, not read to the end


def test_time_budget_bounds_a_slow_server(fhir: LoopbackFhir) -> None:
    fhir.mode = "slow"
    started = time.monotonic()
    response = call(app(fhir.base, fhir_time_budget_seconds=0.5), fhir.base)
    assert diagnostics(response).endswith(FETCH_FAILED + ".")
    assert time.monotonic() - started < 2.5


def test_one_uniform_error_whatever_the_remote_side(fhir: LoopbackFhir) -> None:
    """Closed port, non-FHIR answer, FHIR error: the same text, so the service cannot be used as a port
    scanner."""
    closed = f"http://127.0.0.1:{_closed_port()}/fhir"
    texts = {diagnostics(call(app(closed), closed))}
    for mode in ("html", "error"):
        fhir.mode = mode
        texts.add(diagnostics(call(app(fhir.base), fhir.base)))
    assert len(texts) == 1, texts


@pytest.mark.parametrize(
    ("address", "public", "private"),
    [
        ("93.184.216.34", True, True),
        ("2606:2800:220:1::1", True, True),
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("10.1.2.3", False, True),
        ("192.168.0.10", False, True),
        ("100.64.0.1", False, True),
        ("fd00::1", False, True),
        ("::ffff:127.0.0.1", False, True),
        ("169.254.169.254", False, False),  # cloud metadata: never
        ("fe80::1", False, False),
        ("0.0.0.0", False, False),
        ("224.0.0.1", False, False),
        ("240.0.0.1", False, False),
    ],
)
def test_address_policy(address: str, public: bool, private: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert address_allowed(ip, allow_private_networks=False) is public
    assert address_allowed(ip, allow_private_networks=True) is private


# -- a JWT client's registration names its FHIR server -------------------------------------------------------
def _key(kid: str) -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": kid, "use": "sig", "alg": "ES384"})


def _token(key: ECKey, issuer: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": f"{BASE}/cds-services/her2-assessment", "iat": now, "exp": now + 300,
              "jti": str(uuid.uuid4())}
    return str(jwt.encode({"alg": "ES384", "kid": key.kid}, claims, key, algorithms=["ES384"]))


@pytest.fixture
def registry(tmp_path: Path, fhir: LoopbackFhir) -> tuple[Path, ECKey, ECKey]:
    key_a, key_b = _key("a-1"), _key("b-1")
    path = tmp_path / "clients.json"
    path.write_text(json.dumps({"clients": [
        {"issuer": "https://a.example/", "jwks": {"keys": [key_a.as_dict(private=False)]},
         "fhir_servers": [fhir.base]},
        {"issuer": "https://b.example/", "jwks": {"keys": [key_b.as_dict(private=False)]}},
    ]}))
    return path, key_a, key_b


def test_registered_server_is_queried_only_for_its_client(
    registry: tuple[Path, ECKey, ECKey], fhir: LoopbackFhir
) -> None:
    path, key_a, key_b = registry
    client = Client(create_app(Settings(cds_clients_file=path, public_base_url=BASE,
                                        fhir_allow_private_networks=True)))
    auth_b = {"authorization": f"Bearer {_token(key_b, 'https://b.example/')}"}
    assert "does not query FHIR servers" in diagnostics(call(client, fhir.base, **auth_b))
    assert fhir.seen == []  # client B's token never reaches client A's server
    auth_a = {"authorization": f"Bearer {_token(key_a, 'https://a.example/')}"}
    assert call(client, fhir.base, **auth_a).status_code == 200
    assert fhir.seen


def test_a_key_signs_only_for_its_own_issuer(registry: tuple[Path, ECKey, ECKey], fhir: LoopbackFhir) -> None:
    path, _, key_b = registry
    client = Client(create_app(Settings(cds_clients_file=path, public_base_url=BASE)))
    forged = {"authorization": f"Bearer {_token(key_b, 'https://a.example/')}"}  # B's key, A's name
    error = assert_envelope(call(client, fhir.base, **forged), 401, "unauthorized")
    assert "signature" in error["message"]
    assert fhir.seen == []


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"clients": []}', "non-empty"),
        ('{"clients": [{"issuer": "i", "jwks": {"keys": []}}]}', "non-empty"),
        ('{"clients": [{"issuer": "", "jwks": {"keys": []}}]}', "issuer"),
        ('{"clients": [{"issuer": "i", "jwks": {}, "extra": 1}]}', "must be an object"),
    ],
)
def test_client_registry_is_checked(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "clients.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=needle):
        create_app(Settings(cds_clients_file=path, public_base_url=BASE))


def test_registry_server_urls_are_checked(tmp_path: Path) -> None:
    key = _key("k")
    path = tmp_path / "clients.json"
    path.write_text(json.dumps({"clients": [{"issuer": "i", "jwks": {"keys": [key.as_dict(private=False)]},
                                             "fhir_servers": ["http://[::1"]}]}))
    with pytest.raises(UsageError, match="fhir_servers"):
        create_app(Settings(cds_clients_file=path, public_base_url=BASE))
