"""Executor runs in the store: concurrent begins of one run make one record (the database decides), an
ended run is never reopened, and which errors are retried."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from auditor.errors import StoreError
from auditor.model.runs import RunRecord
from auditor.store import Store
from auditor.store.retry import retried, transient
from tests.store.postgres import PostgresServer

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
RUN = {"cluster": "prod", "kind": "Backup", "namespace": "velero", "target": "nightly",
       "object_name": "nightly-20261201030000"}


def test_concurrent_begins_of_one_run_make_one_record(store_url: str) -> None:
    """Eight writers, each with its own engine and a warm connection, begin the same run at one instant; five
    rounds, a new run each. Read-then-insert fails this on PostgreSQL (a duplicate key); insert-or-adopt not."""
    writers, rounds = 8, 5
    stores = [Store(store_url) for _ in range(writers)]
    try:
        for round_ in range(rounds):
            run = {**RUN, "object_name": f"nightly-{round_}"}
            barrier = threading.Barrier(writers)
            results: list[tuple[RunRecord, bool]] = []
            errors: list[BaseException] = []

            def begin(db: Store, run: dict[str, str] = run, barrier: threading.Barrier = barrier,
                      results: list[tuple[RunRecord, bool]] = results, errors: list[BaseException] = errors) -> None:
                db.runs(limit=1)  # a warm pooled connection: the race is the insert's, not the connect's
                barrier.wait(30)
                try:
                    results.append(db.begin_run(**run, started_at=T0, detail={"by": threading.current_thread().name}))
                except BaseException as exc:  # collected for the assertion below
                    errors.append(exc)

            threads = [threading.Thread(target=begin, args=(db,)) for db in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert not errors, errors
            assert len(results) == writers and [new for _, new in results].count(True) == 1, results
            first = next(r for r, new in results if new)
            assert all(r.identity == first.identity and r.detail == first.detail for r, _ in results), \
                "every adopter reads the first record"
        with Store(store_url) as db:
            assert sorted(r.object_name for r in db.runs()) == [f"nightly-{i}" for i in range(rounds)]
    finally:
        for db in stores:
            db.close()


def test_an_ended_run_is_never_reopened(store_url: str) -> None:
    with Store(store_url) as db:
        run, new = db.begin_run(**RUN, started_at=T0)
        assert new and run.status == "planned"
        db.update_run(run.identity, "timed-out", {"phase": "InProgress"})
        db.update_run(run.identity, "succeeded", {"phase": "Completed"}, finished_at=T0)
        db.update_run(run.identity, "created", {"uid": "late"})  # a slower process of the same run
        [stored] = db.runs()
        assert (stored.status, stored.detail, stored.finished_at) == ("succeeded", {"phase": "Completed"}, T0)
        again, new = db.begin_run(**RUN, started_at=T0)
        assert not new and again.status == "succeeded"
        with pytest.raises(StoreError, match="no executor run nope"):
            db.update_run("nope", "failed")


def test_unfinished_runs_newest_first(sqlite_url: str) -> None:
    with Store(sqlite_url) as db:
        for i, status in enumerate(("timed-out", "succeeded", "created")):
            run, _ = db.begin_run(**{**RUN, "object_name": f"nightly-{i}"}, started_at=T0.replace(minute=i))
            db.update_run(run.identity, status, finished_at=T0 if status == "succeeded" else None)
        found = db.unfinished_runs(cluster="prod", kind="Backup", namespace="velero", target="nightly")
        assert [r.object_name for r in found] == ["nightly-2", "nightly-0"]


def pg_error(postgres: PostgresServer, statement: str, *, kill_first: bool = False) -> SQLAlchemyError:
    engine = create_engine(postgres.create_database())
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE t (k int primary key)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.commit()
            if kill_first:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                with psycopg.connect(host=str(postgres.root), user="postgres", dbname="postgres",
                                     autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(SQLAlchemyError) as err:
                conn.execute(text(statement))
            return err.value
    finally:
        engine.dispose()


def test_which_errors_are_transient(postgres: PostgresServer, tmp_path: Path) -> None:
    killed = pg_error(postgres, "SELECT 1", kill_first=True)  # what a restart does to an open session
    assert isinstance(killed, OperationalError) and transient(killed)
    duplicate = pg_error(postgres, "INSERT INTO t VALUES (1)")
    assert isinstance(duplicate, IntegrityError) and not transient(duplicate)
    missing = pg_error(postgres, "SELECT * FROM nope")
    assert not transient(missing)
    refused = create_engine(f"postgresql+psycopg://u@/x?host={tmp_path}")  # no server on that socket
    with pytest.raises(OperationalError) as err:
        refused.connect()
    assert transient(err.value)
    locked = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(OperationalError) as err, locked.connect() as conn:
        conn.execute(text("SELECT * FROM nope"))
    assert not transient(err.value), "SQLite errors are never retried (its busy timeout waited already)"


def test_retries_are_bounded_then_one_line(tmp_path: Path) -> None:
    slept: list[float] = []
    calls = [0]
    engine = create_engine(f"postgresql+psycopg://u@/x?host={tmp_path}")

    def connect() -> None:
        calls[0] += 1
        engine.connect()

    started = time.monotonic()
    with pytest.raises(OperationalError):
        retried("connect", connect, retry_for=1.0, sleep=lambda s: (slept.append(s), time.sleep(s)))
    assert 1.0 <= time.monotonic() - started < 5.0
    assert calls[0] >= 3 and slept[:2] == [0.25, 0.5], "a doubling backoff"
    started = time.monotonic()
    with pytest.raises(StoreError) as err:
        Store(f"postgresql://auditor:hunter2@/nowhere?host={tmp_path}", retry_for=1.5)
    assert time.monotonic() - started >= 1.5
    message = str(err.value)
    assert "\n" not in message and "cannot open" in message and "hunter2" not in message
