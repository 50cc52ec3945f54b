"""Database fixtures: every store test runs on SQLite AND on a real PostgreSQL server.

The PostgreSQL server is the one `.ci/services` starts (127.0.0.1:55432), or any server named by
``PG_TEST_URL``; when nothing is listening the fixture starts the throw-away cluster itself with the same script.
There is no skip: if PostgreSQL cannot be started the PostgreSQL half of every store test fails.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_SCRIPT = Path(__file__).parent / "store" / "pg_test_server.sh"
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of a PostgreSQL server (its ``postgres`` database) for the tests."""
    given = os.environ.get("PG_TEST_URL")
    if given:
        return given
    done = subprocess.run(["bash", str(PG_SCRIPT)], capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0:
        pytest.fail(f"could not start the test PostgreSQL server: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards)."""
    name = f"h2t_{uuid.uuid4().hex[:12]}"
    _admin(postgres_server, f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        _admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
