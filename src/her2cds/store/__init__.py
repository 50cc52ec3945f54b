"""The case store: cases with revisions, assessments with versions, an append-only audit trail, users.

SQLAlchemy 2 models with Alembic migrations shipped in the package; SQLite by default, PostgreSQL by URL.
"""

from __future__ import annotations

from her2cds.errors import ConflictError
from her2cds.store.db import default_url, make_engine, upgrade
from her2cds.store.repository import CaseStore


def open_store(url: str | None = None, *, migrate: bool = True) -> CaseStore:
    """The store at ``url`` (default: ``HER2CDS_DATABASE_URL`` or the SQLite file in the user's data directory),
    migrated to the newest schema."""
    engine = make_engine(url or default_url())
    if migrate:
        upgrade(engine)
    return CaseStore(engine)


__all__ = ["CaseStore", "ConflictError", "default_url", "make_engine", "open_store", "upgrade"]
