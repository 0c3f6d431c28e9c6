"""Executor runs in the store: insert-or-adopt under the unique identity, and the queries on runs.

The identity's unique index is what makes a run exactly once: any number of processes that begin the
same run at once issue the same insert, the database keeps the first (PostgreSQL ``ON CONFLICT DO
NOTHING``, SQLite ``INSERT OR IGNORE``) and every one of them then reads that one row back. There is no
read-then-insert window in which two of them could both decide the run is new.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from auditor.model.runs import RunRecord
from auditor.store import schema as s

UNFINISHED = ("planned", "created", "timed-out")  # a run whose object may still be working


def run_identity(cluster: str, kind: str, namespace: str | None, target: str, object_name: str) -> str:
    return f"{cluster}|{kind}|{namespace or ''}/{target}|{object_name}"


def record(row: s.ExecutorRun) -> RunRecord:
    return RunRecord(identity=row.identity, cluster=row.cluster, kind=row.kind, namespace=row.namespace,
                     target=row.target, object_name=row.object_name, status=row.status, started_at=row.started_at,
                     finished_at=row.finished_at, detail=dict(row.detail or {}))


def begin(session: Session, *, cluster: str, kind: str, namespace: str | None, target: str, object_name: str,
          started_at: datetime, detail: dict[str, Any] | None = None) -> tuple[RunRecord, bool]:
    """Insert the run unless its identity exists, then read it: (the run, whether this call inserted it)."""
    identity = run_identity(cluster, kind, namespace, target, object_name)
    values: dict[str, Any] = {"identity": identity, "cluster": cluster, "kind": kind, "name": object_name,
                              "namespace": namespace, "target": target, "object_name": object_name,
                              "started_at": started_at, "finished_at": None, "status": "planned",
                              "detail": detail or {}}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(s.ExecutorRun).on_conflict_do_nothing(index_elements=["identity"])
    elif dialect == "sqlite":
        statement = sqlite.insert(s.ExecutorRun).prefix_with("OR IGNORE")
    else:  # pragma: no cover - the store supports SQLite and PostgreSQL only (auditor/store/url.py)
        statement = insert(s.ExecutorRun)
    # RETURNING answers a row only when this statement inserted one (both dialects)
    inserted = session.execute(statement.values(values).returning(s.ExecutorRun.id)).first() is not None
    row = session.scalars(select(s.ExecutorRun).where(s.ExecutorRun.identity == identity)).one()
    return record(row), inserted


def unfinished(session: Session, *, cluster: str, kind: str, namespace: str | None,
               target: str) -> list[RunRecord]:
    """Every run for this target that never ended, newest first."""
    r = s.ExecutorRun
    rows = session.scalars(select(r).where(r.cluster == cluster, r.kind == kind, r.namespace == namespace,
                                           r.target == target, r.status.in_(UNFINISHED))
                           .order_by(r.started_at.desc(), r.id.desc()))
    return [record(row) for row in rows]


def update(session: Session, identity: str, status: str, detail: dict[str, Any] | None,
           finished_at: datetime | None) -> bool:
    """Set a run's status; False when there is no such run. A run that has ended is never reopened: a
    slower process of the same run that reports ``created`` after another recorded the end changes nothing."""
    row = session.scalars(select(s.ExecutorRun).where(s.ExecutorRun.identity == identity)
                          .with_for_update()).first()
    if row is None:
        return False
    if row.finished_at is not None and finished_at is None:
        return True
    row.status = status
    if detail is not None:
        row.detail = detail
    if finished_at is not None:
        row.finished_at = finished_at
    return True


def find(session: Session, *, cluster: str, kind: str, namespace: str | None, target: str,
         object_name: str) -> RunRecord | None:
    r = s.ExecutorRun
    row = session.scalars(select(r).where(r.cluster == cluster, r.kind == kind, r.namespace == namespace,
                                          r.target == target, r.object_name == object_name)
                          .order_by(r.id.desc()).limit(1)).first()
    return record(row) if row is not None else None


def newest(session: Session, cluster: str | None, limit: int) -> list[RunRecord]:
    query = select(s.ExecutorRun).order_by(s.ExecutorRun.started_at.desc(), s.ExecutorRun.id.desc())
    if cluster:
        query = query.where(s.ExecutorRun.cluster == cluster)
    return [record(row) for row in session.scalars(query.limit(limit))]
