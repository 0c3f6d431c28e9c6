"""Transient API errors are retried with backoff (a fixed name makes a repeated POST safe); permanent ones
fail at once with the API server's reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config

from auditor.executor import run as executor
from auditor.executor.velero import backup_from_schedule
from tests import factories as f
from tests.kubeapi.server import KubeAPIServer

AT = datetime(2026, 11, 26, 1, 0, 0, tzinfo=UTC)


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[tuple[KubeAPIServer, Any]]:
    with KubeAPIServer() as server:
        server.put_object(f.namespace("velero"))
        api = config.new_client_from_config(str(server.write_kubeconfig(tmp_path / "kc")))
        yield server, api
        api.close()


def posts(server: KubeAPIServer) -> list[int]:
    return [r.status for r in server.requests if r.method == "POST" and r.path.endswith("/backups")]


def backups(server: KubeAPIServer) -> list[str]:
    return [b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero")]


def test_throttling_and_server_errors_are_retried(cluster: tuple[KubeAPIServer, Any]) -> None:
    server, api = cluster
    server.add_fault("POST", r"/backups$", status=429, retry_after=0, times=1)
    server.add_fault("POST", r"/backups$", status=503, retry_after=0, times=1)
    stored, created = executor.create(api, backup_from_schedule(f.schedule("nightly"), AT))
    assert created and stored["metadata"]["name"] == "nightly-20261126010000"
    assert posts(server) == [429, 503, 201]
    assert backups(server) == ["nightly-20261126010000"]


def test_an_answer_lost_after_the_create_is_adopted_on_retry(cluster: tuple[KubeAPIServer, Any]) -> None:
    server, api = cluster
    server.add_fault("POST", r"/backups$", reset=True, times=1)  # the server stores it, the answer never arrives
    stored, created = executor.create(api, backup_from_schedule(f.schedule("nightly"), AT))
    assert not created, "the retry found it: 409, adopted"
    assert stored["metadata"]["name"] == "nightly-20261126010000"
    assert backups(server) == ["nightly-20261126010000"], "never a second Backup"
    assert posts(server)[-1] == 409


def test_a_permanent_error_fails_at_once_with_the_reason(cluster: tuple[KubeAPIServer, Any]) -> None:
    server, api = cluster
    server.add_fault("POST", r"/backups$", status=403,
                     body='backups.velero.io is forbidden: User "system:serviceaccount:x:y" cannot create resource')
    with pytest.raises(executor.ExecutorError, match=r"create Backup velero/nightly-20261126010000: .*forbidden"):
        executor.create(api, backup_from_schedule(f.schedule("nightly"), AT))
    assert posts(server) == [403], "not retried"
    assert backups(server) == []


def test_retries_end(cluster: tuple[KubeAPIServer, Any]) -> None:
    server, api = cluster
    server.add_fault("POST", r"/backups$", status=500, retry_after=0)
    with pytest.raises(executor.ExecutorError, match="cannot create Backup velero/nightly-20261126010000: "):
        executor.create(api, backup_from_schedule(f.schedule("nightly"), AT))
    assert 2 <= len(posts(server)) <= 10 and backups(server) == []
