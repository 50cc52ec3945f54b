from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from her2cds.adapters.api import Settings, create_app
from tests.api.client import Client


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("HER2CDS_"):
            monkeypatch.delenv(name)


def make_app(db_url: str, **settings: object) -> FastAPI:
    return create_app(Settings(database_url=db_url, **settings))  # type: ignore[arg-type]


@pytest.fixture
def api(db_url: str) -> Iterator[Client]:
    app = make_app(db_url)
    yield Client(app)
    app.state.her2cds_app.close()
