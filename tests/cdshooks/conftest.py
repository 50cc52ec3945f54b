"""The CDS Hooks tests use the same app fixtures as the REST API tests."""

from __future__ import annotations

from tests.api.conftest import _clean_environment, client

__all__ = ["_clean_environment", "client"]
