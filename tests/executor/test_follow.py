"""Following an object to its end: a watch that sees every phase, polling when watches are refused, and the
clear outcomes (deleted, timed out) the executor reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import config

from auditor.executor import run as executor
from auditor.executor.follow import FollowError, FollowTimeoutError, follow
from tests import factories as f
from tests.kubeapi.server import KubeAPIServer


@pytest.fixture()
def cluster(tmp_path: Any) -> Iterator[tuple[KubeAPIServer, Any]]:
    with KubeAPIServer() as server:
        server.put_object(f.namespace("velero"))
        server.put_object({**f.backup("nightly-1", phase="New"), "status": {}})
        api = config.new_client_from_config(str(server.write_kubeconfig(tmp_path / "kc")))
        yield server, api
        api.close()


def advance(server: KubeAPIServer, phases: list[str], delay: float = 0.2) -> threading.Thread:
    def move() -> None:
        for phase in phases:
            time.sleep(delay)
            obj = server.get_object("velero.io", "v1", "backups", "velero", "nightly-1")
            assert obj is not None
            server.put_object({**obj, "status": {"phase": phase}})

    thread = threading.Thread(target=move, daemon=True)
    thread.start()
    return thread


def watches(server: KubeAPIServer) -> int:
    return sum(1 for r in server.requests if r.query.get("watch") == "true" and "/backups" in r.path)


def test_a_watch_sees_each_phase_including_the_long_ones(cluster: tuple[KubeAPIServer, Any]) -> None:
    server, api = cluster
    phases = ["InProgress", "WaitingForPluginOperations", "Finalizing", "Completed"]
    mover = advance(server, phases)
    seen: list[str] = []
    final = executor.wait(api, "velero", "nightly-1", timeout=20, poll=30, on_phase=seen.append)
    mover.join()
    assert final["status"]["phase"] == "Completed"
    assert seen == ["New", *phases]  # each once, in order; a 30 s poll could not have seen them
    gets = [r for r in server.requests if r.method == "GET" and r.path.endswith("/backups/nightly-1")]
    assert watches(server) >= 1 and len(gets) <= 3, "followed by a watch, not by polling"


def test_refused_watch_falls_back_to_polling(cluster: tuple[KubeAPIServer, Any]) -> None:
    server, api = cluster
    server.add_fault("GET", r"/backups$", query={"watch": "true"}, status=403)
    mover = advance(server, ["InProgress", "Completed"])
    final = executor.wait(api, "velero", "nightly-1", timeout=20, poll=0.1)
    mover.join()
    assert final["status"]["phase"] == "Completed"
    gets = [r for r in server.requests if r.method == "GET" and r.path.endswith("/backups/nightly-1")]
    assert len(gets) >= 3, "polled after the watch was refused"


def test_a_broken_stream_is_followed_by_a_fresh_read(cluster: tuple[KubeAPIServer, Any]) -> None:
    server, api = cluster
    server.add_fault("GET", r"/backups$", query={"watch": "true"}, reset=True, times=2)
    mover = advance(server, ["Completed"], delay=0.3)
    final = executor.wait(api, "velero", "nightly-1", timeout=20, poll=0.1)
    mover.join()
    assert final["status"]["phase"] == "Completed"


def test_timeout_keeps_the_last_state(cluster: tuple[KubeAPIServer, Any]) -> None:
    server, api = cluster
    advance(server, ["WaitingForPluginOperations"], delay=0.05).join()
    started = time.monotonic()
    with pytest.raises(executor.ExecutorTimeoutError) as raised:
        executor.wait(api, "velero", "nightly-1", timeout=1.5, poll=0.2)
    assert 1.4 <= time.monotonic() - started < 10
    assert "still WaitingForPluginOperations after 2 s" in str(raised.value)
    assert raised.value.last["status"]["phase"] == "WaitingForPluginOperations"


def test_deleted_while_followed(cluster: tuple[KubeAPIServer, Any]) -> None:
    server, api = cluster

    def delete() -> None:
        time.sleep(0.3)
        server.delete_object("velero.io", "v1", "backups", "velero", "nightly-1")

    threading.Thread(target=delete, daemon=True).start()
    with pytest.raises(executor.ExecutorError, match="nightly-1 was deleted while the executor followed it"):
        executor.wait(api, "velero", "nightly-1", timeout=20)


def test_follow_any_condition(cluster: tuple[KubeAPIServer, Any]) -> None:
    _, api = cluster
    with pytest.raises(FollowTimeoutError):
        follow(api, executor.BACKUPS, "velero", "nightly-1", lambda obj: False, 0.5, poll=0.1)
    with pytest.raises(FollowError, match="cannot read Backup velero/nope"):
        follow(api, executor.BACKUPS, "velero", "nope", lambda obj: True, 1)
