"""The history store: record scans, read the previous state of a cluster, trends, diffs, open-finding ages.

Every write is one transaction. On SQLite a writer waits for the write lock (busy timeout) instead of
failing, so ``auditor scan`` and ``auditor serve`` can record at the same time; a writer killed mid-way
leaves nothing behind (its transaction is rolled back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from auditor.analyse.protection import ProtectionState
from auditor.config import Retention
from auditor.errors import ScanNotFoundError, StoreError
from auditor.store import read
from auditor.store import schema as s
from auditor.store.diff import diff_cluster
from auditor.store.engine import WRITE, make_engine
from auditor.store.migrate import upgrade
from auditor.store.record import decompress, record_scan
from auditor.store.retention import apply_retention
from auditor.store.url import display, resolve_url, sqlite_file
from auditor.store.views import ClusterDiff, OpenFinding, RunRecord, ScanRef, ScanSummary

if TYPE_CHECKING:
    from auditor.pipeline import ScanResult

T = TypeVar("T")


class Store:
    """One history store. ``create=False`` refuses to create a SQLite file (for read-only commands)."""

    def __init__(self, url: str | None = None, *, create: bool = True, busy_timeout: float = 30.0) -> None:
        self.url = resolve_url(url)
        self.name = display(self.url)
        path = sqlite_file(self.url)
        if path is not None and not create and not path.exists():
            raise StoreError(f"no history store at {path}: record scans first (auditor scan --store)")
        self.engine = make_engine(self.url, busy_timeout)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine, expire_on_commit=False, execution_options={WRITE: True})
        try:
            self._guard("open", lambda: upgrade(self.engine))
        except BaseException:
            self.engine.dispose()
            raise

    # --- plumbing ---------------------------------------------------------------------------------

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.close()

    def _error(self, action: str, exc: SQLAlchemyError) -> StoreError:
        detail = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        return StoreError(f"history store {self.name}: cannot {action}: {detail}")

    def _guard(self, action: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except SQLAlchemyError as exc:
            raise self._error(action, exc) from exc

    @contextmanager
    def _session(self, action: str, write: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        factory = self._writer if write else self._reader
        try:
            with factory() as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise self._error(action, exc) from exc

    # --- writes -----------------------------------------------------------------------------------

    def record_scan(self, result: ScanResult, document: dict[str, Any] | None = None,
                    retention: Retention | None = None) -> int:
        """Record a ``ScanResult`` (its document is built when not given); then apply ``retention``."""
        if document is None:
            from auditor.output.document import build_document

            document = build_document(result)
        with self._session("record the scan", write=True) as session:
            scan_id = record_scan(session, result, document, datetime.now(UTC))
        if retention is not None:
            with self._session("apply retention", write=True) as session:
                apply_retention(session, retention, keep=scan_id)
        return scan_id

    def apply_retention(self, retention: Retention) -> int:
        with self._session("apply retention", write=True) as session:
            return apply_retention(session, retention)

    def record_report(self, *, format: str, path: str, manifest: dict[str, Any], scan_id: int | None = None,
                      sha256: str | None = None, created_at: datetime | None = None) -> int:
        """A report written from a scan (for the report command): what, where, its checksum and manifest."""
        with self._session("record the report", write=True) as session:
            row = s.ReportManifest(scan_id=scan_id, created_at=created_at or datetime.now(UTC), format=format,
                                   path=path, sha256=sha256, manifest=manifest)
            session.add(row)
            session.flush()
            return row.id

    # --- executor runs ---------------------------------------------------------------------------

    def begin_run(self, *, cluster: str, kind: str, namespace: str | None, target: str, object_name: str,
                  started_at: datetime) -> tuple[RunRecord, bool]:
        """Record a run under its identity before anything is created; (the run, whether it is new).
        The identity is unique: a second begin of the same run returns the first record."""
        identity = f"{cluster}|{kind}|{namespace or ''}/{target}|{object_name}"
        with self._session("record an executor run", write=True) as session:
            row = session.scalar(select(s.ExecutorRun).where(s.ExecutorRun.identity == identity))
            if row is not None:
                return _run(row), False
            row = s.ExecutorRun(identity=identity, cluster=cluster, kind=kind, name=object_name,
                                namespace=namespace, target=target, object_name=object_name, started_at=started_at,
                                finished_at=None, status="planned", detail={})
            session.add(row)
            session.flush()
            return _run(row), True

    def unfinished_run(self, *, cluster: str, kind: str, namespace: str | None, target: str) -> RunRecord | None:
        """The newest run for this target that never ended (a crash, or a wait that timed out while the object
        kept running): the executor resumes it, never starts a twin."""
        with self._session("read executor runs") as session:
            row = session.scalar(select(s.ExecutorRun).where(
                s.ExecutorRun.cluster == cluster, s.ExecutorRun.kind == kind, s.ExecutorRun.namespace == namespace,
                s.ExecutorRun.target == target, s.ExecutorRun.status.in_(("planned", "created", "timed-out")))
                .order_by(s.ExecutorRun.started_at.desc(), s.ExecutorRun.id.desc()).limit(1))
            return _run(row) if row is not None else None

    def update_run(self, identity: str, status: str, detail: dict[str, Any] | None = None,
                   finished_at: datetime | None = None) -> None:
        with self._session("update an executor run", write=True) as session:
            row = session.scalar(select(s.ExecutorRun).where(s.ExecutorRun.identity == identity))
            if row is None:
                raise StoreError(f"history store {self.name}: no executor run {identity}")
            row.status = status
            if detail is not None:
                row.detail = detail
            if finished_at is not None:
                row.finished_at = finished_at

    def find_run(self, *, cluster: str, kind: str, namespace: str | None, target: str,
                 object_name: str) -> RunRecord | None:
        """The run that made (or makes) this object, if any: a scheduled job asks whether a fire time ran."""
        with self._session("read executor runs") as session:
            row = session.scalar(select(s.ExecutorRun).where(
                s.ExecutorRun.cluster == cluster, s.ExecutorRun.kind == kind, s.ExecutorRun.namespace == namespace,
                s.ExecutorRun.target == target, s.ExecutorRun.object_name == object_name)
                .order_by(s.ExecutorRun.id.desc()).limit(1))
            return _run(row) if row is not None else None

    def runs(self, cluster: str | None = None, limit: int = 50) -> list[RunRecord]:
        with self._session("read executor runs") as session:
            query = select(s.ExecutorRun).order_by(s.ExecutorRun.started_at.desc(), s.ExecutorRun.id.desc())
            if cluster:
                query = query.where(s.ExecutorRun.cluster == cluster)
            return [_run(row) for row in session.scalars(query.limit(limit))]

    # --- reads ------------------------------------------------------------------------------------

    def previous_state(self, cluster: str, at: datetime) -> ProtectionState | None:
        """The protection state of the newest scan of ``cluster`` at or before ``at`` (for GOV-002)."""
        with self._session("read the previous scan") as session:
            return read.previous_state(session, cluster, at)

    def history(self, cluster: str | None = None, limit: int = 50) -> list[ScanSummary]:
        with self._session("read the history") as session:
            return read.summaries(session, cluster, limit)

    def document(self, scan_id: int) -> dict[str, Any]:
        with self._session("read the scan") as session:
            blob = session.scalar(select(s.Scan.document).where(s.Scan.id == scan_id))
        if blob is None:
            raise ScanNotFoundError(f"no scan {scan_id} in the history store {self.name}")
        return decompress(blob)

    def open_findings(self, cluster: str | None = None, at: datetime | None = None,
                      statuses: tuple[str, ...] = ("open",)) -> list[OpenFinding]:
        """Findings of each cluster's newest scan with their age at ``at`` (default: that scan's time)."""
        with self._session("read open findings") as session:
            out = []
            for cs in read.latest_per_cluster(session, cluster):
                now = at or cs.as_of
                out += [OpenFinding(f, read.ref(cs), (now - f.first_seen).total_seconds())
                        for f in read.findings_of(session, cs, statuses)]
            return out

    def volume_timeline(self, cluster: str, limit: int = 30) -> list[tuple[ScanRef, dict[tuple[str, str], str]]]:
        """Volume statuses of the newest ``limit`` scans of a cluster, oldest first (the report's heatmap)."""
        with self._session("read volume statuses") as session:
            rows = list(session.scalars(select(s.ClusterScan).where(s.ClusterScan.cluster == cluster,
                                                                    s.ClusterScan.error.is_(None))
                                        .order_by(s.ClusterScan.as_of.desc(), s.ClusterScan.id.desc()).limit(limit)))
            return [(read.ref(cs), read.volumes_of(session, cs)) for cs in reversed(rows)]

    def diff(self, scan_a: int | None = None, scan_b: int | None = None,
             cluster: str | None = None) -> list[ClusterDiff]:
        """Per cluster, scan A against scan B; B defaults to the newest scan, A to the one before B."""
        with self._session("compare scans") as session:
            out = []
            for a, b in self._pairs(session, scan_a, scan_b, cluster):
                out.append(diff_cluster(b.cluster, read.ref(a), read.ref(b), read.findings_of(session, a),
                                        read.findings_of(session, b), read.volumes_of(session, a),
                                        read.volumes_of(session, b)))
            return out

    def _pairs(self, session: Session, scan_a: int | None, scan_b: int | None,
               cluster: str | None) -> list[tuple[s.ClusterScan, s.ClusterScan]]:
        bs = self._scan(session, scan_b) if scan_b is not None else read.latest_per_cluster(session, cluster)
        bs = [b for b in bs if b.error is None and (cluster is None or b.cluster == cluster)]
        if scan_a is not None:
            by_cluster = {a.cluster: a for a in self._scan(session, scan_a) if a.error is None}
            pairs = [(by_cluster[b.cluster], b) for b in bs if b.cluster in by_cluster]
            if not pairs:
                raise ScanNotFoundError(f"scans {scan_a} and {scan_b or 'newest'} have no scanned cluster in common"
                                        + (f" named {cluster}" if cluster else ""))
            return pairs
        pairs = [(a, b) for b in bs for a in [read.previous_of(session, b)] if a is not None]
        if not pairs:
            raise StoreError("nothing to compare: the history store has no two scans of the same cluster"
                             + (f" {cluster}" if cluster else ""))
        return pairs

    def _scan(self, session: Session, scan_id: int) -> list[s.ClusterScan]:
        rows = read.cluster_scans_of(session, scan_id)
        if not rows:
            raise ScanNotFoundError(f"no scan {scan_id} in the history store {self.name} (see auditor history)")
        return rows


def _run(row: s.ExecutorRun) -> RunRecord:
    return RunRecord(identity=row.identity, cluster=row.cluster, kind=row.kind, namespace=row.namespace,
                     target=row.target, object_name=row.object_name, status=row.status, started_at=row.started_at,
                     finished_at=row.finished_at, detail=dict(row.detail or {}))
