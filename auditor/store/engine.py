"""Engines for SQLite (WAL, busy timeout, explicit BEGIN IMMEDIATE for writes) and PostgreSQL (psycopg 3).

SQLite: pysqlite's own transaction handling is switched off so that DDL is transactional and a writer
takes the write lock when its transaction begins (``BEGIN IMMEDIATE``). A deferred transaction that
reads and then writes fails at once with SQLITE_BUSY when another process wrote in between, whatever
the busy timeout; an immediate one waits its turn. WAL lets readers go on while one process writes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL

from auditor.store.url import sqlite_file

WRITE = "auditor_write"  # execution option of write sessions


def make_engine(url: URL, busy_timeout: float = 30.0) -> Engine:
    path = sqlite_file(url)
    if path is None:
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout})
    millis = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {millis}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
