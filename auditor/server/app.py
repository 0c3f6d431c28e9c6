"""Wiring of ``auditor serve``: the HTTP server, the scan loop, the watchers, signals and shutdown."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import FrameType

from auditor.output.hub_metrics import HubStatus
from auditor.output.metrics import MetricsInput
from auditor.pipeline import ScanOptions, live_targets
from auditor.recording import scan_and_record
from auditor.server.auth import api_authenticator
from auditor.server.cache import IncrementalCollector, WatchCache
from auditor.server.http import AuditorHTTPServer
from auditor.server.hub import hub_for
from auditor.server.jobs import scheduled_executor
from auditor.server.reports import ReportScheduler
from auditor.server.scanner import ScanFn, Scanner, empty_result
from auditor.server.settings import ServeSettings
from auditor.server.state import Current, Snapshot
from auditor.server.tls import server_context
from auditor.server.trigger import RescanTrigger
from auditor.server.watch import ResourceWatcher, WatchStats, watched_kinds

log = logging.getLogger(__name__)

RECLAIM_EVERY = 50  # event rescans between two reclaims of frozen memory


class AuditorServer:
    """Start with ``start()``, stop with ``stop()``; ``run()`` does both around SIGTERM/SIGINT."""

    def __init__(self, options: ScanOptions, settings: ServeSettings, scan: ScanFn = scan_and_record,
                 lease_identity: str | None = None) -> None:
        self.options = options
        self.settings = settings
        self.stop_event = threading.Event()
        self.stats = WatchStats()
        self.current = Current(Snapshot(MetricsInput(empty_result(), (), settings.per_volume_metrics),
                                        ready=False, seq=0))
        targets = live_targets(options) if options.live else []  # bad kubeconfig/context: fails here
        # who may read the data API, and HTTPS: bad token, certificate or key files fail here (exit 2)
        auth = api_authenticator(settings.api_token_file, settings.api_auth_kubernetes,
                                 targets[0].api_client if targets else None, targets[0].name if targets else None)
        self.tls = server_context(settings.tls_cert_file, settings.tls_key_file)
        # executor jobs (bad ones fail here, before anything runs); they run only in the Lease holder
        self.executor = scheduled_executor(options, lease_identity, settings.shutdown_grace)
        self.trigger = RescanTrigger(settings.interval, settings.quiet, settings.max_delay)
        # with watches, an event-triggered rescan reads the watched kinds from the watchers' cache and the rest
        # from the newest full scan; the interval's full rescan reads everything (see cache.py)
        self.cache = WatchCache() if settings.watch and targets else None
        self.collector = IncrementalCollector(self.cache, watched_kinds()) if self.cache else None
        if self.collector is not None:
            options = replace(options, collector=self.collector)
        # with a history store (and the default scan), scans are recorded from a thread of their own and wait in
        # memory while the store is down; a store newer than this binary fails here (exit 2)
        self.hub = hub_for(options, settings) if options.store and scan is scan_and_record else None
        if self.hub is not None:
            scan = self.hub.scan
        self.scanner = Scanner(options, settings, self.current, tuple(t.name for t in targets), scan)
        self.watchers = [
            ResourceWatcher(t.api_client, t.name, kind, self.trigger.notify, self.stats, self.stop_event,
                            timeout_seconds=settings.watch_timeout, cache=self.cache)
            for t in (targets if settings.watch else []) for kind in watched_kinds()
        ]
        self.http = AuditorHTTPServer(settings.host, settings.port, self.current, self.stats, self.healthy,
                                      self.executor.state if self.executor else None, auth=auth, tls=self.tls,
                                      hub=self._hub_status if self.hub else None)
        self.reports = ReportScheduler(options.config.reports, self.current)
        self._last_event_scan = 0.0  # seconds the newest event-triggered rescan took
        self._since_reclaim = 0
        self._loop = threading.Thread(target=self._scan_loop, name="scan-loop", daemon=True)
        self._http_thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.2},
                                             name="http", daemon=True)

    @property
    def url(self) -> str:
        host = self.settings.host
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.http.port}"

    def _hub_status(self) -> HubStatus:
        assert self.hub is not None
        names = tuple(h.cluster for h in self.current.get().data.health) or self.scanner.expected
        return self.hub.writer.status(self.hub.own(names))

    def start(self) -> None:
        if self.hub is not None:
            self.hub.writer.start()
        self._http_thread.start()
        for watcher in self.watchers:  # before the first scan: nothing between scan and watch is lost
            watcher.start()
        self._loop.start()
        self.reports.start()
        if self.executor:
            self.executor.start()

    def _scan_loop(self) -> None:
        while not self.stop_event.is_set():
            reason = self.trigger.wait()
            if reason is None:
                return
            log.debug("scanning (%s)", reason)
            if self.collector is not None:
                self.collector.full = reason != "events"
            started = time.monotonic()
            try:
                self.scanner.scan_once()
            except Exception:  # publishing failed: keep serving the last snapshot; BackupAuditorScanStale fires
                log.exception("could not publish a scan")
            took = time.monotonic() - started
            # the half-busy guard spaces event rescans by what an event rescan costs: after a full read, the next
            # one comes from the watch cache, so the full read's duration would only delay it
            full_read = self.collector is not None and self.collector.full
            self.trigger.scanned(self._last_event_scan if full_read else took)
            if self.collector is not None and not self.collector.full:
                self._last_event_scan = took
            self._reclaim(reason)  # after publishing: it delays no verdict already computed

    def _reclaim(self, reason: str) -> None:
        """Scans freeze what they build (``gc_paused``: the collector need not traverse it); the few cycles
        among it would never be freed. So after a full rescan, and after every ``RECLAIM_EVERY`` event rescans,
        unfreeze, collect and freeze again: memory stays flat however long serve runs (tested)."""
        self._since_reclaim += 1
        if reason == "events" and self._since_reclaim < RECLAIM_EVERY:
            return
        self._since_reclaim = 0
        started = time.monotonic()
        gc.unfreeze()
        gc.collect()
        gc.freeze()  # what survived is the published result and the caches: long-lived again
        log.debug("reclaimed frozen memory in %.2fs", time.monotonic() - started)

    def healthy(self) -> tuple[bool, str]:
        if not self._loop.is_alive() and not self.stop_event.is_set():
            return False, "the scan loop stopped"
        since = self.scanner.running_since
        limit = max(600.0, 3 * self.settings.interval)
        if since is not None and time.monotonic() - since > limit:
            return False, f"a scan has been running for more than {limit:.0f}s"
        return True, "ok"

    def stop(self) -> None:
        """Stop serving and watching; wait briefly for a running scan (its result is dropped)."""
        self.stop_event.set()
        if self.executor:  # first: runs in progress finish, then the Lease goes to a standby at once
            self.executor.stop()
        self.trigger.stop()
        self.reports.stop()
        for watcher in self.watchers:
            watcher.close()
        if self._http_thread.is_alive():
            self.http.shutdown()
        self.http.server_close()
        self._loop.join(timeout=self.settings.shutdown_grace)
        if self.hub is not None:  # a last attempt to write what waits
            self.hub.writer.stop(timeout=self.settings.shutdown_grace)
        for watcher in self.watchers:
            watcher.join(timeout=1.0)

    def run(self, announce: Callable[[str], None]) -> None:
        """Serve until SIGTERM or SIGINT, then shut down gracefully."""

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("received %s, shutting down", signal.Signals(signum).name)
            self.stop_event.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            api = "/api/v1/scan" if self.http.auth else "no data API: neither --api-token-file nor API server auth"
            announce(f"serving on {self.url} (/metrics, /healthz, /readyz, {api})")
            while not self.stop_event.wait(1.0):
                pass
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)


def serve(options: ScanOptions, settings: ServeSettings, announce: Callable[[str], None],
          lease_identity: str | None = None) -> None:
    AuditorServer(options, settings, lease_identity=lease_identity).run(announce)
