"""Completing the OpenAPI document (issue 10 item 10): security schemes, the 400/415/503 answers every JSON POST
can give, and an example for every request body and every JSON response (real ones where the service has them:
the example cases and their assessments; otherwise built from the schema)."""

from __future__ import annotations

from typing import Any

from her2cds.adapters.api.errors import HTTP_CODES, envelope

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "HER2CDS_API_TOKEN, required on /v1 when the setting is set",
    },
    "cdsClientJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "CDS Hooks 2.0 client JWT, required on /cds-services when client keys are configured",
    },
}

_POST_ERRORS = {
    400: "The body is not JSON (syntax, encoding, duplicate keys, nesting too deep, an over-long number)",
    415: "The body is not sent with a JSON Content-Type",
    503: "The service is at capacity: retry after the number of seconds in Retry-After",
}

_ERROR_MESSAGES = {
    400: "the body is not valid JSON: Expecting value at line 1, column 1",
    401: "this endpoint needs an Authorization: Bearer <token> header",
    403: "forbidden",
    404: "no such resource",
    405: "method not allowed",
    409: "the resource was changed by another request",
    413: "request body exceeds the limit of 1048576 bytes",
    415: "send JSON (application/json), not 'text/plain'",
    422: "specimens[0].ihc.score: Input should be '0', '1+', '2+' or '3+' (got '4+')",
    500: "internal error (request id 0f1e2d3c4b5a69788796a5b4c3d2e1f0); see the service log",
    503: "the service is at capacity; retry after the seconds in Retry-After",
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def example_from_schema(document: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> Any:
    """A small value matching ``schema``: required properties only, the first alternative of a union."""
    schema = _resolve(document, schema)
    if depth > 12:
        return None
    if "example" in schema:
        return schema["example"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [option for option in schema[key] if _resolve(document, option).get("type") != "null"]
            return example_from_schema(document, (options or schema[key])[0], depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {
            name: example_from_schema(document, properties[name], depth + 1)
            for name in schema.get("required", [])
            if name in properties
        }
    if kind == "array":
        item = example_from_schema(document, schema.get("items", {}), depth + 1)
        return [item] if item is not None else []
    if kind == "string":
        return {"date": "2026-03-02", "date-time": "2026-03-02T10:00:00Z", "uri": "https://example.org"}.get(
            schema.get("format", ""), "string"
        )
    if kind == "integer":
        return max(int(schema.get("minimum", 0)), 0) if "minimum" in schema else 1
    if kind == "number":
        return float(schema.get("minimum", 0)) if "minimum" in schema else 1.0
    if kind == "boolean":
        return True
    return None


def complete(document: dict[str, Any], response_examples: dict[str, Any]) -> None:
    """Add security, the POST error answers and examples to ``document`` in place. ``response_examples`` maps
    an operationId to the example of its success answer."""
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    error_ref = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/v1"):
                operation["security"] = [{"bearerAuth": []}, {}]
            elif path.startswith("/cds-services"):
                operation["security"] = [{"cdsClientJwt": []}, {}]
            responses = operation["responses"]
            if method in ("post", "put") and "requestBody" in operation:
                for status, text in _POST_ERRORS.items():
                    entry = responses.setdefault(str(status), {"description": text})
                    entry.setdefault("content", {"application/json": {"schema": error_ref}})
                    if status == 503:
                        entry["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                            "description": "seconds to wait before retrying"}}
                for media in operation["requestBody"].get("content", {}).values():
                    if "examples" not in media and "example" not in media and "schema" in media:
                        media["example"] = example_from_schema(document, media["schema"])
            for status, response in responses.items():
                for media_type, media in response.get("content", {}).items():
                    if "example" in media or "examples" in media:
                        continue
                    code = int(status) if status.isdigit() else 0
                    if code >= 400:
                        media["example"] = envelope(HTTP_CODES.get(code, "error"), _ERROR_MESSAGES.get(code, "error"))
                    elif media_type == "application/json" and operation.get("operationId") in response_examples:
                        media["example"] = response_examples[operation["operationId"]]
                    elif "schema" in media:
                        media["example"] = example_from_schema(document, media["schema"])
