"""``docs/service.md`` documents every endpoint, setting, CDS service and error code (datasette's habit)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.api.errors import HTTP_CODES
from her2cds.adapters.api.settings import settings_markdown
from her2cds.adapters.cdshooks.services import SERVICES, prefetch_templates
from tests.api.snapshot import SNAPSHOT

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_settings_table_is_generated_from_the_model(doc: str) -> None:
    match = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", doc, re.S)
    assert match, "docs/service.md lost its settings markers"
    assert match.group(1) == settings_markdown(), "regenerate the table with settings_markdown()"


def test_every_endpoint_is_documented(doc: str) -> None:
    app = create_app(Settings())
    paths = set(app.openapi()["paths"])
    assert len(paths) >= 10
    for path in paths:
        assert f"{path}`" in doc, f"{path} is not documented in docs/service.md"


def test_every_route_is_in_the_openapi_document() -> None:
    app = create_app(Settings())
    documented = set(app.openapi()["paths"])
    for route in app.routes:
        if isinstance(route, APIRoute):
            assert route.path in documented


def test_every_cds_service_and_prefetch_key_is_documented(doc: str) -> None:
    for service in SERVICES:
        assert f"`{service.id}` | `{service.hook}`" in doc
    for template in prefetch_templates():
        assert f"`{template.key}`" in doc


def test_every_error_code_is_documented(doc: str) -> None:
    used = {"malformed_input", "invalid_input", "not_found", "usage_error", "internal_error", "knowledge_base_error"}
    used |= {HTTP_CODES[s] for s in (400, 401, 404, 405, 406, 413, 415, 422, 500)}
    for code in used:
        assert f"`{code}`" in doc, code


def test_snapshot_regeneration_command_is_documented(doc: str) -> None:
    assert "python -m tests.api.snapshot" in doc
    assert SNAPSHOT.relative_to(DOC.parents[1]).as_posix() in doc
