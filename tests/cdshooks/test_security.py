"""CDS client JWT verification (CDS Hooks 2.0 "Trusting CDS Clients") with locally generated keys."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.cdshooks.security import CdsJwtVerifier, RegisteredClient, ReplayCache, load_jwks
from her2cds.errors import UsageError
from tests.api.client import Client, assert_envelope
from tests.cdshooks.spec import load

ISSUER = "https://ehr.example.org/"
BASE = "http://testserver"
DISCOVERY = f"{BASE}/cds-services"


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "ehr-ec-1", "use": "sig", "alg": "ES384"})


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "ehr-rsa-1", "use": "sig", "alg": "RS384"})


@pytest.fixture
def jwks_file(tmp_path: Path, ec_key: ECKey, rsa_key: RSAKey) -> Path:
    path = tmp_path / "trusted-clients.jwks.json"
    path.write_text(json.dumps({"keys": [ec_key.as_dict(private=False), rsa_key.as_dict(private=False)]}))
    return path


def token(
    key: Any,
    aud: str | list[str] = DISCOVERY,
    *,
    alg: str = "ES384",
    kid: str | None = "ehr-ec-1",
    typ: str | None = "JWT",
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "ehr-client",
        "aud": aud,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "tenant": "hospital-1",
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    header: dict[str, Any] = {"alg": alg}
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(header, payload, key, algorithms=[alg], default_type=typ)


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


@pytest.fixture
def secured(jwks_file: Path) -> Client:
    return Client(create_app(Settings(cds_jwks_file=jwks_file, cds_allowed_issuers=[ISSUER], public_base_url=BASE)))


def test_valid_es384_token_is_accepted(secured: Client, ec_key: ECKey) -> None:
    assert secured.get("/cds-services", headers=bearer(token(ec_key))).status_code == 200


def test_valid_rs384_token_is_accepted(secured: Client, rsa_key: RSAKey) -> None:
    response = secured.get("/cds-services", headers=bearer(token(rsa_key, alg="RS384", kid="ehr-rsa-1")))
    assert response.status_code == 200


def test_audience_may_be_a_list(secured: Client, ec_key: ECKey) -> None:
    assert secured.get("/cds-services", headers=bearer(token(ec_key, aud=[DISCOVERY]))).status_code == 200


def test_missing_token_is_401(secured: Client) -> None:
    response = secured.get("/cds-services")
    assert_envelope(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda k: token(k, aud=f"{BASE}/cds-services/her2-assessment"), "aud"),
        (lambda k: token(k, aud="https://other.example.org/cds-services"), "aud"),
        (lambda k: token(k, exp=int(time.time()) - 600, iat=int(time.time()) - 900), "exp"),
        (lambda k: token(k, iat=int(time.time()) + 3600, exp=int(time.time()) + 3700), "iat"),
        (lambda k: token(k, jti=None), "jti"),
        (lambda k: token(k, iss=None), "iss"),
        (lambda k: token(k, iss="https://rogue.example.org/"), "iss"),
        (lambda k: token(k, exp=int(time.time()) + 7200), "lifetime"),
        (lambda k: token(k, kid=None), "kid"),
        (lambda k: token(k, typ=None), "typ"),
        (lambda k: token(k, kid="unknown-kid"), "signature"),
        (lambda k: token(ECKey.generate_key("P-384", parameters={"kid": "ehr-ec-1"})), "signature"),
        (lambda k: token(OctKey.import_key(b"a-shared-secret-that-is-long-enough!!"), alg="HS256"), "HS256"),
        (lambda k: "not.a.jwt", "header"),
        (lambda k: "abc", "compact"),
    ],
)
def test_bad_tokens_are_401(secured: Client, ec_key: ECKey, make: Any, needle: str) -> None:
    error = assert_envelope(secured.get("/cds-services", headers=bearer(make(ec_key))), 401, "unauthorized")
    assert needle in error["message"], error["message"]


def test_unsigned_token_is_refused(secured: Client) -> None:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    unsigned = (
        b64({"alg": "none", "typ": "JWT", "kid": "ehr-ec-1"})
        + "."
        + b64({"iss": ISSUER, "aud": DISCOVERY, "iat": now, "exp": now + 60, "jti": "x"})
        + "."
    )
    error = assert_envelope(secured.get("/cds-services", headers=bearer(unsigned)), 401, "unauthorized")
    assert "'none'" in error["message"]


def test_replayed_token_is_refused(secured: Client, ec_key: ECKey) -> None:
    value = token(ec_key)
    assert secured.get("/cds-services", headers=bearer(value)).status_code == 200
    error = assert_envelope(secured.get("/cds-services", headers=bearer(value)), 401, "unauthorized")
    assert "replay" in error["message"]


def test_every_cds_endpoint_needs_a_token_for_its_own_url(secured: Client, ec_key: ECKey) -> None:
    feedback = load("spec-2.0/spec2-24-example-suggestion-accepted.json")
    url = f"{BASE}/cds-services/her2-assessment/feedback"
    assert_envelope(secured.post("/cds-services/her2-assessment/feedback", json=feedback), 401, "unauthorized")
    wrong = secured.post("/cds-services/her2-assessment/feedback", json=feedback, headers=bearer(token(ec_key)))
    assert_envelope(wrong, 401, "unauthorized")
    right = secured.post(
        "/cds-services/her2-assessment/feedback", json=feedback, headers=bearer(token(ec_key, aud=url))
    )
    assert right.status_code == 200
    service = f"{BASE}/cds-services/her2-therapy-check"
    body = {
        "hook": "order-select",
        "hookInstance": str(uuid.uuid4()),
        **load("hooks-2.0/order-select-00-example-r4.json"),
    }
    assert_envelope(secured.post("/cds-services/her2-therapy-check", json=body), 401, "unauthorized")
    ok = secured.post("/cds-services/her2-therapy-check", json=body, headers=bearer(token(ec_key, aud=service)))
    assert ok.status_code == 200


def test_feedback_records_the_verified_client(jwks_file: Path, ec_key: ECKey) -> None:
    app = create_app(Settings(cds_jwks_file=jwks_file, cds_allowed_issuers=[ISSUER], public_base_url=BASE))
    url = f"{BASE}/cds-services/her2-assessment/feedback"
    Client(app).post(
        "/cds-services/her2-assessment/feedback",
        headers=bearer(token(ec_key, aud=url)),
        json=load("spec-2.0/spec2-26-example-overridden-guidance-with-overridereason.json"),
    )
    (stored,) = app.state.her2cds.feedback.items()
    assert stored.client == ISSUER


def test_public_base_url_sets_the_audience_not_the_host_header(jwks_file: Path, ec_key: ECKey) -> None:
    settings = Settings(cds_jwks_file=jwks_file, cds_allowed_issuers=[ISSUER], public_base_url="https://cds.example.org")
    client = Client(create_app(settings))
    assert client.get("/cds-services", headers=bearer(token(ec_key))).status_code == 401  # aud = the Host's URL
    good = token(ec_key, aud="https://cds.example.org/cds-services")
    assert client.get("/cds-services", headers=bearer(good)).status_code == 200
    spoofed = token(ec_key, aud="https://attacker.example/cds-services")
    response = client.get("/cds-services", headers={**bearer(spoofed), "host": "attacker.example"})
    assert response.status_code == 401


def test_jwt_without_public_base_url_refuses_to_start(jwks_file: Path) -> None:
    with pytest.raises(UsageError, match="HER2CDS_PUBLIC_BASE_URL"):
        create_app(Settings(cds_jwks_file=jwks_file, cds_allowed_issuers=[ISSUER]))


@pytest.mark.parametrize("issuers", [[], [ISSUER, "https://another-ehr.example.org/"]])
def test_a_jwks_file_binds_its_keys_to_exactly_one_issuer(jwks_file: Path, issuers: list[str]) -> None:
    with pytest.raises(UsageError, match="exactly"):
        create_app(Settings(cds_jwks_file=jwks_file, cds_allowed_issuers=issuers, public_base_url=BASE))


def test_another_issuer_is_refused_even_with_a_trusted_key(secured: Client, ec_key: ECKey) -> None:
    other = token(ec_key, iss="https://another-ehr.example.org/")
    error = assert_envelope(secured.get("/cds-services", headers=bearer(other)), 401, "unauthorized")
    assert "iss" in error["message"]


def test_jwt_does_not_guard_v1_or_health(secured: Client) -> None:
    assert secured.get("/healthz").status_code == 200
    assert secured.get("/v1/service-info").status_code == 200


def test_without_jwks_cds_hooks_are_open(client: Client) -> None:
    assert client.get("/cds-services").status_code == 200


def test_the_spec_example_token_is_not_trusted_by_default(secured: Client) -> None:
    """The spec's example token (signed with its published example key, long expired) must fail."""
    example = load("spec-3.0-ballot/spec3-35-json-web-key-set-public-key.json")
    assert example["keys"][0]["kid"] == "example-kid"
    error = assert_envelope(
        secured.get(
            "/cds-services",
            headers=bearer(
                "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9maGlyLWVoci5leGFtcGxl"
                "LmNvbS9qd2tfdXJpIn0.eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUuY29tLyIsInN1YiI6ImNsaWVudF9pZCIsImF1ZCI6"
                "Imh0dHBzOi8vY2RzLmV4YW1wbGUub3JnL2Nkcy1zZXJ2aWNlcy9zb21lLXNlcnZpY2UiLCJleHAiOjE0MjI1Njg4NjAsImlhdCI6MTMx"
                "MTI4MDk3MCwianRpIjoiZWUyMmIwMjEtZTFiNy00NjExLWJhNWItOGVlYzZhMzNhYzFlIiwidGVuYW50IjoiMmRkZDZjM2EtOGU5YS00"
                "NGM2LWEzMDUtNTIxMTFhZDMwMmEyIn0.CUFPkplnWd6YGIvzoHolWCQBDsCL8QtTWKGg_QFpS169WrqDGzktRi-_we6-6rVzbjerU27Z"
                "Kww_SW0-b9RTz-dPJNcqsueMio8r6EqXUXhbLm_ch3XFSbDlGHDl_tqo"
            ),
        ),
        401,
        "unauthorized",
    )
    assert "not a registered CDS client" in error["message"]


def test_spec_example_jwks_verifies_its_example_token(tmp_path: Path) -> None:
    """With the spec's example public key trusted, its example token fails only on its claims (expired, other
    audience): the signature check itself agrees with the specification's example."""
    path = tmp_path / "spec.jwks.json"
    path.write_text(json.dumps(load("spec-3.0-ballot/spec3-35-json-web-key-set-public-key.json")))
    header, payload = (
        load("spec-3.0-ballot/spec3-33-json-web-token-header.json"),
        load("spec-3.0-ballot/spec3-34-json-web-token-payload.json"),
    )
    verifier = CdsJwtVerifier(
        {payload["iss"]: RegisteredClient(payload["iss"], load_jwks(path))},
        algorithms=["ES384"],
        clock=lambda: payload["iat"] + 10,
        max_lifetime_seconds=10**9,
    )
    spec_token = (
        "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9maGlyLWVoci5leGFtcGxl"
        "LmNvbS9qd2tfdXJpIn0.eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUuY29tLyIsInN1YiI6ImNsaWVudF9pZCIsImF1ZCI6"
        "Imh0dHBzOi8vY2RzLmV4YW1wbGUub3JnL2Nkcy1zZXJ2aWNlcy9zb21lLXNlcnZpY2UiLCJleHAiOjE0MjI1Njg4NjAsImlhdCI6MTMx"
        "MTI4MDk3MCwianRpIjoiZWUyMmIwMjEtZTFiNy00NjExLWJhNWItOGVlYzZhMzNhYzFlIiwidGVuYW50IjoiMmRkZDZjM2EtOGU5YS00"
        "NGM2LWEzMDUtNTIxMTFhZDMwMmEyIn0.CUFPkplnWd6YGIvzoHolWCQBDsCL8QtTWKGg_QFpS169WrqDGzktRi-_we6-6rVzbjerU27Z"
        "Kww_SW0-b9RTz-dPJNcqsueMio8r6EqXUXhbLm_ch3XFSbDlGHDl_tqo"
    )
    client = verifier.verify(f"Bearer {spec_token}", payload["aud"])
    assert client.issuer == payload["iss"] and client.key_id == header["kid"] and client.tenant == payload["tenant"]


def test_replay_cache_forgets_expired_tokens() -> None:
    cache = ReplayCache(max_entries=2)
    assert cache.first_use("i", "a", expires=10, now=0)
    assert not cache.first_use("i", "a", expires=10, now=5)
    assert cache.first_use("i", "a", expires=30, now=20)  # the first one expired
    assert cache.first_use("i", "b", expires=30, now=20)
    assert cache.first_use("i", "c", expires=30, now=20)
    assert len(cache) == 2


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("not json", "not valid JSON"),
        ('{"keys": []}', "non-empty"),
        ('{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}', "symmetric"),
        ('{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "x": "a", "y": "b", "d": "c"}]}', "private"),
        ('{"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]}', "kid"),
    ],
)
def test_jwks_file_is_checked(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "bad.jwks.json"
    path.write_text(content)
    with pytest.raises(UsageError) as info:
        load_jwks(path)
    assert needle in str(info.value)


def test_missing_jwks_file_fails_at_startup(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        create_app(Settings(cds_jwks_file=tmp_path / "missing.json"))
