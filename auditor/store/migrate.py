"""Schema migrations, run programmatically when a store is opened (no alembic.ini at runtime).

Two processes opening a new store at once must not both create the tables: the upgrade runs in one
write transaction holding a lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), and
alembic re-reads the revision inside it, so the second process finds the work done.

Opening a store that is up to date (every read: ``auditor fleet``, ``history``, reports) compares its
``alembic_version`` row with the newest revision of ``migrations/versions/`` read from the files' text, so
alembic itself (0.3 s to import) is loaded only when there is something to upgrade.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from auditor.errors import StoreSchemaError
from auditor.store.engine import WRITE

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
ADVISORY_LOCK = 7_301_996_355_310_412  # one fixed id: every backup-auditor process takes the same lock
_REVISION = re.compile(r'^revision\s*=\s*"([^"]+)"', re.M)
_DOWN = re.compile(r'^down_revision\s*=\s*"([^"]+)"', re.M)


def _config() -> Config:
    from alembic.config import Config  # deferred: alembic (0.3 s) only to upgrade or inspect the chain

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@lru_cache(maxsize=1)
def known_revisions() -> tuple[frozenset[str], str]:
    """Every revision this version knows and the newest, from the migration files' ``revision`` and
    ``down_revision`` lines (a linear chain)."""
    revisions, parents = set(), set()
    for path in sorted((MIGRATIONS / "versions").glob("v*.py")):
        source = path.read_text()
        found = _REVISION.search(source)
        if found:
            revisions.add(found.group(1))
            parents.update(_DOWN.findall(source))
    heads = revisions - parents
    if len(heads) != 1:
        raise StoreSchemaError(f"the migrations in {MIGRATIONS} have {len(heads)} heads: {sorted(heads)}")
    return frozenset(revisions), heads.pop()


def head_revision() -> str:
    from alembic.script import ScriptDirectory  # deferred: alembic (0.3 s), see _config

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The store's revision (None: a store without tables), read with SQLAlchemy alone."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the store to ``revision`` in place; a no-op when it is there already."""
    known, head = known_revisions()
    target = head if revision == "head" else revision
    current = current_revision(engine)
    if current == target:
        return
    if current is not None and current not in known:
        raise StoreSchemaError(f"the store has schema revision {current}, newer than this backup-auditor knows "
                               f"(its newest is {head}): upgrade backup-auditor")
    from alembic import command  # deferred: alembic (0.3 s) only when there is something to upgrade

    config = _config()
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
