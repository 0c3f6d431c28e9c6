"""One scan of every configured cluster → one snapshot, with health kept across scans.

All clusters are scanned together with ``scan_and_record`` (cross-cluster rules such as a credential shared
by several clusters need them all). When a cluster cannot be read, its previous verdicts stay
published (their as-of time tells their age) and ``backup_auditor_scan_success`` turns 0, so a
broken connection never looks like resolved problems.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from auditor.analyse.scan import ClusterScan, ScanResult
from auditor.errors import AuditorError
from auditor.output.metrics import ClusterHealth, MetricsInput
from auditor.pipeline import ScanOptions
from auditor.recording import scan_and_record
from auditor.server.preflight import PreflightRunner, with_findings
from auditor.server.settings import ServeSettings
from auditor.server.state import Current, Snapshot

log = logging.getLogger(__name__)

ScanFn = Callable[[ScanOptions], ScanResult]


def empty_result() -> ScanResult:
    return ScanResult(datetime.now(UTC), (), ())


class Scanner:
    def __init__(self, options: ScanOptions, settings: ServeSettings, current: Current,
                 expected_clusters: tuple[str, ...] = (), scan: ScanFn = scan_and_record) -> None:
        self.options = options
        self.settings = settings
        self.current = current
        self.expected = expected_clusters  # named before the first scan (contexts); dumps name themselves
        self._scan = scan
        self._previous: dict[str, ClusterScan] = {}
        self._counts: dict[str, tuple[int, int]] = {}  # cluster -> (succeeded, failed)
        self._seq = 0
        self.running_since: float | None = None  # monotonic start of the scan in progress
        self.lock = threading.Lock()  # one scan at a time
        pairs = options.config.preflight
        self.preflight = PreflightRunner(pairs, options.kubeconfig, settings.interval) if pairs else None

    def scan_once(self) -> Snapshot:
        with self.lock:
            started, wall = time.monotonic(), time.time()
            self.running_since = started
            try:
                result, error = self._scan(self.options), None
                if self.preflight is not None:  # the DR targets (docs/preflight.md) and rule PRE-001
                    config = self.options.config
                    result = with_findings(result, self.preflight.run(result), config.rules, config.exceptions.waivers)
            except AuditorError as exc:
                result, error = None, str(exc)
            except Exception as exc:  # a bug must not stop the server: report it as a failed scan
                log.exception("scan failed")
                result, error = None, f"unexpected {type(exc).__name__}: {exc}"
            finally:
                self.running_since = None
            duration = time.monotonic() - started
            snapshot = self._snapshot(result, error, wall + duration, duration)
            self.current.publish(snapshot)
            self._log(snapshot, duration, error)
            return snapshot

    def _snapshot(self, result: ScanResult | None, error: str | None, finished: float,
                  duration: float) -> Snapshot:
        if result is None:
            names = list(self._previous) or list(self.expected) or ["unknown"]
            result = ScanResult(datetime.now(UTC), tuple(ClusterScan(n, None, (), error) for n in names), ())
        clusters, health = [], []
        for scan in result.clusters:
            ok = scan.analysis is not None
            if ok:
                self._previous[scan.name] = scan
            elif scan.name in self._previous:  # keep the last verdicts, flagged by scan_success=0
                scan = replace(self._previous[scan.name], error=scan.error)
            good, bad = self._counts.get(scan.name, (0, 0))
            self._counts[scan.name] = (good + ok, bad + (not ok))
            clusters.append(scan)
            health.append(ClusterHealth(scan.name, finished, duration, ok, self.settings.interval,
                                        good + ok, bad + (not ok), None if ok else scan.error))
        rules = result.rules or (self.current.get().data.result.rules if self._seq else ())
        merged = replace(result, clusters=tuple(clusters), rules=rules)
        self._seq += 1
        return Snapshot(MetricsInput(merged, tuple(health), self.settings.per_volume_metrics),
                        ready=True, seq=self._seq)

    def _log(self, snapshot: Snapshot, duration: float, error: str | None) -> None:
        for h in snapshot.data.health:
            if not h.success:
                log.warning("scan of %s failed: %s", h.cluster, h.error)
        volumes = sum(len(c.analysis.volumes) for c in snapshot.data.result.clusters if c.analysis)
        log.info("scan %d finished in %.2fs: %d clusters, %d volumes%s", snapshot.seq, duration,
                 len(snapshot.data.health), volumes, f" (error: {error})" if error else "")
