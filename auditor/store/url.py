"""Where the history store lives: a SQLAlchemy URL, a SQLite file path, or the per-user default."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from auditor.errors import StoreError

DEFAULT = "default"


def default_store_path() -> Path:
    """``$XDG_DATA_HOME/backup-auditor/store.db`` (``~/.local/share/...`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "backup-auditor" / "store.db"


def resolve_url(value: str | None) -> URL:
    """A URL for ``value``: empty or ``default`` is the per-user SQLite file, a path a SQLite file.

    ``postgresql://`` gets the psycopg 3 driver (SQLAlchemy would otherwise pick psycopg2, not installed).
    """
    if not value or value == DEFAULT:
        return URL.create("sqlite", database=str(default_store_path()))
    if "://" not in value:
        return URL.create("sqlite", database=str(Path(value).expanduser().resolve()))
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise StoreError(f"not a store URL: {value!r} (e.g. postgresql://user@host/db or a file path)") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if "+" not in url.drivername:
            url = url.set(drivername="postgresql+psycopg")
        return url
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise StoreError("an in-memory SQLite store keeps nothing: give a file path")
        return url
    raise StoreError(f"unsupported store backend {backend!r}: use SQLite (a file path) or postgresql://")


def display(url: URL) -> str:
    """The URL as shown in messages: never with its password."""
    return url.render_as_string(hide_password=True)


def sqlite_file(url: URL) -> Path | None:
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
