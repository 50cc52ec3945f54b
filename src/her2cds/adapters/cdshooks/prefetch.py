"""Prefetch resolution (CDS Hooks 2.0, "Providing FHIR Resources to a CDS Service").

For each prefetch template of the service: a key present in the request is used as sent (``null`` means "no
data"); a missing key is queried from ``fhirServer`` with the ``fhirAuthorization`` bearer token when the
request gives a server; otherwise a missing *required* key makes the call fail with
:class:`PrefetchUnavailableError` (HTTP 412 with an OperationOutcome) and a missing optional key
becomes a warning.
Nothing here is logged: queries and results identify the patient.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio
import httpcore
import httpx

from her2cds.adapters.cdshooks.egress import FhirAccess
from her2cds.adapters.cdshooks.models import CdsRequest
from her2cds.adapters.cdshooks.origin import BadServerUrlError, ServerUrl, parse_server_url
from her2cds.adapters.cdshooks.services import PrefetchTemplate
from her2cds.adapters.fhir._values import objs
from her2cds.errors import InvalidInputError
from her2cds.model.assessment import InputWarning

_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class PrefetchUnavailableError(Exception):
    """Required FHIR data could be neither taken from the prefetch nor queried (HTTP 412)."""

    def __init__(self, template: PrefetchTemplate, reason: str) -> None:
        self.template = template
        self.reason = reason
        super().__init__(f"{template.key}: {reason}")


class _FetchFailedError(Exception):
    pass


@dataclass
class PrefetchResult:
    payloads: list[dict[str, Any]] = field(default_factory=list)  # resources and searchset Bundles, in key order
    warnings: list[InputWarning] = field(default_factory=list)
    queried: list[str] = field(default_factory=list)  # keys fetched from the FHIR server


def render(query: str, context: Mapping[str, Any]) -> str:
    """The template with its ``{{context.x}}`` tokens replaced. Only root-level context values that are valid
    FHIR ids are substituted (they end up in a URL)."""

    def substitute(match: re.Match[str]) -> str:
        token = match.group(1)
        if not token.startswith("context.") or token.count(".") != 1:
            raise InvalidInputError.single(token, "this prefetch token is not supported", has_value=False)
        name = token.split(".", 1)[1]
        value = context.get(name)
        if not isinstance(value, str) or not _FHIR_ID.match(value):
            raise InvalidInputError.single(
                f"context.{name}",
                "must be a FHIR id (letters, digits, '-', '.'; at most 64)",
                value,
                has_value=name in context,
            )
        return quote(value, safe="-.")

    return _TOKEN.sub(substitute, query)


#: the one reason given for any failed query: it must not tell closed ports, open ports and FHIR servers apart
FETCH_FAILED = "the FHIR server did not provide the data"


async def _get_json(client: httpx.AsyncClient, url: str, headers: dict[str, str], max_bytes: int) -> tuple[int, Any]:
    """(status, parsed JSON or None) of one GET, reading at most ``max_bytes`` of an unencoded body."""
    async with client.stream("GET", url, headers=headers) as response:
        status = response.status_code
        if status >= 300:
            return status, None  # redirects are not followed; errors have no usable body
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise _FetchFailedError(FETCH_FAILED)
        declared = response.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            raise _FetchFailedError(FETCH_FAILED)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():  # identity encoding: the raw bytes
            size += len(chunk)
            if size > max_bytes:
                raise _FetchFailedError(FETCH_FAILED)
            chunks.append(chunk)
    from her2cds.reading import parse_json

    try:
        return status, parse_json(b"".join(chunks), "the FHIR server's answer")
    except InvalidInputError:
        raise _FetchFailedError(FETCH_FAILED) from None


def _same_server(url: str, server: ServerUrl) -> bool:
    try:
        target = parse_server_url(url.split("?", 1)[0])
    except BadServerUrlError:
        return False
    return target.origin == server.origin and (target.path + "/").startswith(server.path + "/")


async def _fetch(
    client: httpx.AsyncClient, server: ServerUrl, query: str, token: str | None, access: FhirAccess
) -> list[dict[str, Any]]:
    headers = {"Accept": "application/fhir+json", "Accept-Encoding": "identity"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url: str | None = f"{server.base}/{query}"
    payloads: list[dict[str, Any]] = []
    pages = 0
    while url is not None and pages < access.max_pages:
        pages += 1
        try:
            status, data = await _get_json(client, url, headers, access.max_response_bytes)
        except (httpx.HTTPError, httpcore.ConnectError, OSError):
            raise _FetchFailedError(FETCH_FAILED) from None
        if status == 404 and pages == 1 and "?" not in query:
            return []  # a read of a resource that does not exist: no data
        if status >= 300 or not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise _FetchFailedError(FETCH_FAILED)
        if data["resourceType"] == "OperationOutcome":
            raise _FetchFailedError(FETCH_FAILED)
        payloads.append(data)
        url = None
        if data["resourceType"] == "Bundle":
            for link in objs(data.get("link")):
                target = link.get("url")
                # follow only links back to the same server: the bearer token must not leak elsewhere
                if link.get("relation") == "next" and isinstance(target, str) and _same_server(target, server):
                    url = target
    return payloads


ClientFactory = Callable[[], contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


def _server(request: CdsRequest) -> ServerUrl | None:
    return parse_server_url(request.fhirServer) if request.fhirServer else None  # validated by the model


def needs_fetch(request: CdsRequest, templates: Sequence[PrefetchTemplate], access: FhirAccess) -> bool:
    """Whether :func:`resolve_prefetch` would query the FHIR server: a template's key is missing from the
    prefetch and the call's ``fhirServer`` may be queried."""
    sent = request.prefetch or {}
    if all(template.key in sent for template in templates):
        return False
    server = _server(request)
    return server is not None and access.permits(server)


async def resolve_prefetch(
    request: CdsRequest,
    templates: Sequence[PrefetchTemplate],
    client: ClientFactory,
    *,
    access: FhirAccess | None = None,
) -> PrefetchResult:
    result = PrefetchResult()
    sent = request.prefetch or {}
    known = {template.key for template in templates}
    for key in sent:
        if key not in known:
            result.warnings.append(
                InputWarning(
                    code="prefetch_key_ignored",
                    text=f"prefetch key {key!r} was not requested by this service; ignored",
                    field=f"prefetch.{key}",
                )
            )

    missing: list[PrefetchTemplate] = []
    for template in templates:
        if template.key in sent:
            value = sent[template.key]
            if value is None:
                continue
            if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
                raise InvalidInputError.single(
                    f"prefetch.{template.key}", "must be a FHIR resource, a Bundle or null", has_value=False
                )
            result.payloads.append(value)
        else:
            missing.append(template)
    if not missing:
        return result

    access = access or FhirAccess()
    server = _server(request)
    if server is None or not access.permits(server):
        if server is None:
            why = "the prefetch did not include it and no fhirServer was given"
        elif not access.enabled:
            why = "the prefetch did not include it and this service does not query FHIR servers"
        else:
            why = "the prefetch did not include it and the given fhirServer is not one this service may query"
        for template in missing:
            if template.required:
                raise PrefetchUnavailableError(template, why)
            result.warnings.append(_not_considered(template, why))
        return result

    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    queries = [render(template.query, request.context) for template in missing]
    outcomes: list[list[dict[str, Any]] | BaseException]
    try:
        with anyio.fail_after(access.time_budget_seconds):
            async with client() as http:  # only now: most calls bring their prefetch and need no client
                outcomes = await asyncio.gather(
                    *(_fetch(http, server, query, token, access) for query in queries), return_exceptions=True
                )
    except TimeoutError:
        outcomes = [_FetchFailedError(FETCH_FAILED)] * len(missing)
    for template, outcome in zip(missing, outcomes, strict=True):
        if isinstance(outcome, _FetchFailedError):
            if template.required:
                raise PrefetchUnavailableError(template, str(outcome))
            result.warnings.append(_not_considered(template, str(outcome)))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            result.payloads.extend(outcome)
            result.queried.append(template.key)
    return result


def _not_considered(template: PrefetchTemplate, why: str) -> InputWarning:
    return InputWarning(
        code="prefetch_missing",
        text=f"{template.what} could not be considered: {why}",
        field=f"prefetch.{template.key}",
    )
