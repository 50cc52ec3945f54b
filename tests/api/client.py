"""A synchronous test client over ``httpx.AsyncClient`` + ``ASGITransport`` (Starlette's TestClient is
deprecated in the installed Starlette and warnings are errors here)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from fastapi import FastAPI


class Client:
    def __init__(self, app: FastAPI, base_url: str = "http://testserver") -> None:
        self.app = app
        self.base_url = base_url

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=self.base_url) as client:
                return await client.request(method, url, **kwargs)

        return anyio.run(go)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def assert_envelope(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is the pinned error envelope with this status and code (and field, when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text
    if field is not None:
        assert body["error"]["field"] == field, body
    return dict(body["error"])
