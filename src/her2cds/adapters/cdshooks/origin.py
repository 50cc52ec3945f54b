"""FHIR server URLs parsed once, compared by their parts (never as text prefixes).

An :class:`Origin` is the scheme, the host (lower-case; IPv6 without brackets; IDNA-encoded) and the explicit
or default port. :func:`parse_server_url` refuses what a FHIR base URL never needs: credentials
(``http://allowed@evil``), a query or fragment, a port outside 1-65535, a missing host, other schemes.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048


class BadServerUrlError(ValueError):
    """The text is not an acceptable FHIR server base URL; the message is safe to show."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = _DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{host}" + ("" if default else f":{self.port}")


@dataclass(frozen=True)
class ServerUrl:
    """A FHIR server base URL: its origin and its path (without a trailing slash)."""

    origin: Origin
    path: str

    @property
    def base(self) -> str:
        return f"{self.origin}{self.path}"


def _host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise BadServerUrlError("the host name is not valid") from None


def parse_server_url(text: str) -> ServerUrl:
    """Parse a FHIR server base URL; :class:`BadServerUrlError` when it is not acceptable."""
    if len(text) > MAX_URL_LENGTH:
        raise BadServerUrlError(f"longer than {MAX_URL_LENGTH} characters")
    if any(ord(ch) < 0x21 or ch == "\\" for ch in text):
        raise BadServerUrlError("contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise BadServerUrlError("not a valid URL (check the host and the port)") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise BadServerUrlError("must be an http or https URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise BadServerUrlError("must not contain credentials (user@host)")
    if not parts.hostname:
        raise BadServerUrlError("has no host")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise BadServerUrlError("a FHIR base URL has no query or fragment")
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    elif not 1 <= port <= 65535:
        raise BadServerUrlError("the port must be between 1 and 65535")
    return ServerUrl(Origin(scheme, _host(parts.hostname), port), parts.path.rstrip("/"))
