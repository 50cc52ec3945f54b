"""Service settings, read from the environment (prefix ``HER2CDS_``) by pydantic-settings.

Every setting is documented in ``docs/service.md`` (a test checks this). Lists may be given as a JSON
array or as comma-separated text, e.g. ``HER2CDS_CORS_ORIGINS=https://a.example,https://b.example``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "HER2CDS_"

#: Asymmetric JWS algorithms a CDS client may sign with. The CDS Hooks 2.0 security section forbids ``none``
#: and every symmetric (HMAC) algorithm, and recommends ES384 and RS384.
ASYMMETRIC_ALGORITHMS = (
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
)

StrList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Immutable configuration of one service instance."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token required on /v1 endpoints. Unset: /v1 is open (fine on loopback only).",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1_024,
        description="Largest accepted request body in bytes; larger bodies get 413.",
    )
    max_batch_items: int = Field(default=500, ge=1, description="Largest number of cases in one batch request.")
    cors_origins: StrList = Field(
        default=[], description="Origins allowed by CORS. Empty (the default): no CORS headers at all."
    )
    public_base_url: str | None = Field(
        default=None,
        description=(
            "The service's externally visible base URL (e.g. https://cds.example.org): the expected JWT audience "
            "of CDS Hooks calls (never taken from the request's Host header). Required when CDS client JWTs are "
            "checked."
        ),
    )
    cds_clients_file: Path | None = Field(
        default=None,
        description=(
            "Registry of trusted CDS clients (JSON: clients[] with issuer, jwks and optional fhir_servers). Each "
            "client's keys verify only tokens of its own issuer; its fhir_servers may be queried on its calls. "
            "Set (or HER2CDS_CDS_JWKS_FILE): every /cds-services call must carry a signed JWT."
        ),
    )
    cds_jwks_file: Path | None = Field(
        default=None,
        description=(
            "JWK Set file (public keys) of ONE trusted CDS client, whose issuer is HER2CDS_CDS_ALLOWED_ISSUERS "
            "(exactly one). For several clients use HER2CDS_CDS_CLIENTS_FILE. Unset (both): CDS Hooks calls are "
            "not authenticated."
        ),
    )
    cds_allowed_issuers: StrList = Field(
        default=[], description="With HER2CDS_CDS_JWKS_FILE: the issuer (iss) its keys belong to (exactly one)."
    )
    cds_jwt_algorithms: StrList = Field(
        default=list(ASYMMETRIC_ALGORITHMS), description="JWS algorithms accepted on CDS client JWTs."
    )
    cds_jwt_leeway_seconds: int = Field(default=60, ge=0, le=600, description="Clock skew allowed on exp/iat.")
    cds_jwt_max_lifetime_seconds: int = Field(
        default=3600, ge=1, description="Longest accepted exp - iat of a CDS client JWT."
    )
    fhir_allowed_servers: StrList = Field(
        default=[],
        description=(
            "Base URLs of FHIR servers the service may query when a CDS Hooks prefetch is missing (compared by "
            "scheme, host, port and path exactly). Empty (and no client registry naming servers): the service "
            "never queries a FHIR server."
        ),
    )
    fhir_allow_private_networks: bool = Field(
        default=False,
        description=(
            "Allow FHIR queries to loopback, private and unique-local addresses (an in-hospital FHIR server). "
            "Link-local (cloud metadata), multicast and reserved addresses are never queried."
        ),
    )
    fhir_max_response_bytes: int = Field(
        default=5_000_000, ge=1_024, le=100_000_000, description="Largest FHIR server response read, in bytes."
    )
    fhir_time_budget_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Total time for all FHIR server queries of one CDS Hooks call."
    )
    fhir_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Timeout of each FHIR server query.")
    fhir_max_pages: int = Field(default=5, ge=1, le=100, description="Most search-result pages followed per query.")
    allowed_hosts: StrList = Field(
        default=[],
        description=(
            "Host header values (name, or name:port) the service answers; others get 400. Empty: any (set it when "
            "the service is reachable under known names only)."
        ),
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Engine workers (processes or threads, see `engine`). 0: one per CPU core available.",
    )
    engine: Literal["auto", "process", "thread"] = Field(
        default="auto",
        description=(
            "Where the engine runs: `process`, worker processes (the event loop never shares its interpreter lock "
            "with the engine); `thread`, worker threads of the service process (no child processes; honours "
            "dependency overrides of an embedding application). `auto`: `process` under `her2cds serve`, "
            "`thread` in an application built with `create_app` and run by other means (e.g. tests)."
        ),
    )
    max_pending_requests: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description=(
            "Most POST requests admitted at once (running on a worker or waiting for one); beyond it the service "
            "answers 503 with Retry-After at once. 0: 16 per worker."
        ),
    )
    retry_after_seconds: int = Field(default=1, ge=1, le=3600, description="Retry-After of a 503 answer.")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="A client must send its request headers within this time."
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "Case store of the web app and /v1/cases: a sqlite:/// or postgresql:// URL. Unset: a SQLite file "
            "in the user's data directory (`her2cds serve --demo`: a fresh example database)."
        ),
    )
    demo: bool = Field(
        default=False, description="Seed the case store with the demo cases (set by `her2cds serve --demo`)."
    )
    login_required: bool | None = Field(
        default=None,
        description=(
            "Web app sign-in. Unset: required unless the server is bound to loopback (there requests act as a "
            "local clinician, or the demo clinician with --demo). true: always required."
        ),
    )
    remote_user_header: str | None = Field(
        default=None,
        description=(
            "Behind an SSO proxy: the request header carrying the signed-in user name (e.g. X-Remote-User); "
            "that user must exist and be enabled. Only set when the proxy is the sole way to reach the app."
        ),
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Log level of the service loggers (logs never contain patient data)."
    )

    @field_validator(
        "cors_origins", "cds_allowed_issuers", "cds_jwt_algorithms", "fhir_allowed_servers", "allowed_hosts",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cds_jwt_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        bad = [alg for alg in value if alg not in ASYMMETRIC_ALGORITHMS]
        if bad:
            raise ValueError(
                f"only asymmetric JWS algorithms are allowed (CDS Hooks 2.0 forbids none and HMAC); got {bad}"
            )
        if not value:
            raise ValueError("give at least one algorithm")
        return value

    @field_validator("fhir_allowed_servers")
    @classmethod
    def _servers_are_base_urls(cls, value: list[str]) -> list[str]:
        from her2cds.adapters.cdshooks.origin import BadServerUrlError, parse_server_url

        for url in value:
            try:
                parse_server_url(url)
            except BadServerUrlError as exc:
                raise ValueError(f"{url!r} is not a FHIR base URL: {exc}") from None
        return value

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")


def unknown_environment_names(environ: dict[str, str] | None = None) -> list[str]:
    """Names of ``HER2CDS_*`` environment variables that are not settings (likely typos)."""
    environ = dict(os.environ) if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(name for name in environ if name.upper().startswith(ENV_PREFIX) and name.upper() not in known)


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "empty"
    return str(value)


def settings_markdown() -> str:
    """The settings table of ``docs/service.md`` (generated: a test keeps the page in step)."""
    lines = ["| environment variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{ENV_PREFIX}{name.upper()}` | {_default(name)} | {description} |")
    return "\n".join(lines)
