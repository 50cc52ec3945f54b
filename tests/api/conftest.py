from __future__ import annotations

import os
from pathlib import Path

import pytest

from her2cds.adapters.api import Settings, create_app
from tests.api.client import Client


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Service settings come from the environment: tests start from none (the case store in tmp_path)."""
    for name in list(os.environ):
        if name.upper().startswith("HER2CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def client() -> Client:
    return Client(create_app(Settings()))
