"""``auditor serve --store``: the agent's side of the hub. Scanning never waits for the store.

Each scan compares with the previous state kept in memory (the store is read once per cluster, at the
first scan, if it answers), is judged on the fleet the store last showed (GOV-006, GOV-007; "not evaluated"
while the store cannot be read), and is handed to :class:`StoreWriter`, whose own thread records it. While
the store cannot be reached the scans wait in memory, oldest first (at most ``history.pending_writes`` or
``--pending-writes``: beyond that the oldest is dropped, logged and counted), and are written in order when
it is back; ``backup_auditor_store_pending_writes`` shows the queue. After each write the writer reads back
the clusters the store knows, the open findings' first-seen times and the executor's runs: what the next
scan and the metrics use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from auditor.analyse.fleet import AgentState, cluster_uid
from auditor.analyse.history import recorded_state
from auditor.analyse.protection import ProtectionState
from auditor.analyse.scan import ScanResult
from auditor.collect.live import Progress
from auditor.config import Retention
from auditor.errors import StoreError, StoreSchemaError
from auditor.model.runs import RunRecord
from auditor.model.scan import FindingAge
from auditor.output.document import build_document
from auditor.output.hub_metrics import HubStatus
from auditor.pipeline import ScanOptions, run_scan
from auditor.recording import run_stats
from auditor.store import Store
from auditor.store.url import display, resolve_url

log = logging.getLogger(__name__)

MAX_PENDING = 50  # scans kept in memory while the store is unreachable (serve: history.pending_writes)
RETRY_FOR = 5.0  # seconds one attempt may retry a transient store error
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 30.0
RECENT_RUNS = 50

Opener = Callable[[str, float], "Store"]


def _open_store(url: str, retry_for: float) -> Store:
    return Store(url, retry_for=retry_for)


class StoreWriter:
    """Records submitted scans from its own thread, in order, retrying while the store is down."""

    def __init__(self, url: str, *, retention: Retention | None, interval: float, max_pending: int = MAX_PENDING,
                 retry_for: float = RETRY_FOR, opener: Opener = _open_store) -> None:
        self.url = url
        self.retention = retention
        self.interval = interval
        self.max_pending = max_pending
        self.retry_for = retry_for
        self._open = opener
        self._pending: deque[tuple[ScanResult, dict[str, Any]]] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._store: Store | None = None
        self._store_lock = threading.Lock()  # the writer thread and the scan loop's first reads
        self.uids: dict[str, str] = {}  # kube-system uid per cluster, as the newest readable scan saw it
        self.fleet: tuple[AgentState, ...] | None = None
        self.first_seen: dict[tuple[str, str, str], datetime] = {}  # (cluster, rule, severity) -> oldest open
        self.runs: tuple[RunRecord, ...] = ()
        self.store_up: bool | None = None
        self.last_error: str | None = None  # why the newest attempt failed
        self.dropped = 0
        self.recorded = 0
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)

    @property
    def name(self) -> str:
        try:
            return display(resolve_url(self.url))
        except StoreError:
            return "the history store"

    # --- the scan loop's side ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, result: ScanResult, document: dict[str, Any]) -> None:
        """Queue a scan for recording; never waits for the store."""
        for c in result.clusters:
            uid = cluster_uid(c.analysis.inventory.namespaces) if c.analysis is not None else None
            if uid:
                self.uids[c.name] = uid
        with self._cond:
            self._pending.append((result, document))
            while len(self._pending) > self.max_pending:
                oldest, _ = self._pending.popleft()
                self.dropped += 1
                log.error("history store %s unreachable: more than %d scans waiting (history.pending_writes, "
                          "--pending-writes): the oldest, of %s, was dropped unwritten (%d dropped so far, "
                          "backup_auditor_store_dropped_writes_total)", self.name, self.max_pending,
                          oldest.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"), self.dropped)
            self._cond.notify_all()

    @property
    def pending_writes(self) -> int:
        with self._cond:
            return len(self._pending)

    def status(self, own: tuple[tuple[str, str], ...] = ()) -> HubStatus:
        return HubStatus(self.fleet, datetime.now(UTC), self.pending_writes, self.dropped, self.store_up, own,
                         self.max_pending)

    def read(self, what: str, fn: Callable[[Store], Any]) -> Any:
        """``fn(store)`` on the writer's connection, or None when the store cannot be reached now (a schema
        newer than this binary is raised)."""
        try:
            with self._store_lock:
                found = fn(self._connected())
        except StoreSchemaError:
            raise
        except StoreError as exc:
            log.warning("%s: cannot read %s now: %s", self.name, what, exc)
            self.store_up, self.last_error = False, str(exc)
            return None
        self.store_up = True
        return found

    def fleet_now(self) -> tuple[tuple[AgentState, ...] | None, str | None]:
        """The fleet to judge GOV-006/007 on, or None and why: never read, or the store down now (its last
        view would call every agent silent, and cannot tell a new rival name)."""
        if self.fleet is not None and self.store_up is not False:
            return self.fleet, None
        why = self.last_error or "it has not answered yet"
        return None, f"the history store {self.name} could not be read: {why}"

    def wait_until_written(self, timeout: float) -> bool:
        """True once nothing waits (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.pending_writes and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.pending_writes

    def stop(self, timeout: float = 5.0) -> None:
        """A last attempt to write what waits (bounded by ``timeout``), then close."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._store_lock:
            self._close()

    def read_back(self, store: Store) -> None:
        """What the next scan and the metrics use: the clusters the store knows, the open findings' first-seen
        times and the executor's runs."""
        self.fleet = tuple(store.identities())
        oldest: dict[tuple[str, str, str], datetime] = {}
        for item in store.open_findings():
            f = item.finding
            key = (f.cluster, f.rule_id, f.severity)
            oldest[key] = min(oldest.get(key, f.first_seen), f.first_seen)
        self.first_seen = oldest
        self.runs = tuple(store.runs(limit=100_000))

    # --- the writer's thread -----------------------------------------------------------------------

    def _connected(self) -> Store:
        if self._store is None:
            self._store = self._open(self.url, self.retry_for)
        return self._store

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _run(self) -> None:
        backoff = FIRST_BACKOFF
        while True:
            with self._cond:
                if not self._pending and not self._stopping:
                    self._cond.wait(timeout=self.interval)  # the fleet is read again at least this often
                stopping = self._stopping
            ok = self.flush()
            if stopping:
                return
            if ok:
                backoff = FIRST_BACKOFF
                continue
            with self._cond:  # the store is down: wait before the next attempt, unless told to stop
                if not self._stopping:
                    self._cond.wait(timeout=backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def flush(self) -> bool:
        """Write every waiting scan in order, then read back the fleet; False when the store failed."""
        try:
            with self._store_lock:
                store = self._connected()
                while True:
                    with self._cond:
                        if not self._pending:
                            break
                        result, document = self._pending[0]
                    try:
                        store.record_scan(result, document, retention=self.retention, interval=self.interval,
                                          uids=dict(self.uids))
                        self.recorded += 1
                    except StoreError:
                        raise
                    except Exception:  # a defect on this one scan must not hold every later one
                        log.exception("could not record the scan of %s; it is dropped", result.as_of)
                        self.dropped += 1
                    with self._cond:
                        if self._pending and self._pending[0][0] is result:
                            self._pending.popleft()
                self.read_back(store)
        except StoreError as exc:
            with self._store_lock:
                self._close()
            self.last_error = str(exc)
            if self.store_up is not False:
                log.warning("%s; %d scan(s) kept in memory until it is back", exc, self.pending_writes)
            self.store_up = False
            return False
        if self.store_up is False:
            log.warning("history store %s is back: the waiting scans are recorded", self.name)
        self.store_up = True
        return True


class Hub:
    """``serve``'s scan function with a store: compare in memory, judge the fleet, record asynchronously."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer
        self._states: dict[tuple[str, str], ProtectionState] = {}  # (cluster, uid or "") -> newest state
        self._asked: set[tuple[str, str]] = set()  # clusters whose previous state the store was asked for
        self._primed = False  # the store's fleet, findings and runs read once before the first scan's metrics

    def previous(self, cluster: str, at: datetime, uid: str | None = None) -> ProtectionState | None:
        """The newest state of the cluster: this process's last scan, else (once) the store's newest."""
        key = (cluster, uid or "")
        state = self._states.get(key) or self._states.get((cluster, ""))
        if state is not None or key in self._asked:
            return state
        self._asked.add(key)
        found: ProtectionState | None = self.writer.read("the previous scan",
                                                          lambda store: store.previous_state(cluster, at, uid))
        return found

    def scan(self, options: ScanOptions, progress: Progress | None = None) -> ScanResult:
        if not self._primed:  # the first scan is judged, and its metrics show, what the store already holds
            self._primed = True
            self.writer.read("the fleet, open findings and executor runs", self.writer.read_back)
        fleet, unknown = self.writer.fleet_now()
        result = run_scan(replace(options, store=None, fleet=fleet, fleet_unknown=unknown), progress, self.previous)
        for c in result.clusters:
            if c.analysis is not None:
                uid = cluster_uid(c.analysis.inventory.namespaces) or ""
                self._states[(c.name, uid)] = recorded_state(c.analysis)
        self.writer.submit(result, build_document(result))
        return self.with_history(result)

    def with_history(self, result: ScanResult) -> ScanResult:
        """What the store knew at its last read: open findings' ages (at this scan's time) and executor runs."""
        open_now = {(c.name, f.rule_id, f.severity) for c in result.clusters for f in c.findings
                    if f.status in ("open", "excepted")}
        ages = [FindingAge(*key, max(0.0, (result.as_of - seen).total_seconds()))
                for key, seen in sorted(self.writer.first_seen.items()) if key in open_now]
        runs = list(self.writer.runs)
        return replace(result, finding_ages=tuple(ages), executor_runs=run_stats(runs),
                       recent_runs=tuple(runs[:RECENT_RUNS]))

    def own(self, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        return tuple((n, self.writer.uids.get(n, "")) for n in names)


def hub_for(options: ScanOptions, settings: Any) -> Hub:
    """The hub of ``serve --store``. The store is opened once here: a schema newer than this binary stops
    serve (exit 2); an unreachable store does not (the scans wait for it)."""
    assert options.store is not None
    writer = StoreWriter(options.store, retention=options.config.history.retention, interval=settings.interval,
                         max_pending=settings.pending_writes)
    try:
        writer.read("the store", lambda store: None)
    except StoreSchemaError:
        raise
    return Hub(writer)
