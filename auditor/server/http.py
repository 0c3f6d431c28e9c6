"""The HTTP endpoints. Handlers read the published snapshot once and never wait for a scan.

``/metrics`` is the cached exposition plus a few live series (process, watch counters) rendered per
request; gzip members are concatenated, which Prometheus and every gzip reader accept. ``/metrics``,
``/healthz`` and ``/readyz`` are open; the data API (``/api/v1/scan``) answers only callers its
:mod:`auditor.server.auth` gate lets through, and is off (404) without one.
"""

from __future__ import annotations

import gzip
import logging
import socket
import ssl
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from auditor.output.hub_metrics import HubStatus, hub_families
from auditor.output.labels import label
from auditor.output.metrics import CONTENT_TYPE, PREFIX, ExecutorState, executor_families
from auditor.server.auth import Authenticator, bearer_token, client_label
from auditor.server.state import Current
from auditor.server.watch import WatchStats

log = logging.getLogger(__name__)


class LiveCollector(Collector):
    """Series that change between scans: watch activity, and the scheduled executor's leadership and runs."""

    def __init__(self, stats: WatchStats, executor: Callable[[], ExecutorState] | None = None,
                 hub: Callable[[], HubStatus] | None = None) -> None:
        self.stats = stats
        self.executor = executor
        self.hub = hub  # the history store as this serve sees it (serve --store)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> list[Metric]:
        events, errors = self.stats.copy()
        changes = CounterMetricFamily(PREFIX + "watch_events", "Watch events that changed what the scan reads "
                                      "(each asks for a rescan).", labels=["cluster", "resource"])
        failures = CounterMetricFamily(PREFIX + "watch_errors", "Watch streams that broke or expired and were "
                                       "reopened.", labels=["cluster", "resource"])
        for (cluster, resource), n in sorted(events.items()):
            changes.add_metric([label(cluster), resource], float(n))
        for (cluster, resource), n in sorted(errors.items()):
            failures.add_metric([label(cluster), resource], float(n))
        return [changes, failures, *executor_families(self.executor() if self.executor else None),
                *hub_families(self.hub() if self.hub else None)]


class AuditorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, current: Current, stats: WatchStats,
                 healthy: Callable[[], tuple[bool, str]],
                 executor: Callable[[], ExecutorState] | None = None, *, auth: Authenticator | None = None,
                 tls: ssl.SSLContext | None = None, hub: Callable[[], HubStatus] | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.current = current
        self.healthy = healthy
        self.auth = auth
        self.live = CollectorRegistry(auto_describe=False)
        self.live.register(ProcessCollector(registry=None))
        self.live.register(LiveCollector(stats, executor, hub))
        super().__init__((host, port), Handler)
        if tls is not None:  # the handshake runs in the request's thread, not in the accept loop
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("request from %s failed", client_address, exc_info=True)  # a scraper that went away


class Handler(BaseHTTPRequestHandler):
    server: AuditorHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        route = {"/metrics": self._metrics, "/healthz": self._healthz, "/readyz": self._readyz,
                 "/api/v1/scan": self._scan}.get(path)
        if route is None:
            self._send(404, b"not found: try /metrics, /healthz, /readyz or /api/v1/scan\n")
            return
        route()

    def _metrics(self) -> None:
        snapshot = self.server.current.get()
        live = generate_latest(self.server.live)
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = snapshot.exposition.gzipped() + gzip.compress(live, compresslevel=1)
            self._send(200, body, CONTENT_TYPE, {"Content-Encoding": "gzip"})
        else:
            self._send(200, snapshot.exposition.text + live, CONTENT_TYPE)

    def _healthz(self) -> None:
        ok, why = self.server.healthy()
        self._send(200 if ok else 503, (why + "\n").encode())

    def _readyz(self) -> None:
        ready = self.server.current.get().ready
        self._send(200 if ready else 503, b"ready\n" if ready else b"waiting for the first scan\n")

    def _authorised(self, path: str) -> bool:
        """Whether the data API may answer; sends 404/401/403/503 itself when not (the token is never logged)."""
        auth = self.server.auth
        if auth is None:
            self._send(404, b"not found: the data API is off (serve --api-token-file, or in a cluster API server "
                            b"authentication)\n")
            return False
        decision = auth.check(bearer_token(self.headers.get("Authorization")), path, "get")
        if decision.allowed:
            return True
        log.warning("refused GET %s from %s: %d %s", path, client_label(self.client_address), decision.status,
                    decision.reason)
        messages = {401: "unauthorized: send Authorization: Bearer TOKEN", 403: "forbidden",
                    503: "cannot check the credentials now"}
        headers = {"WWW-Authenticate": 'Bearer realm="backup-auditor"'} if decision.status == 401 else None
        self._send(decision.status, orjson.dumps({"error": messages.get(decision.status, "refused")}) + b"\n",
                   "application/json", headers)
        return False

    def _scan(self) -> None:
        if not self._authorised("/api/v1/scan"):
            return
        snapshot = self.server.current.get()
        if not snapshot.ready:
            self._send(503, b'{"error": "waiting for the first scan"}\n', "application/json")
            return
        self._send(200, snapshot.document(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)
