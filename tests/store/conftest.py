"""Store fixtures: every store test runs against SQLite and against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.postgres import PostgresServer  # the postgres fixture: tests/store/pg_fixture.py


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store: a SQLite file, or a fresh database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return str(tmp_path / "store.db")
