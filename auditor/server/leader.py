"""Leader election over a ``coordination.k8s.io/v1`` Lease, so only one ``auditor serve`` replica runs jobs.

Semantics follow client-go's ``leaderelection`` (``holderIdentity``, ``leaseDurationSeconds``,
``acquireTime``, ``renewTime``, ``leaseTransitions``; a conflicting write loses the race), with what the
stock Python port lacks: it talks through the project's own API client (no global Configuration), keeps
campaigning after it lost the lease, and releases the lease on a graceful stop so a standby takes over at
once instead of after the lease duration. A missing or forbidden namespace is logged and retried: the
server keeps serving metrics, only jobs do not run.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import urllib3

from auditor.collect.live import status_message
from auditor.config import LeaseConfig

log = logging.getLogger(__name__)

Clock = Callable[[], float]  # Unix seconds: injectable for unit tests
ERROR_REASONS = ("forbidden", "not-found", "error")  # the metric's bounded label values


def default_identity() -> str:
    """client-go's convention: the hostname (the pod name in a pod) plus a random suffix."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def micro_time(t: float) -> str:
    """A Kubernetes MicroTime: ``2026-11-26T00:00:00.000000Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class LeaseError(Exception):
    """The Lease could not be read or written: ``reason`` is one of :data:`ERROR_REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class LeaderElector:
    """Campaigns for the Lease in a thread; calls ``on_started_leading``/``on_stopped_leading`` from it.

    ``step()`` is one round (acquire or renew); the thread runs it every ``retry_period``. The leader steps
    down when another holder took the Lease, or when no renewal succeeded within ``renew_deadline`` (it must
    stop before a standby may take over at ``duration``)."""

    def __init__(self, api: Any, lease: LeaseConfig, identity: str | None = None, *,
                 on_started_leading: Callable[[], None] = lambda: None,
                 on_stopped_leading: Callable[[], None] = lambda: None, clock: Clock = time.time) -> None:
        self.api = api
        self.lease = lease
        self.identity = identity or default_identity()
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.clock = clock
        self.errors: Counter[str] = Counter({reason: 0 for reason in ERROR_REASONS})
        self.holder: str | None = None  # the holder last observed (ours or another's)
        self._leading = False
        self._last_renew = 0.0
        self._last_error: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.lease.namespace}/leases"

    def error_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.errors)

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        log.info("campaigning for Lease %s/%s as %s", self.lease.namespace, self.lease.name, self.identity)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop campaigning; a leader steps down first, then hands the Lease back (``release``)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._timeout() + 5.0)
        if self._leading:
            self._step_down("shutting down", logging.INFO)
        if release and self.holder == self.identity:
            self.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()
            self._stop.wait(self.lease.retry_period)

    # --- one round --------------------------------------------------------------------------------

    def step(self) -> None:
        """Try to acquire (standby) or renew (leader) once, and act on the outcome."""
        now = self.clock()
        try:
            ours = self.try_acquire_or_renew(now)
        except LeaseError as exc:
            self._error(exc)
            ours = False
        if ours:
            self._last_renew = now
            if not self._leading and not self._stop.is_set():
                self._leading = True
                log.info("became leader: Lease %s/%s is held by %s", self.lease.namespace, self.lease.name,
                         self.identity)
                self._callback(self.on_started_leading)
            return
        if not self._leading:
            return
        if self.holder not in (None, self.identity):
            self._step_down(f"the Lease is now held by {self.holder}")
        elif now - self._last_renew > self.lease.renew_deadline:
            self._step_down(f"no renewal succeeded within {self.lease.renew_deadline:g}s")

    def _step_down(self, why: str, level: int = logging.WARNING) -> None:
        self._leading = False
        log.log(level, "stopped leading (%s)", why)
        self._callback(self.on_stopped_leading)

    def _callback(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a broken callback must not end the election
            log.exception("leader election callback failed")

    def _error(self, exc: LeaseError) -> None:
        with self._lock:
            self.errors[exc.reason] += 1
        text = str(exc)
        level = logging.DEBUG if text == self._last_error else logging.WARNING  # once, not every retry
        log.log(level, "Lease %s/%s: %s; executor jobs do not run until it works (retrying every %gs)",
                self.lease.namespace, self.lease.name, text, self.lease.retry_period)
        self._last_error = text

    def try_acquire_or_renew(self, now: float) -> bool:
        """True when this replica holds the Lease after the call. Raises :class:`LeaseError`."""
        current = self._request("GET", f"{self.path}/{self.lease.name}")
        if current is None:
            created = self._request("POST", self.path, self._lease_object(now, None))
            if created is None:  # 409: another replica created it first; read it next round
                self.holder = None
                return False
            self._recovered()
            self.holder = self.identity
            return True
        self._recovered()
        spec = current.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        self.holder = holder or None
        if holder and holder != self.identity and not self._expired(spec, now):
            return False
        updated = self._request("PUT", f"{self.path}/{self.lease.name}", self._lease_object(now, current))
        if updated is None:  # 409 Conflict: somebody wrote it since we read it; we lost this race
            return False
        self.holder = self.identity
        return True

    def release(self) -> None:
        """Hand the Lease back as client-go's ReleaseOnCancel does: empty holder, 1 s duration."""
        try:
            current = self._request("GET", f"{self.path}/{self.lease.name}")
            if current is None or (current.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            now = self.clock()
            spec = current.get("spec") or {}
            released = {**current, "spec": {"holderIdentity": "", "leaseDurationSeconds": 1,
                                            "acquireTime": micro_time(now), "renewTime": micro_time(now),
                                            "leaseTransitions": int(spec.get("leaseTransitions") or 0)}}
            if self._request("PUT", f"{self.path}/{self.lease.name}", released) is not None:
                log.info("released Lease %s/%s", self.lease.namespace, self.lease.name)
        except LeaseError as exc:
            log.warning("could not release Lease %s/%s (%s): a standby takes over when it expires",
                        self.lease.namespace, self.lease.name, exc)

    # --- helpers ----------------------------------------------------------------------------------

    def _expired(self, spec: dict[str, Any], now: float) -> bool:
        renewed = parse_micro_time(spec.get("renewTime")) or parse_micro_time(spec.get("acquireTime"))
        duration = spec.get("leaseDurationSeconds")
        if renewed is None or not isinstance(duration, int):
            return True
        return renewed + duration < now

    def _lease_object(self, now: float, current: dict[str, Any] | None) -> dict[str, Any]:
        old = (current or {}).get("spec") or {}
        ours = old.get("holderIdentity") == self.identity
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": math.ceil(self.lease.duration),
                "acquireTime": old.get("acquireTime") if ours and old.get("acquireTime") else micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": int(old.get("leaseTransitions") or 0) + (0 if ours or current is None else 1)}
        if current is None:
            return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.lease.name, "namespace": self.lease.namespace}, "spec": spec}
        meta = current.get("metadata") or {}
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": spec,
                "metadata": {**meta, "resourceVersion": meta.get("resourceVersion")}}

    def _timeout(self) -> float:
        return max(0.5, min(10.0, self.lease.renew_deadline / 2))

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The answer's object; None for 404 on GET and 409 on writes; LeaseError for anything else."""
        try:
            m, url, headers, data, post = self.api.param_serialize(
                method=method, resource_path=path, body=body,
                header_params={"Accept": "application/json", **({"Content-Type": "application/json"} if body else {})},
                auth_settings=["BearerToken"])
            response = self.api.call_api(m, url, header_params=headers, body=data, post_params=post,
                                         _request_timeout=self._timeout())
            raw = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise LeaseError("error", f"{method} failed: {type(exc).__name__}: {exc}") from None
        status = response.status
        if 200 <= status < 300:
            obj = orjson.loads(raw)
            return obj if isinstance(obj, dict) else {}
        if (status == 404 and method == "GET") or (status == 409 and method != "GET"):
            return None
        message = status_message(raw, status)
        if status == 403:
            raise LeaseError("forbidden", f"forbidden ({message}): grant get, create and update on leases "
                                          f"in namespace {self.lease.namespace}")
        if status == 404:
            raise LeaseError("not-found", f"cannot {method} ({message}): does namespace "
                                          f"{self.lease.namespace} exist?")
        raise LeaseError("error", f"{method} answered HTTP {status}: {message}")

    def _recovered(self) -> None:
        if self._last_error is not None:
            log.info("Lease %s/%s is reachable again", self.lease.namespace, self.lease.name)
            self._last_error = None
