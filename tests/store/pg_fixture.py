"""The session's PostgreSQL server as a fixture for every test directory (a plugin of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.postgres import PostgresServer, start_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_server()
    if server is None:
        pytest.skip("PostgreSQL server binaries are not installed (scripts/debian-test-packages.txt: postgresql)")
    try:
        yield server
    finally:
        server.stop()
