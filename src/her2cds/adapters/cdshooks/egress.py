"""Which FHIR servers the service may query for missing prefetch data, and how (issue 10: no SSRF).

A CDS client names a ``fhirServer`` and hands over a bearer token for it. The service queries that server only
when it is *allowed*: listed in ``HER2CDS_FHIR_ALLOWED_SERVERS`` or in the registration of the JWT-authenticated
client (``HER2CDS_CDS_CLIENTS_FILE``). With neither, server fetching is off. Allowed servers are compared by their
parsed scheme, host, port and path (:mod:`her2cds.adapters.cdshooks.origin`), never as text prefixes.

Even an allowed name is only connected to when every address it resolves to is public: loopback, private, shared
(CGNAT) and unique-local addresses need ``HER2CDS_FHIR_ALLOW_PRIVATE_NETWORKS``; link-local (cloud metadata),
multicast, reserved and unspecified addresses are never connected to. The check runs at connect time on the
addresses actually used (no DNS-rebinding window), and the connection goes to the checked address.
Redirects are not followed, proxies from the environment are ignored, responses are capped in size and every
call has a total time budget.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import anyio
import httpcore
import httpx

from her2cds.adapters.cdshooks.origin import ServerUrl, parse_server_url

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FhirAccess:
    """The FHIR servers one call may query, and the limits of those queries."""

    allowed: tuple[ServerUrl, ...] = ()
    allow_private_networks: bool = False
    max_response_bytes: int = 5_000_000
    time_budget_seconds: float = 10.0
    max_pages: int = 5
    extra: tuple[ServerUrl, ...] = field(default=())  # servers named by the authenticated client's registration

    @property
    def enabled(self) -> bool:
        return bool(self.allowed or self.extra)

    def permits(self, server: ServerUrl) -> bool:
        """Exact match of scheme, host, port and base path against an allowed server."""
        return any(server == allowed for allowed in (*self.allowed, *self.extra))

    def for_client(self, servers: Sequence[ServerUrl]) -> FhirAccess:
        """This policy plus the servers a verified client's registration names."""
        if not servers:
            return self
        return FhirAccess(self.allowed, self.allow_private_networks, self.max_response_bytes,
                          self.time_budget_seconds, self.max_pages, tuple(servers))


def parse_allowed(urls: Iterable[str]) -> tuple[ServerUrl, ...]:
    return tuple(parse_server_url(url) for url in urls)


def address_allowed(address: IpAddress, *, allow_private_networks: bool) -> bool:
    """Whether the service may connect to ``address``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        return False
    if address.is_loopback:
        return allow_private_networks
    if address.is_reserved:
        return False
    if address.is_global:
        return True
    return allow_private_networks  # private, shared (CGNAT), unique-local


class AddressNotAllowedError(httpcore.ConnectError):
    """The host resolves to an address the service must not connect to."""


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks every address, then connects to a checked address."""

    def __init__(self, allow_private_networks: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private_networks

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses: list[str] = []
        for info in infos:
            text = str(info[4][0]).split("%", 1)[0]
            if not address_allowed(ipaddress.ip_address(text), allow_private_networks=self._allow_private):
                raise AddressNotAllowedError("the server's address is not one the service may connect to")
            if text not in addresses:
                addresses.append(text)
        if not addresses:
            raise httpcore.ConnectError("the server's name did not resolve")
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError("no address could be connected to")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(*, allow_private_networks: bool) -> httpx.AsyncHTTPTransport:
    """An HTTP transport whose connections go only to allowed addresses (see :func:`address_allowed`)."""
    transport = httpx.AsyncHTTPTransport(retries=0, trust_env=False)
    context = ssl.create_default_context()
    try:
        import certifi

        context.load_verify_locations(certifi.where())
    except ImportError:  # pragma: no cover - httpx depends on certifi
        pass
    transport._pool = httpcore.AsyncConnectionPool(  # the documented pool, with our network backend
        ssl_context=context,
        max_connections=20,
        http1=True,
        http2=False,
        retries=0,
        network_backend=_GuardedBackend(allow_private_networks),
    )
    return transport
