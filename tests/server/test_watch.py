"""Raw watch streams against the API test server: relevant changes only, resume, expiry, reconnect."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from auditor.collect.kinds import KINDS
from auditor.server.watch import (
    WATCHED_FIELDS,
    Backoff,
    ResourceWatcher,
    WatchExpiredError,
    WatchStats,
    watched_kinds,
)
from tests.kubeapi.server import KubeAPIServer

from .stack import wait_until

PODS = next(k for k in KINDS if k.plural == "pods" and k.group == "")


def pod(name: str, phase: str = "Running", ip: str = "10.0.0.1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "app:1"}]},
            "status": {"phase": phase, "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


class Changes:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.count += 1


@pytest.fixture
def kube() -> Iterator[KubeAPIServer]:
    with KubeAPIServer() as server:
        server.put_object(pod("web-0"))
        yield server


def start(kube: KubeAPIServer, changes: Changes, **kw: Any) -> tuple[ResourceWatcher, threading.Event, WatchStats]:
    stop = threading.Event()
    stats = WatchStats()
    api = client.ApiClient(client.Configuration(host=kube.url))
    watcher = ResourceWatcher(api, "test", PODS, changes, stats, stop, backoff=Backoff(0.01, 0.05), **kw)
    watcher.start()
    wait_until(watcher.connected.is_set, 5, what="the watch to connect")
    return watcher, stop, stats


def finish(watcher: ResourceWatcher, stop: threading.Event) -> None:
    stop.set()
    watcher.close()
    watcher.join(5)
    assert not watcher.is_alive()


def test_watched_resources() -> None:
    """Derived from the kinds table and the tool registry: one resource per watched inventory field."""
    assert [k.field for k in watched_kinds()] == list(WATCHED_FIELDS)
    assert [k.resource for k in watched_kinds()] == [
        "backups.velero.io", "schedules.velero.io", "backupstoragelocations.velero.io",
        "persistentvolumeclaims", "persistentvolumes", "pods"]


def test_only_changes_to_what_the_scan_reads_count(kube: KubeAPIServer) -> None:
    changes = Changes()
    watcher, stop, stats = start(kube, changes)
    try:
        kube.put_object(pod("web-0", ip="10.0.0.2"))  # podIP: not read by the scan
        kube.put_object(pod("web-0", ip="10.0.0.2"))  # no change at all
        time.sleep(0.5)
        assert changes.count == 0
        kube.put_object(pod("web-0", phase="Failed"))
        wait_until(lambda: changes.count == 1, 5, what="the phase change")
        kube.put_object(pod("web-1"))
        wait_until(lambda: changes.count == 2, 5, what="the new pod")
        kube.delete_object("", "v1", "pods", "shop", "web-1")
        wait_until(lambda: changes.count == 3, 5, what="the deletion")
        assert stats.copy()[0] == {("test", "pods"): 3}
    finally:
        finish(watcher, stop)


def test_a_finished_stream_resumes_from_its_resource_version(kube: KubeAPIServer) -> None:
    changes = Changes()
    watcher, stop, _ = start(kube, changes, timeout_seconds=1)
    try:
        wait_until(lambda: len([r for r in kube.requests if r.query.get("watch") == "true"]) >= 3, 10,
                   what="two reconnects")
        first_rv = int(next(r for r in kube.requests if r.query.get("watch") == "true").query["resourceVersion"])
        kube.put_object(pod("web-0", phase="Failed"))
        wait_until(lambda: changes.count == 1, 5, what="an event after reconnecting")
        wait_until(lambda: any(int(r.query.get("resourceVersion") or 0) > first_rv for r in kube.requests
                               if r.query.get("watch") == "true"), 5, what="a reconnect from the newer version")
    finally:
        finish(watcher, stop)
    watches = [r for r in kube.requests if r.query.get("watch") == "true" and r.path == "/api/v1/pods"]
    lists = [r for r in kube.requests if "watch" not in r.query and r.path == "/api/v1/pods"]
    assert len(lists) == 1  # never listed again
    assert all(r.query.get("resourceVersion") for r in watches)
    assert changes.count == 1  # the reconnects replayed nothing


def test_an_expired_resource_version_lists_again_and_asks_for_a_rescan(kube: KubeAPIServer) -> None:
    changes = Changes()
    watcher, stop, stats = start(kube, changes, timeout_seconds=1)
    try:
        fault = kube.add_fault("GET", r"^/api/v1/pods$", {"watch": "true"}, status=410, times=1)
        wait_until(lambda: fault.hits == 1 and changes.count == 1, 10, what="a relist after 410 Gone")
        assert stats.copy()[1][("test", "pods")] >= 1
    finally:
        finish(watcher, stop)
    lists = [r for r in kube.requests if "watch" not in r.query and r.path == "/api/v1/pods"]
    assert len(lists) == 2


def test_an_expired_event_in_the_stream_is_recognised(kube: KubeAPIServer) -> None:
    watcher = ResourceWatcher(None, "test", PODS, Changes(), WatchStats(), threading.Event())
    with pytest.raises(WatchExpiredError):
        watcher._handle({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}, "5")
    assert watcher._handle({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}, "5") == "9"


def test_server_errors_back_off_and_reconnect(kube: KubeAPIServer) -> None:
    changes = Changes()
    watcher, stop, stats = start(kube, changes, timeout_seconds=1)
    try:
        kube.add_fault("GET", r"^/api/v1/pods$", {"watch": "true"}, status=500, times=3)
        wait_until(lambda: stats.copy()[1][("test", "pods")] >= 3, 10, what="three failed reconnects")
        wait_until(watcher.connected.is_set, 10, what="the watch to reconnect")
        kube.put_object(pod("web-0", phase="Failed"))
        wait_until(lambda: changes.count == 1, 5, what="events after the errors")
    finally:
        finish(watcher, stop)


def test_stop_unblocks_a_long_watch_at_once(kube: KubeAPIServer) -> None:
    watcher, stop, _ = start(kube, Changes(), timeout_seconds=300)
    started = time.monotonic()
    finish(watcher, stop)
    assert time.monotonic() - started < 2
