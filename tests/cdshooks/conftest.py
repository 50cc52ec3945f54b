from __future__ import annotations

import os

import pytest

from her2cds.adapters.api import Settings, create_app
from tests.api.client import Client


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("HER2CDS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def client() -> Client:
    return Client(create_app(Settings()))
