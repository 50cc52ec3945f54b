"""Verification of CDS client JWTs (CDS Hooks 2.0, "Trusting CDS Clients").

Each call carries ``Authorization: Bearer <JWT>`` signed by the CDS client with an asymmetric key. The service
checks, in order: the header (``alg`` among the configured asymmetric algorithms, ``typ`` = ``JWT``, ``kid``
present), the signature against the configured JWK Set (the ``jku`` header is never fetched: keys are
exchanged out of band), the claims (``iss`` in the allowlist when one is configured; ``aud`` = the URL of the
endpoint being called; ``exp``, ``iat`` and ``jti`` present; not expired, not issued in the future, lifetime
bounded) and finally that the ``jti`` has not been seen before (replay protection, per application instance).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import KeySet

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


class ReplayCache:
    """Remembers ``(iss, jti)`` pairs until their token expires; bounded (oldest entries are evicted)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def first_use(self, issuer: str, token_id: str, expires: float, now: float) -> bool:
        key = (issuer, token_id)
        with self._lock:
            for old_key in [k for k, exp in self._seen.items() if exp < now]:
                del self._seen[old_key]
            if key in self._seen:
                return False
            self._seen[key] = expires
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)
            return True

    def __len__(self) -> int:
        return len(self._seen)


def load_jwks(path: Path) -> KeySet:
    """The public JWK Set in ``path``. Private or symmetric keys are refused: the file holds only what the
    CDS clients publish."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the CDS client JWK Set {path}: {exc.strerror}") from None
    except ValueError:
        raise UsageError(f"the CDS client JWK Set {path} is not valid JSON") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        raise UsageError(f"the CDS client JWK Set {path} needs a non-empty 'keys' array")
    for index, key in enumerate(keys):
        if not isinstance(key, dict):
            raise UsageError(f"{path}: keys[{index}] is not a JSON object")
        if key.get("kty") == "oct":
            raise UsageError(f"{path}: keys[{index}] is a symmetric key; CDS Hooks requires asymmetric keys")
        if "d" in key:
            raise UsageError(f"{path}: keys[{index}] contains private key material; give public keys only")
        if not isinstance(key.get("kid"), str) or not key["kid"]:
            raise UsageError(f"{path}: keys[{index}] has no 'kid'; CDS Hooks identifies keys by kid")
    try:
        return KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError) as exc:
        raise UsageError(f"{path}: the JWK Set could not be imported ({type(exc).__name__})") from None


def _b64json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


class CdsJwtVerifier:
    def __init__(
        self,
        key_set: KeySet,
        *,
        algorithms: Sequence[str],
        allowed_issuers: Sequence[str] = (),
        leeway_seconds: int = 60,
        max_lifetime_seconds: int = 3600,
        replay_cache: ReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = key_set
        self._algorithms = list(algorithms)
        self._issuers = list(allowed_issuers)
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
        try:
            decoded = jwt.decode(token, self._keys, algorithms=self._algorithms)
        except (JoseError, ValueError, TypeError):
            raise CdsAuthError("the JWT signature could not be verified with a trusted key") from None
        claims = decoded.claims
        now = self._clock()
        options: dict[str, Any] = {
            "iss": {"essential": True, **({"values": self._issuers} if self._issuers else {})},
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
        )

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
