"""A cookie-keeping HTTP client for the web app's pages (in-process, no server)."""

from __future__ import annotations

import re
from typing import Any

import anyio
import httpx
from fastapi import FastAPI


class PageClient:
    def __init__(self, app: FastAPI, base_url: str = "http://testserver", headers: dict[str, str] | None = None):
        self.app = app
        self.base_url = base_url
        self.cookies = httpx.Cookies()
        self.headers = headers or {}

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=self.base_url, cookies=self.cookies,
                                         headers=self.headers) as client:
                response = await client.request(method, url, **kwargs)
                self.cookies = httpx.Cookies(client.cookies)
                return response

        return anyio.run(go)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def csrf(self, page: str = "/app/login") -> str:
        """The CSRF token of a form on ``page`` (fetching it also sets the CSRF cookie)."""
        match = re.search(r'name="csrf" value="([^"]+)"', self.get(page).text)
        assert match, f"no CSRF field on {page}"
        return match.group(1)

    def login(self, username: str, password: str) -> httpx.Response:
        token = self.csrf("/app/login")
        return self.post("/app/login", data={"csrf": token, "username": username, "password": password,
                                             "next": "/app/cases"})
