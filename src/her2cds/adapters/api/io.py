"""Reading JSON request bodies through one path, and content negotiation (JSON vs FHIR JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request, Response

from her2cds.adapters.api.errors import ServiceError
from her2cds.errors import MalformedInputError

if TYPE_CHECKING:
    from her2cds.adapters.api.jobs import Reply

JSON = "application/json"
FHIR_JSON = "application/fhir+json"

_ACCEPTED_BODY_TYPES = {JSON, FHIR_JSON, "application/json-patch+json", "text/json"}


async def read_body(request: Request) -> bytes:
    """The raw body of a JSON request: a missing or non-JSON ``Content-Type`` -> 415; an empty body -> 400."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if not media:
        raise ServiceError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
    if media not in _ACCEPTED_BODY_TYPES and not media.endswith("+json"):
        raise ServiceError(415, "unsupported_media_type", f"send JSON (application/json), not {media!r}")
    body = await request.body()
    if not body.strip():
        raise MalformedInputError.single("", "the request body is empty; send a JSON document", has_value=False)
    return body


def parse_body(body: bytes) -> Any:
    """The parsed JSON body (the library's strict reader); malformed -> :class:`MalformedInputError` (400).
    CPU work: call it on an engine worker for large bodies."""
    from her2cds.reading import parse_json

    return parse_json(body, "the body")


async def read_json(request: Request) -> Any:
    """The parsed JSON body (:func:`read_body` then :func:`parse_body`). Validation of the content is left to
    the library (one code path with the CLI)."""
    return parse_body(await read_body(request))


def reply_response(reply: Reply) -> Response:
    """The HTTP response of an engine job's :class:`~her2cds.adapters.api.jobs.Reply`."""
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type)


def request_id(request: Request) -> str:
    """The service's id of this request (for log lines)."""
    return str(request.scope.get("her2cds.request_id", "-"))


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        pieces = [piece.strip() for piece in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media, quality))
    return ranges


def negotiate(accept: str | None, offered: tuple[str, ...] = (JSON, FHIR_JSON)) -> str:
    """The offered media type the client prefers.

    Higher quality wins, then an exact match over a wildcard, then the client's order, then ours.
    No Accept header -> the first offered type. Nothing acceptable -> 406.
    """
    if not accept or not accept.strip():
        return offered[0]
    ranges = _media_ranges(accept)
    best: tuple[float, int, int, int] | None = None
    chosen = offered[0]
    for rank, media in enumerate(offered):
        kind = media.split("/", 1)[0]
        match: tuple[float, int, int] | None = None  # quality, specificity, -position
        for position, (pattern, quality) in enumerate(ranges):
            if pattern == media:
                level = 2
            elif pattern == f"{kind}/*":
                level = 1
            elif pattern == "*/*":
                level = 0
            else:
                continue
            if match is None or level > match[1]:
                match = (quality, level, -position)
        if match is None or match[0] <= 0:
            continue
        key = (*match, -rank)
        if best is None or key > best:
            best, chosen = key, media
    if best is None:
        raise ServiceError(
            406, "not_acceptable", f"cannot answer with {accept!r}; this endpoint offers {', '.join(offered)}"
        )
    return chosen
