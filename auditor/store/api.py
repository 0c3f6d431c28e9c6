"""The history store: record scans, read the previous state of a cluster, trends, diffs, open-finding ages.

Every write is one transaction. On SQLite a writer waits for the write lock (busy timeout) instead of
failing, so ``auditor scan`` and ``auditor serve`` can record at the same time; a writer killed mid-way
leaves nothing behind (its transaction is rolled back). A transaction that meets a transient error (a
PostgreSQL restart, a serialization failure) is run again whole, for about 30 s (:mod:`auditor.store.retry`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from auditor.analyse.fleet import AgentState
from auditor.config import Retention
from auditor.errors import ScanNotFoundError, StoreError, StoreSchemaError
from auditor.model.runs import RunRecord
from auditor.store import read
from auditor.store import runs as executor_runs
from auditor.store import schema as s
from auditor.store.compression import decompress, decompress_json
from auditor.store.diff import diff_cluster
from auditor.store.engine import WRITE, make_engine
from auditor.store.migrate import upgrade
from auditor.store.retention import apply_retention
from auditor.store.retry import retried, retry_seconds
from auditor.store.url import display, resolve_url, sqlite_file
from auditor.store.views import ClusterDiff, FleetRow, OpenFinding, ScanRef, ScanSummary
from auditor.store.waivers import WaiverEvent, waiver_events

if TYPE_CHECKING:
    from auditor.analyse.protection import ProtectionState
    from auditor.analyse.scan import ScanResult

T = TypeVar("T")


class Store:
    """One history store. ``create=False`` refuses to create a SQLite file (for read-only commands)."""

    def __init__(self, url: str | None = None, *, create: bool = True, busy_timeout: float = 30.0,
                 retry_for: float | None = None) -> None:
        self.url = resolve_url(url)
        self.retry_for = retry_seconds() if retry_for is None else retry_for
        self.name = display(self.url)
        path = sqlite_file(self.url)
        if path is not None and not create and not path.exists():
            raise StoreError(f"no history store at {path}: record scans first (auditor scan --store)")
        self.engine = make_engine(self.url, busy_timeout)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine, expire_on_commit=False, execution_options={WRITE: True})
        try:
            self._guard("open", lambda: upgrade(self.engine))
        except StoreSchemaError as exc:
            self.engine.dispose()
            raise StoreSchemaError(f"history store {self.name}: {exc}") from None
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
        """``fn()``, retried on transient errors (a restarting server), then one clear line."""
        try:
            return retried(action, fn, self.retry_for)
        except SQLAlchemyError as exc:
            raise self._error(action, exc) from exc

    def _transaction(self, action: str, fn: Callable[[Session], T], write: bool = False) -> T:
        """``fn(session)`` in one transaction: committed when it returns, rolled back when it raises, and run
        again whole after a transient error (a server restart, a serialization failure)."""
        factory = self._writer if write else self._reader

        def attempt() -> T:
            with factory() as session, session.begin():
                return fn(session)

        return self._guard(action, attempt)

    # --- writes -----------------------------------------------------------------------------------

    def record_scan(self, result: ScanResult, document: dict[str, Any], retention: Retention | None = None, *,
                    interval: float | None = None, uids: Mapping[str, str] | None = None) -> int:
        """Record a ``ScanResult`` with its scan document (the caller builds it: ``auditor.output.document``);
        then apply ``retention``. ``interval``: the recording agent's scan interval (an agent silent for twice
        that is GOV-006); ``uids``: kube-system uids of clusters the scan could not read, as an earlier scan
        saw them."""
        # deferred: recording pulls the protection analysis and the Velero planner (0.3 s); readers (auditor
        # fleet, history, report --from-store) never record
        from auditor.store.record import record_scan

        recorded_at = datetime.now(UTC)
        scan_id = self._transaction("record the scan", lambda session: record_scan(
            session, result, document, recorded_at, interval, uids), write=True)
        if retention is not None:  # the clusters just recorded only: agents writing at once never meet here
            names = sorted({c.name for c in result.clusters})
            self._transaction("apply retention", lambda session: apply_retention(session, retention, keep=scan_id,
                                                                                 clusters=names), write=True)
        return scan_id

    def apply_retention(self, retention: Retention) -> int:
        return self._transaction("apply retention", lambda session: apply_retention(session, retention), write=True)

    def record_report(self, *, format: str, path: str, manifest: dict[str, Any], scan_id: int | None = None,
                      sha256: str | None = None, created_at: datetime | None = None) -> int:
        """A report written from a scan (for the report command): what, where, its checksum and manifest."""
        def write(session: Session) -> int:
            row = s.ReportManifest(scan_id=scan_id, created_at=created_at or datetime.now(UTC), format=format,
                                   path=path, sha256=sha256, manifest=manifest)
            session.add(row)
            session.flush()
            return row.id

        return self._transaction("record the report", write, write=True)

    # --- executor runs ---------------------------------------------------------------------------

    def begin_run(self, *, cluster: str, kind: str, namespace: str | None, target: str, object_name: str,
                  started_at: datetime, detail: dict[str, Any] | None = None) -> tuple[RunRecord, bool]:
        """Record a run under its identity before anything is created; (the run, whether this call recorded it).
        The identity is unique in the database: of any number of concurrent begins of the same run, one
        inserts and every other adopts that record (see :mod:`auditor.store.runs`)."""
        return self._transaction("record an executor run", lambda session: executor_runs.begin(
            session, cluster=cluster, kind=kind, namespace=namespace, target=target, object_name=object_name,
            started_at=started_at, detail=detail), write=True)

    def unfinished_run(self, *, cluster: str, kind: str, namespace: str | None, target: str) -> RunRecord | None:
        """The newest run for this target that never ended (a crash, or a wait that timed out while the object
        kept running): a manual rerun resumes it, never starts a twin."""
        found = self.unfinished_runs(cluster=cluster, kind=kind, namespace=namespace, target=target)
        return found[0] if found else None

    def unfinished_runs(self, *, cluster: str, kind: str, namespace: str | None, target: str) -> list[RunRecord]:
        """Every run for this target that never ended, newest first (a scheduled job settles older fire times)."""
        return self._transaction("read executor runs", lambda session: executor_runs.unfinished(
            session, cluster=cluster, kind=kind, namespace=namespace, target=target))

    def update_run(self, identity: str, status: str, detail: dict[str, Any] | None = None,
                   finished_at: datetime | None = None) -> None:
        """Set a run's status (an ended run is never reopened by a slower process of the same run)."""
        if not self._transaction("update an executor run",
                                 lambda session: executor_runs.update(session, identity, status, detail, finished_at),
                                 write=True):
            raise StoreError(f"history store {self.name}: no executor run {identity}")

    def find_run(self, *, cluster: str, kind: str, namespace: str | None, target: str,
                 object_name: str) -> RunRecord | None:
        """The run that made (or makes) this object, if any: a scheduled job asks whether a fire time ran."""
        return self._transaction("read executor runs", lambda session: executor_runs.find(
            session, cluster=cluster, kind=kind, namespace=namespace, target=target, object_name=object_name))

    def runs(self, cluster: str | None = None, limit: int = 50) -> list[RunRecord]:
        return self._transaction("read executor runs", lambda session: executor_runs.newest(session, cluster, limit))

    # --- reads ------------------------------------------------------------------------------------

    def waiver_events(self, until: datetime | None = None) -> list[WaiverEvent]:
        """When each waiver appeared, changed or vanished, oldest first (the exceptions register's history)."""
        return self._transaction("read the waiver history", lambda session: waiver_events(session, until))

    def previous_state(self, cluster: str, at: datetime, uid: str | None = None) -> ProtectionState | None:
        """The protection state of the newest scan of ``cluster`` (kube-system ``uid``, when known) at or before
        ``at`` (for GOV-002)."""
        return self._transaction("read the previous scan",
                                 lambda session: read.previous_state(session, cluster, at, uid))

    def latest_scans(self, cluster: str | None = None) -> list[ScanSummary]:
        """The newest scan that read each cluster (one per name and kube-system uid), by name: one query.
        ``document(row.scan_id)`` is its scan document (which may hold other clusters of the same run)."""
        return self._transaction("read the newest scans", lambda session: [
            read.summary(cs) for cs in read.latest_per_cluster(session, cluster)])

    def identities(self) -> list[AgentState]:
        """Every cluster the store knows by (name, kube-system uid), with rival claims on a name (GOV-007)."""
        return self._transaction("read the clusters", read.identities)

    def fleet(self, at: datetime | None = None) -> list[FleetRow]:
        """One row per cluster (``auditor fleet``), judged at ``at`` (default: now): two queries in all."""
        when = at or datetime.now(UTC)
        return self._transaction("read the fleet", lambda session: read.fleet(session, when))

    def history(self, cluster: str | None = None, limit: int = 50) -> list[ScanSummary]:
        return self._transaction("read the history", lambda session: read.summaries(session, cluster, limit))

    def document(self, scan_id: int) -> dict[str, Any]:
        return decompress(self._document_blob(scan_id))

    def document_json(self, scan_id: int) -> bytes:
        """The scan's document as JSON bytes, for a reader that parses only what it needs."""
        return decompress_json(self._document_blob(scan_id))

    def _document_blob(self, scan_id: int) -> bytes:
        blob = self._transaction("read the scan", lambda session: session.scalar(
            select(s.Scan.document).where(s.Scan.id == scan_id)))
        if blob is None:
            exists = self._transaction("read the scan", lambda session: session.get(s.Scan, scan_id) is not None)
            if exists:
                raise ScanNotFoundError(f"scan {scan_id} in the history store {self.name} was reduced to its summary "
                                        "by retention (history.retention.full_scans): its document is gone")
            raise ScanNotFoundError(f"no scan {scan_id} in the history store {self.name}")
        return bytes(blob)

    def open_findings(self, cluster: str | None = None, at: datetime | None = None,
                      statuses: tuple[str, ...] = ("open",)) -> list[OpenFinding]:
        """Findings of each cluster's newest scan with their age at ``at`` (default: that scan's time)."""
        def find(session: Session) -> list[OpenFinding]:
            out = []
            for cs in read.latest_per_cluster(session, cluster):
                now = at or cs.as_of
                out += [OpenFinding(f, read.ref(cs), (now - f.first_seen).total_seconds())
                        for f in read.findings_of(session, cs, statuses)]
            return out

        return self._transaction("read open findings", find)

    def volume_timeline(self, cluster: str, limit: int = 30) -> list[tuple[ScanRef, dict[tuple[str, str], str]]]:
        """Volume statuses of the newest ``limit`` scans of a cluster, oldest first (the report's heatmap)."""
        def timeline(session: Session) -> list[tuple[ScanRef, dict[tuple[str, str], str]]]:
            rows = list(session.scalars(select(s.ClusterScan).where(s.ClusterScan.cluster == cluster,
                                                                    s.ClusterScan.error.is_(None))
                                        .order_by(s.ClusterScan.as_of.desc(), s.ClusterScan.id.desc()).limit(limit)))
            return [(read.ref(cs), read.volumes_of(session, cs)) for cs in reversed(rows)]

        return self._transaction("read volume statuses", timeline)

    def diff(self, scan_a: int | None = None, scan_b: int | None = None,
             cluster: str | Collection[str] | None = None) -> list[ClusterDiff]:
        """Per cluster (``cluster``: one, several, or None for all), scan A against scan B; B defaults to the
        newest scan, A to the one before B."""
        def compare(session: Session) -> list[ClusterDiff]:
            out = []
            for a, b in self._pairs(session, scan_a, scan_b, cluster):
                out.append(replace(diff_cluster(b.cluster, read.ref(a), read.ref(b), read.findings_of(session, a),
                                                read.findings_of(session, b), read.volumes_of(session, a),
                                                read.volumes_of(session, b)), uid=b.cluster_uid))
            return out

        return self._transaction("compare scans", compare)

    def _pairs(self, session: Session, scan_a: int | None, scan_b: int | None,
               cluster: str | Collection[str] | None) -> list[tuple[s.ClusterScan, s.ClusterScan]]:
        names = None if cluster is None else {cluster} if isinstance(cluster, str) else set(cluster)
        single = cluster if isinstance(cluster, str) else None
        cluster = ", ".join(sorted(names)) if names else None  # for the messages
        bs = self._scan(session, scan_b) if scan_b is not None else read.latest_per_cluster(session, single)
        bs = [b for b in bs if b.error is None and (names is None or b.cluster in names)]
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

