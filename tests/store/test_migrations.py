"""Migrations: a store created by the first schema upgrades in place and keeps its history; the models
and the migrations describe the same tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from auditor.store import Store
from auditor.store.engine import make_engine
from auditor.store.migrate import _config, current_revision, head_revision, upgrade
from auditor.store.record import record_scan
from auditor.store.schema import Base
from auditor.store.url import resolve_url
from tests import factories as f
from tests.store.scans import cluster, gov002, scan

#: ``sqlite3 .dump`` of a store written at schema revision 0001 (two scans of cluster ``prod``, 2026-11-18 and
#: 2026-11-19: schedule ``daily`` enabled, then paused). Never regenerate it: it stands for stores in the field.
FIRST_SCHEMA = Path(__file__).parent / "fixtures" / "store-0001.sql"
T2 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def load_fixture(path: Path) -> str:
    with sqlite3.connect(path) as con:
        con.executescript(FIRST_SCHEMA.read_text())
    return str(path)


def schema_sql(path: Path) -> list[str]:
    with sqlite3.connect(path) as con:
        return sorted(sql for (sql,) in con.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))


def test_the_fixture_is_the_first_schema(tmp_path: Path) -> None:
    """Revision 0001 must never change: stores in the field were created by it."""
    fresh = tmp_path / "fresh.db"
    engine = make_engine(resolve_url(str(fresh)))
    upgrade(engine, "0001")
    engine.dispose()
    assert schema_sql(Path(load_fixture(tmp_path / "fixture.db"))) == schema_sql(fresh)


def test_a_first_schema_store_upgrades_in_place(tmp_path: Path) -> None:
    url = load_fixture(tmp_path / "old.db")
    with Store(url) as store:
        assert current_revision(store.engine) == head_revision() != "0001"
        rows = store.history()
        assert [(r.cluster, r.as_of.day, r.volumes_audited) for r in rows] == [("prod", 18, 1), ("prod", 19, 1)]
        assert store.document(rows[0].scan_id)["as_of"] == "2026-11-18T12:00:00Z"
        assert [(a.name, a.uid, a.first_seen.day, a.last_seen.day) for a in store.identities()] == [
            ("prod", "", 18, 19)], "the clusters already recorded are known (without a uid)"
        [d] = store.diff()
        assert "FRS-004" in {x.rule_id for x in d.new}
        store.record_report(format="html", path="r.html", manifest={}, scan_id=rows[-1].scan_id)
    second = scan(url, cluster(), T2, tmp_path)
    assert [(x.name, x.evidence["changes"][0]["change"]) for x in gov002(second)] == [("daily", "schedule_deleted")]
    with Store(url) as store:
        assert len(store.history()) == 3


def test_a_first_schema_postgres_store_upgrades_in_place(postgres: object, tmp_path: Path) -> None:
    from tests.store.postgres import PostgresServer

    assert isinstance(postgres, PostgresServer)
    url = postgres.create_database()
    engine = make_engine(resolve_url(url))
    upgrade(engine)
    result = scan(None, cluster(schedule=f.schedule("daily")), T2 - timedelta(days=1), tmp_path)
    from auditor.output.document import build_document

    with Session(engine) as session, session.begin():  # no exceptions register: no waiver history (0004w) to write
        record_scan(session, replace(result, exceptions=None), build_document(result), T2)
    downgrade(engine, "0001")  # the rows as a first-schema store holds them: later columns and tables dropped
    assert current_revision(engine) == "0001"
    engine.dispose()
    with Store(url) as store:
        assert current_revision(store.engine) == head_revision()
        assert [r.as_of for r in store.history()] == [T2 - timedelta(days=1)]
    assert [x.name for x in gov002(scan(url, cluster(), T2, tmp_path))] == ["daily"]


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_models_match_the_migrations(store_url: str) -> None:
    with Store(store_url) as store, store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_opening_a_store_at_head_changes_nothing(sqlite_url: str) -> None:
    Store(sqlite_url).close()
    before = Path(sqlite_url).stat().st_mtime_ns
    with Store(sqlite_url) as store:
        assert current_revision(store.engine) == head_revision()
    assert Path(sqlite_url).stat().st_mtime_ns == before


def test_the_files_head_is_alembics_head() -> None:
    """Opening an up-to-date store compares with the head read from the migration files' text (no alembic
    import): it must be the head alembic computes, and know every revision of the chain."""
    from alembic.script import ScriptDirectory

    from auditor.store.migrate import known_revisions

    known, head = known_revisions()
    script = ScriptDirectory.from_config(_config())
    assert head == head_revision()
    assert known == {s.revision for s in script.walk_revisions()}
