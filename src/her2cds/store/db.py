"""Opening the case store: the database URL, the engine, and migrations to the newest schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from her2cds.errors import UsageError

URL_VARIABLE = "HER2CDS_DATABASE_URL"
MIGRATIONS = Path(__file__).parent / "migrations"


def data_dir(environ: dict[str, str] | None = None) -> Path:
    """The user's data directory for her2cds (``$XDG_DATA_HOME/her2cds``, default ``~/.local/share/her2cds``)."""
    env = dict(os.environ) if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "her2cds"


def default_url(environ: dict[str, str] | None = None) -> str:
    """``HER2CDS_DATABASE_URL`` if set, else a SQLite file in the user's data directory."""
    env = dict(os.environ) if environ is None else environ
    if env.get(URL_VARIABLE):
        return env[URL_VARIABLE]
    return f"sqlite:///{data_dir(env) / 'cases.db'}"


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` use psycopg 3; other URLs are kept. Bad URLs are a UsageError."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"--db / {URL_VARIABLE}: not a database URL: {url!r}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(f"--db / {URL_VARIABLE}: only sqlite and postgresql URLs are supported, got {url!r}")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their directory created, WAL and full sync."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise UsageError("the case store has no migrations")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    """Migrate the database of ``engine`` to ``target`` (default: the newest schema)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, target)
