"""Leader election over a real Lease on the API test server: acquire, renew, lose, take over, release."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from kubernetes import client

from auditor.config import LeaseConfig
from auditor.server.leader import LeaderElector, micro_time, parse_micro_time
from tests import factories as f
from tests.kubeapi.server import KubeAPIServer

LEASE = LeaseConfig(name="executor", namespace="backup-auditor", duration=15, renew_deadline=10, retry_period=2)
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


class Replica:
    """One candidate: its elector plus what its callbacks saw."""

    def __init__(self, server: KubeAPIServer, identity: str, clock: Clock, lease: LeaseConfig = LEASE) -> None:
        self.events: list[str] = []
        self.elector = LeaderElector(client.ApiClient(client.Configuration(host=server.url)), lease, identity,
                                     on_started_leading=lambda: self.events.append("started"),
                                     on_stopped_leading=lambda: self.events.append("stopped"), clock=clock)


@pytest.fixture
def server(kube_api: KubeAPIServer) -> KubeAPIServer:
    kube_api.seed([f.namespace("backup-auditor")])
    return kube_api


def lease(server: KubeAPIServer) -> dict[str, Any]:
    obj = server.get_object("coordination.k8s.io", "v1", "leases", "backup-auditor", "executor")
    assert obj is not None
    return obj


def test_acquires_an_absent_lease_and_renews_it(server: KubeAPIServer) -> None:
    clock = Clock()
    a = Replica(server, "a", clock)
    a.elector.step()
    assert a.elector.is_leader and a.events == ["started"]
    first = lease(server)
    spec = first["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 15 and spec["leaseTransitions"] == 0
    assert MICRO.match(spec["renewTime"]) and spec["acquireTime"] == spec["renewTime"]
    assert parse_micro_time(spec["renewTime"]) == pytest.approx(clock.t, abs=1e-5)

    clock.t += 2
    a.elector.step()
    renewed = lease(server)
    assert renewed["spec"]["renewTime"] == micro_time(clock.t) != spec["renewTime"]
    assert renewed["spec"]["acquireTime"] == spec["acquireTime"] and renewed["spec"]["leaseTransitions"] == 0
    assert renewed["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
    assert a.events == ["started"], "a renewal is not a new term"


def test_a_standby_waits_for_expiry_then_takes_over_and_the_old_leader_steps_down(server: KubeAPIServer) -> None:
    clock = Clock()
    a, b = Replica(server, "a", clock), Replica(server, "b", clock)
    a.elector.step()
    clock.t += 14  # a's lease is still valid (renewed at +0, 15 s)
    b.elector.step()
    assert not b.elector.is_leader and b.elector.holder == "a" and lease(server)["spec"]["holderIdentity"] == "a"
    clock.t += 2  # renewTime + 15 s < now: expired (a stalled and renewed nothing)
    b.elector.step()
    spec = lease(server)["spec"]
    assert b.elector.is_leader and spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == micro_time(clock.t)
    a.elector.step()  # a comes back: it sees b's valid lease and steps down at once
    assert not a.elector.is_leader and a.events == ["started", "stopped"]
    assert lease(server)["spec"]["holderIdentity"] == "b"


def test_losing_a_write_race_does_not_make_two_leaders(server: KubeAPIServer) -> None:
    clock = Clock()
    old, a, b = (Replica(server, n, clock) for n in ("old", "a", "b"))
    old.elector.step()
    clock.t += 20  # old's lease expired; a and b both read it, b writes first
    real = a.elector._request

    def read_then_b_wins(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        answer = real(method, path, body)
        if method == "GET":
            b.elector.step()
        return answer

    a.elector._request = read_then_b_wins  # type: ignore[method-assign]
    a.elector.step()  # its PUT carries the resourceVersion it read: 409 Conflict from the server
    assert b.elector.is_leader and not a.elector.is_leader and a.events == []
    assert lease(server)["spec"]["holderIdentity"] == "b" and lease(server)["spec"]["leaseTransitions"] == 1
    assert any(r.method == "PUT" and r.status == 409 for r in server.requests)


def test_a_leader_that_cannot_renew_steps_down_within_the_renew_deadline(server: KubeAPIServer) -> None:
    clock = Clock()
    a = Replica(server, "a", clock)
    a.elector.step()
    server.add_fault(None, r"/leases", status=500)
    for _ in range(5):  # every retry period for 10 s: still leading, the deadline has not passed
        clock.t += 2
        a.elector.step()
        assert a.elector.is_leader
    clock.t += 0.5
    a.elector.step()
    assert not a.elector.is_leader and a.events == ["started", "stopped"]
    assert a.elector.error_counts()["error"] == 6


def test_release_on_stop_lets_a_standby_take_over_at_once(server: KubeAPIServer) -> None:
    clock = Clock()
    a, b = Replica(server, "a", clock), Replica(server, "b", clock)
    a.elector.step()
    b.elector.step()
    assert not b.elector.is_leader
    a.elector.stop()
    spec = lease(server)["spec"]
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1 and spec["leaseTransitions"] == 0
    assert a.events == ["started", "stopped"]
    b.elector.step()  # no waiting for the 15 s duration
    spec = lease(server)["spec"]
    assert b.elector.is_leader and spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1


def test_stop_does_not_release_a_lease_someone_else_holds(server: KubeAPIServer) -> None:
    clock = Clock()
    a, b = Replica(server, "a", clock), Replica(server, "b", clock)
    b.elector.step()
    a.elector.step()
    a.elector.stop()
    assert lease(server)["spec"]["holderIdentity"] == "b" and a.events == []


def test_missing_or_forbidden_namespace_is_logged_retried_and_counted(
        kube_api: KubeAPIServer, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    a = Replica(kube_api, "a", clock)  # namespace backup-auditor does not exist on this server
    with caplog.at_level(logging.DEBUG, "auditor.server.leader"):
        a.elector.step()
        a.elector.step()
    assert not a.elector.is_leader and a.elector.error_counts()["not-found"] == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "said once, not every retry"
    assert "backup-auditor" in warnings[0] and "executor jobs do not run" in warnings[0]

    kube_api.seed([f.namespace("backup-auditor")])
    kube_api.add_fault(None, r"/leases", status=403, times=1)
    a.elector.step()
    assert a.elector.error_counts()["forbidden"] == 1 and not a.elector.is_leader
    a.elector.step()  # RBAC fixed: it recovers on its own
    assert a.elector.is_leader and lease(kube_api)["spec"]["holderIdentity"] == "a"


def test_the_thread_campaigns_and_stops(server: KubeAPIServer) -> None:
    fast = LeaseConfig(name="executor", namespace="backup-auditor", duration=3, renew_deadline=2, retry_period=0.2)
    a = Replica(server, "a", Clock(), fast)
    a.elector.clock = time.time
    a.elector.start()
    deadline = time.monotonic() + 10
    while not a.elector.is_leader and time.monotonic() < deadline:
        time.sleep(0.02)
    assert a.elector.is_leader
    a.elector.stop()
    assert not a.elector.is_leader and a.events == ["started", "stopped"]
    assert lease(server)["spec"]["holderIdentity"] == ""
