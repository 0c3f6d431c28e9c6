"""Schema migrations, run programmatically when a store is opened (no alembic.ini at runtime).

Two processes opening a new store at once must not both create the tables: the upgrade runs in one
write transaction holding a lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), and
alembic re-reads the revision inside it, so the second process finds the work done.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from auditor.errors import StoreSchemaError
from auditor.store.engine import WRITE

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
ADVISORY_LOCK = 7_301_996_355_310_412  # one fixed id: every backup-auditor process takes the same lock


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the store to ``revision`` in place; a no-op when it is there already."""
    config = _config()
    script = ScriptDirectory.from_config(config)
    target = script.get_current_head() if revision == "head" else revision
    current = current_revision(engine)
    if current == target:
        return
    if current is not None and current not in {s.revision for s in script.walk_revisions()}:
        raise StoreSchemaError(f"the store has schema revision {current}, newer than this backup-auditor knows "
                               f"(its newest is {target}): upgrade backup-auditor")
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
