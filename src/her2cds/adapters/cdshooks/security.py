"""Verification of CDS client JWTs (CDS Hooks 2.0, "Trusting CDS Clients").

Each call carries ``Authorization: Bearer <JWT>`` signed by the CDS client with an asymmetric key. The service
checks, in order: the header (``alg`` among the configured asymmetric algorithms, ``typ`` = ``JWT``, ``kid``
present), the signature against the keys *registered for the token's issuer* (each trusted key is bound to one
issuer, so one client's key cannot sign as another; the ``jku`` header is never fetched: keys are exchanged out
of band), the claims (``iss`` registered; ``aud`` = the configured public URL of the endpoint being called, never
derived from the request; ``exp``, ``iat`` and ``jti`` present; not expired, not issued in the future, lifetime
bounded) and finally that the ``jti`` has not been seen before (replay protection, per application instance,
O(1) per check, entries expire with their token).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import KeySet

from her2cds.adapters.cdshooks.origin import BadServerUrlError, ServerUrl, parse_server_url
from her2cds.errors import UsageError


class CdsAuthError(Exception):
    """The CDS client's JWT was missing or not acceptable. ``reason`` is safe to return and to log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class VerifiedClient:
    issuer: str
    subject: str | None
    key_id: str
    token_id: str
    tenant: str | None
    fhir_servers: tuple[ServerUrl, ...] = ()


class ReplayCache:
    """Remembers ``(iss, jti)`` pairs until their token expires. O(1) amortised per check: a dict for lookup and
    a min-heap of expiry times from which expired entries are dropped as time passes. Bounded: past
    ``max_entries`` the entries closest to expiry are evicted first."""

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._expiry: list[tuple[float, tuple[str, str]]] = []
        self._lock = threading.Lock()
        self._max = max_entries

    def _drop_until(self, now: float) -> None:
        while self._expiry and (self._expiry[0][0] < now or len(self._seen) > self._max):
            expires, key = heapq.heappop(self._expiry)
            if self._seen.get(key) == expires:
                del self._seen[key]

    def first_use(self, issuer: str, token_id: str, expires: float, now: float) -> bool:
        key = (issuer, token_id)
        with self._lock:
            self._drop_until(now)
            if key in self._seen:
                return False
            self._seen[key] = expires
            heapq.heappush(self._expiry, (expires, key))
            self._drop_until(now)
            return True

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True)
class RegisteredClient:
    """A trusted CDS client: its issuer, its public keys and the FHIR servers the service may query for it."""

    issuer: str
    keys: KeySet
    fhir_servers: tuple[ServerUrl, ...] = ()


def _import_keys(keys: Any, where: str) -> KeySet:
    if not isinstance(keys, list) or not keys:
        raise UsageError(f"{where} needs a non-empty 'keys' array")
    for index, key in enumerate(keys):
        if not isinstance(key, dict):
            raise UsageError(f"{where}: keys[{index}] is not a JSON object")
        if key.get("kty") == "oct":
            raise UsageError(f"{where}: keys[{index}] is a symmetric key; CDS Hooks requires asymmetric keys")
        if "d" in key:
            raise UsageError(f"{where}: keys[{index}] contains private key material; give public keys only")
        if not isinstance(key.get("kid"), str) or not key["kid"]:
            raise UsageError(f"{where}: keys[{index}] has no 'kid'; CDS Hooks identifies keys by kid")
    try:
        return KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError) as exc:
        raise UsageError(f"{where}: the JWK Set could not be imported ({type(exc).__name__})") from None


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror}") from None
    except ValueError:
        raise UsageError(f"the {what} {path} is not valid JSON") from None


def load_clients(path: Path) -> dict[str, RegisteredClient]:
    """The client registry in ``path``: ``{"clients": [{"issuer", "jwks": {"keys": [...]}, "fhir_servers"}]}``."""
    data = _read_json(path, "CDS client registry")
    clients = data.get("clients") if isinstance(data, dict) else None
    if not isinstance(clients, list) or not clients:
        raise UsageError(f"the CDS client registry {path} needs a non-empty 'clients' array")
    registry: dict[str, RegisteredClient] = {}
    for index, entry in enumerate(clients):
        where = f"{path}: clients[{index}]"
        if not isinstance(entry, dict) or set(entry) - {"issuer", "jwks", "fhir_servers", "name"}:
            raise UsageError(f"{where} must be an object with issuer, jwks and optional fhir_servers, name")
        issuer = entry.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            raise UsageError(f"{where} needs an 'issuer' (the iss its JWTs carry)")
        if issuer in registry:
            raise UsageError(f"{where}: issuer {issuer!r} is registered twice")
        jwks = entry.get("jwks")
        keys = _import_keys(jwks.get("keys") if isinstance(jwks, dict) else None, f"{where}.jwks")
        servers = entry.get("fhir_servers", [])
        if not isinstance(servers, list) or not all(isinstance(url, str) for url in servers):
            raise UsageError(f"{where}.fhir_servers must be an array of URLs")
        try:
            parsed = tuple(parse_server_url(url) for url in servers)
        except BadServerUrlError as exc:
            raise UsageError(f"{where}.fhir_servers: {exc}") from None
        registry[issuer] = RegisteredClient(issuer, keys, parsed)
    return registry


def load_jwks(path: Path) -> KeySet:
    """The public JWK Set in ``path``. Private or symmetric keys are refused: the file holds only what the
    CDS clients publish."""
    data = _read_json(path, "CDS client JWK Set")
    return _import_keys(data.get("keys") if isinstance(data, dict) else None, f"the CDS client JWK Set {path}")


def _b64json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


class CdsJwtVerifier:
    def __init__(
        self,
        clients: Mapping[str, RegisteredClient],
        *,
        algorithms: Sequence[str],
        leeway_seconds: int = 60,
        max_lifetime_seconds: int = 3600,
        replay_cache: ReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not clients:
            raise UsageError("CDS client authentication needs at least one registered client")
        self._clients = dict(clients)
        self._algorithms = list(algorithms)
        self._leeway = leeway_seconds
        self._max_lifetime = max_lifetime_seconds
        self._replay = replay_cache or ReplayCache()
        self._clock = clock

    def verify(self, authorization: str | None, audience: str) -> VerifiedClient:
        """Check the ``Authorization`` header value for a call to the endpoint URL ``audience``."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise CdsAuthError("CDS Hooks calls need an Authorization: Bearer <JWT> header")
        header = self._header(token)
        client = self._clients.get(self._claimed_issuer(token))
        if client is None:
            raise CdsAuthError("the JWT claim 'iss' is not acceptable (not a registered CDS client)")
        try:  # only the claimed issuer's own keys: a key is bound to its issuer
            decoded = jwt.decode(token, client.keys, algorithms=self._algorithms)
        except (JoseError, ValueError, TypeError):
            raise CdsAuthError("the JWT signature could not be verified with a trusted key") from None
        claims = decoded.claims
        now = self._clock()
        options: dict[str, Any] = {
            "iss": {"essential": True, "values": [client.issuer]},
            "aud": {"essential": True, "values": [audience, audience + "/"]},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "jti": {"essential": True},
        }
        registry = jwt.JWTClaimsRegistry(now=int(now), leeway=self._leeway, **options)
        try:
            registry.validate(claims)
        except ClaimError as exc:
            raise CdsAuthError(f"the JWT claim {exc.claim!r} is not acceptable ({exc.error})") from None
        except JoseError:
            raise CdsAuthError("the JWT claims are not acceptable") from None
        if claims["exp"] - claims["iat"] > self._max_lifetime:
            raise CdsAuthError(f"the JWT lifetime (exp - iat) exceeds {self._max_lifetime} seconds")
        if not self._replay.first_use(claims["iss"], claims["jti"], float(claims["exp"]) + self._leeway, now):
            raise CdsAuthError("the JWT id (jti) was already used: replayed token")
        subject = claims.get("sub")
        tenant = claims.get("tenant")
        return VerifiedClient(
            issuer=claims["iss"],
            subject=subject if isinstance(subject, str) else None,
            key_id=header["kid"],
            token_id=claims["jti"],
            tenant=tenant if isinstance(tenant, str) else None,
            fhir_servers=client.fhir_servers,
        )

    @staticmethod
    def _claimed_issuer(token: str) -> str:
        """The (not yet verified) ``iss`` of the payload: it selects the keys the signature must verify with."""
        try:
            payload = _b64json(token.split(".")[1])
        except (ValueError, binascii.Error, UnicodeDecodeError, IndexError):
            raise CdsAuthError("the JWT payload is not valid base64url JSON") from None
        issuer = payload.get("iss") if isinstance(payload, dict) else None
        if not isinstance(issuer, str) or not issuer:
            raise CdsAuthError("the JWT claim 'iss' is not acceptable (missing)")
        return issuer

    def _header(self, token: str) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3:
            raise CdsAuthError("the bearer token is not a compact JWS (three dot-separated parts)")
        try:
            header = _b64json(parts[0])
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise CdsAuthError("the JWT header is not valid base64url JSON") from None
        if not isinstance(header, dict):
            raise CdsAuthError("the JWT header is not a JSON object")
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise CdsAuthError(
                f"JWT algorithm {alg!r} is not accepted (accepted: {', '.join(self._algorithms)}; "
                "none and symmetric algorithms are never accepted)"
            )
        if header.get("typ") != "JWT":
            raise CdsAuthError("the JWT header must have typ 'JWT'")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise CdsAuthError("the JWT header must name the signing key (kid)")
        return header
