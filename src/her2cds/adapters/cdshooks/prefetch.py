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

import httpx

from her2cds.adapters.cdshooks.models import CdsRequest
from her2cds.adapters.cdshooks.services import PrefetchTemplate
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


def _server_allowed(server: str, allowed: Sequence[str]) -> bool:
    if not server.startswith(("https://", "http://")):
        return False
    return not allowed or any(server.startswith(prefix) for prefix in allowed)


async def _fetch(
    client: httpx.AsyncClient, base: str, query: str, token: str | None, max_pages: int
) -> list[dict[str, Any]]:
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url: str | None = f"{base}/{query}"
    payloads: list[dict[str, Any]] = []
    pages = 0
    while url is not None and pages < max_pages:
        pages += 1
        try:
            response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise _FetchFailedError(f"the FHIR server could not be reached ({type(exc).__name__})") from None
        if response.status_code == 404 and pages == 1 and "?" not in query:
            return []  # a read of a resource that does not exist: no data
        if response.status_code >= 400:
            raise _FetchFailedError(f"the FHIR server answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise _FetchFailedError("the FHIR server answered with something that is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise _FetchFailedError("the FHIR server answered with something that is not a FHIR resource")
        if data["resourceType"] == "OperationOutcome":
            raise _FetchFailedError("the FHIR server answered with an OperationOutcome")
        payloads.append(data)
        url = None
        if data["resourceType"] == "Bundle":
            for link in data.get("link") or []:
                target = link.get("url") if isinstance(link, dict) else None
                # follow only links back to the same server: the bearer token must not leak elsewhere
                if link.get("relation") == "next" and isinstance(target, str) and target.startswith(base + "/"):
                    url = target
    return payloads


ClientFactory = Callable[[], contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


async def resolve_prefetch(
    request: CdsRequest,
    templates: Sequence[PrefetchTemplate],
    client: ClientFactory,
    *,
    allowed_servers: Sequence[str] = (),
    max_pages: int = 5,
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

    server = (request.fhirServer or "").rstrip("/")
    if not server or not _server_allowed(server, allowed_servers):
        why = (
            "the prefetch did not include it and no fhirServer was given"
            if not server
            else "the prefetch did not include it and the given fhirServer is not one this service may query"
        )
        for template in missing:
            if template.required:
                raise PrefetchUnavailableError(template, why)
            result.warnings.append(_not_considered(template, why))
        return result

    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    queries = [render(template.query, request.context) for template in missing]
    async with client() as http:  # only now: most calls bring their prefetch and need no client
        outcomes = await asyncio.gather(
            *(_fetch(http, server, query, token, max_pages) for query in queries), return_exceptions=True
        )
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
