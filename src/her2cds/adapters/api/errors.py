"""The one JSON error envelope of the HTTP layer and the mapping of errors to status codes (in one place).

Every error response has the body ``{"error": {"code": str, "message": str, "field": str | null}}``: library
errors (:mod:`her2cds.errors`), HTTP errors raised by the framework (404, 405, 413 ...), request-parameter
validation errors and unexpected exceptions (500, without a stack trace). The only exception is the CDS Hooks
412 answer, whose body is a FHIR OperationOutcome as the CDS Hooks specification asks.
"""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from her2cds.errors import (
    ConflictError,
    Her2CdsError,
    InternalError,
    InvalidInputError,
    KnowledgeBaseError,
    MalformedInputError,
    NotFoundError,
    UsageError,
)

log = logging.getLogger("her2cds.api")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="stable machine-readable error code, e.g. invalid_input")
    message: str = Field(description="human-readable explanation naming the field and the value")
    field: str | None = Field(default=None, description="dotted path of the offending input field, if any")


class ErrorEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: ErrorBody


class BodyTooLargeError(Exception):
    """The request body exceeds the configured limit (raised while the body is read)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"request body exceeds the limit of {limit} bytes")


class ServiceError(Exception):
    """An HTTP-level error raised by this layer (status, code, message, optional field/headers)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
        super().__init__(message)


#: status code -> error code for HTTP errors raised by the framework or by this layer
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


def status_for(exc: Her2CdsError) -> int:
    """The HTTP status of a library error (the one mapping)."""
    if isinstance(exc, MalformedInputError):
        return 400
    if isinstance(exc, InvalidInputError):
        return 422
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, UsageError):
        return 400
    return 500  # KnowledgeBaseError, InternalError, anything else


def envelope(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_body(exc: Her2CdsError) -> dict[str, Any]:
    """The envelope of a library error. Server-side errors get a generic message (details go to the log)."""
    if isinstance(exc, InvalidInputError):
        return envelope(exc.code, str(exc), exc.field or None)
    if isinstance(exc, KnowledgeBaseError | InternalError) or status_for(exc) >= 500:
        return envelope(exc.code, "the service could not complete the request; see the service log")
    return envelope(exc.code, str(exc))


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


def safe_traceback(exc: BaseException) -> str:
    """Exception type and frame locations only (file, line, function): exception messages and source lines may
    quote input values (patient data)."""
    frames = "\n".join(
        f"  {frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(exc.__traceback__)
    )
    return f"{type(exc).__module__}.{type(exc).__qualname__} (message withheld)\n{frames}"


def _request_id(request: Request) -> str:
    return str(request.scope.get("her2cds.request_id", "-"))


async def _her2cds_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Her2CdsError)
    status = status_for(exc)
    if status >= 500:
        log.error("request %s failed: %s", _request_id(request), safe_traceback(exc))
    return error_response(status, error_body(exc))


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return error_response(exc.status, envelope(exc.code, exc.message, exc.field), exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = HTTP_CODES.get(status, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else HTTPStatus(status).phrase
    if status == 404 and detail == "Not Found":
        detail = f"no endpoint at {request.url.path}"
    elif status == 405 and detail == "Method Not Allowed":
        detail = f"method {request.method} is not allowed on {request.url.path}"
    return error_response(status, envelope(code, detail), dict(exc.headers or {}) or None)


def _loc_to_field(loc: tuple[int | str, ...] | list[int | str]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"query", "path", "header", "cookie", "body"}:
        parts = parts[1:]
    return ".".join(parts)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if not errors:
        return error_response(422, envelope("invalid_input", "invalid request"))
    first = errors[0]
    field = _loc_to_field(first.get("loc", ()))
    message = f"{field or '<root>'}: {first.get('msg', 'invalid')}"
    if "input" in first and first["input"] is not None:
        shown = repr(first["input"])
        message += f" (got {shown[:77] + '...' if len(shown) > 80 else shown})"
    if len(errors) > 1:
        message += f"; and {len(errors) - 1} more problem(s)"
    return error_response(422, envelope("invalid_input", message, field or None))


async def _body_too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLargeError)
    return error_response(413, envelope("payload_too_large", str(exc)))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Her2CdsError, _her2cds_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(BodyTooLargeError, _body_too_large)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "Malformed request (e.g. the body is not JSON)"},
    401: {"model": ErrorEnvelope, "description": "Missing or invalid bearer token"},
    413: {"model": ErrorEnvelope, "description": "Request body larger than the configured limit"},
    415: {"model": ErrorEnvelope, "description": "Unsupported request content type"},
    422: {
        "model": ErrorEnvelope,
        "description": "Invalid input: names the field and the value",
        "content": {
            "application/json": {
                "example": envelope(
                    "invalid_input",
                    "specimens.0.ihc.score: Input should be '0', '1+', '2+' or '3+' (got '4+')",
                    "specimens.0.ihc.score",
                )
            }
        },
    },
    500: {"model": ErrorEnvelope, "description": "Internal error (no stack trace is ever returned)"},
}
