"""Scheduled jobs whose Backups outlive the job's timeout: one Backup per fire time, never blocked.

A run that times out is recorded ``timed-out`` and is never adopted by a later fire time; each later fire
time creates its own Backup (Velero queues them, as its own schedules do) and settles the earlier runs
from their objects. A job that keeps timing out reports ``failed`` (BackupAuditorExecutorJobFailing).
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from auditor.config import ExecutorJob
from auditor.executor.run import ExecutorTimeoutError
from auditor.server.jobs import JobRunner
from auditor.store import Store
from tests import factories as f
from tests.kubeapi import velero_sim as sim
from tests.kubeapi.server import KubeAPIServer
from tests.store.postgres import PostgresServer

from .stack import Process, http_get, wait_until

AT = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
RUN = re.compile(r"job slow: fire time (\S+): (\S+)")


def seeded(server: KubeAPIServer) -> None:
    server.seed([f.namespace("velero"), f.namespace("backup-auditor"), f.bsl("default"),
                 f.schedule("nightly", includedNamespaces=["shop"])])


def names(server: KubeAPIServer) -> list[str]:
    return sorted(b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero"))


def phases(server: KubeAPIServer) -> dict[str, str]:
    return {b["metadata"]["name"]: str((b.get("status") or {}).get("phase") or "New")
            for b in server.list_objects("velero.io", "v1", "backups", "velero")}


def test_velero_down_every_fire_time_still_makes_its_backup_then_the_runs_settle(tmp_path: Path) -> None:
    """Velero does nothing (every Backup stays New): each fire time times out, creates its own Backup and adopts
    none; once Velero is back, the next fire time records how the earlier runs ended."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    job = ExecutorJob.model_validate({"name": "slow", "interval": "20s", "backup": {"schedule": "velero/nightly"},
                                      "timeout": "1s"})
    fires = [AT + timedelta(seconds=20 * i) for i in range(3)]
    lines: list[str] = []
    with KubeAPIServer() as server:
        seeded(server)
        runner = JobRunner(client.ApiClient(client.Configuration(host=server.url)), "c", store)
        runner._echo = lambda job: lines.append  # type: ignore[method-assign]
        for fire in fires:  # no controller: Velero is down
            with pytest.raises(ExecutorTimeoutError, match="is still New after 1 s"):
                runner.run(job, fire)
        assert names(server) == [f"nightly-{t:%Y%m%d%H%M%S}" for t in fires], "one Backup per fire time"
        assert not any("resuming" in line for line in lines)
        with Store(store) as db:
            assert sorted((r.object_name, r.status) for r in db.runs()) == [
                (f"nightly-{t:%Y%m%d%H%M%S}", "timed-out") for t in fires]
        with sim.VeleroSimulator(server, step=0.05) as controller:  # Velero is back: the queue drains
            wait_until(lambda: set(phases(server).values()) == {"Completed"}, 30, what="the queued Backups")
            assert runner.run(job, AT + timedelta(seconds=60)) == "succeeded"
        assert not controller.errors
        assert len(names(server)) == 4
    with Store(store) as db:
        runs = {r.object_name: r for r in db.runs()}
    assert all(r.status == "succeeded" and r.finished_at is not None for r in runs.values()), runs
    assert sum("ended: succeeded" in line for line in lines) == 3, "the three earlier runs settled"


def test_an_earlier_run_left_by_a_crash_is_followed_to_its_end(tmp_path: Path) -> None:
    """A takeover: the earlier fire time's run was recorded ``created`` by a replica that died, and its
    deadline has not passed. The next fire time makes its own Backup and follows the earlier one to its end."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    job = ExecutorJob.model_validate({"name": "slow", "interval": "20s", "backup": {"schedule": "velero/nightly"},
                                      "timeout": "60s", "wait": False})
    earlier = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    with KubeAPIServer() as server:
        seeded(server)
        api = client.ApiClient(client.Configuration(host=server.url))
        server.put_object(_backup(earlier))  # what the dead replica created
        with Store(store) as db:
            run, _ = db.begin_run(cluster="c", kind="Backup", namespace="velero", target="nightly",
                                  object_name=f"nightly-{earlier:%Y%m%d%H%M%S}", started_at=earlier)
            db.update_run(run.identity, "created")
        with sim.VeleroSimulator(server, step=0.05):
            assert JobRunner(api, "c", store).run(job, earlier + timedelta(seconds=20)) == "submitted"

            def ended() -> Any:
                with Store(store) as db:
                    return db.find_run(cluster="c", kind="Backup", namespace="velero", target="nightly",
                                       object_name=run.object_name).status == "succeeded"  # type: ignore[union-attr]

            wait_until(ended, 30, what="the earlier run to be followed to its end")
        assert len(names(server)) == 2


def _backup(at: datetime) -> dict[str, Any]:
    from auditor.executor.velero import backup_from_schedule

    obj = backup_from_schedule(f.schedule("nightly", includedNamespaces=["shop"]), at)
    obj["metadata"]["creationTimestamp"] = f"{at:%Y-%m-%dT%H:%M:%SZ}"
    return obj


# --- a real auditor serve, a real PostgreSQL ---------------------------------------------------------------

INTERVAL, TIMEOUT, TAKES = 6, 2, 9  # a Backup takes longer than the timeout, and longer than the interval


def slow(backup: dict[str, Any]) -> sim.Outcome | None:
    """Each Backup runs TAKES seconds from its creation, then completes."""
    created = datetime.fromisoformat(backup["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    return sim.stuck("InProgress") if datetime.now(UTC) - created < timedelta(seconds=TAKES) else None


def settled(store: str, fire: str) -> bool:
    """Whether the run of that fire time ended succeeded (its Backup completed after its timeout)."""
    name = f"nightly-{datetime.fromisoformat(fire.replace('Z', '+00:00')):%Y%m%d%H%M%S}"
    with Store(store) as db:
        run = next((r for r in db.runs(limit=100) if r.object_name == name), None)
    return run is not None and run.status == "succeeded" and run.finished_at is not None


@pytest.mark.slow
def test_serve_makes_one_backup_per_fire_time_when_runs_time_out(postgres: PostgresServer, tmp_path: Path) -> None:
    store = postgres.create_database()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"executor": {
        "lease": {"name": "executor", "namespace": "backup-auditor", "duration": "3s", "renew_deadline": "2s",
                  "retry_period": "1s"},
        "jobs": [{"name": "slow", "interval": f"{INTERVAL}s", "backup": {"schedule": "velero/nightly"},
                  "timeout": f"{TIMEOUT}s"}]}}))
    with KubeAPIServer() as server:
        seeded(server)
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        with sim.VeleroSimulator(server, step=0.1, backups=slow) as controller:
            proc = Process("serve", [sys.executable, "-m", "auditor", "serve", "--kubeconfig", str(kubeconfig),
                                     "--config", str(config), "--listen", "127.0.0.1:0", "--no-watch", "--interval",
                                     "1h", "--store", store, "--lease-identity", "a"])
            try:
                wait_until(lambda: sum(m.group(2) == "failed" for line in list(proc.lines)
                                       if (m := RUN.search(line))) >= 4, 90, what="four timed-out fire times")
                first = next(m.group(1) for line in proc.lines if (m := RUN.search(line)))
                wait_until(lambda: settled(store, first), 3 * INTERVAL, what="a later fire time settling the first")
                url = next(m.group(1) for line in proc.lines if (m := re.search(r"serving on (http://\S+)", line)))
                _, body = http_get(url + "/metrics")
            finally:
                proc.stop()
        made = phases(server)
    assert not controller.errors
    ran = [m.group(1) for line in proc.lines if (m := RUN.search(line)) and m.group(2) == "running"]
    assert len(ran) == len(set(ran)) >= 4
    fires = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in ran]
    assert sorted(made) == sorted(f"nightly-{t:%Y%m%d%H%M%S}" for t in fires), "one Backup per fire time"
    assert not any("resuming unfinished run" in line for line in proc.lines), proc.output()
    with Store(store) as db:
        runs = sorted(db.runs(limit=100), key=lambda r: r.object_name)  # names sort as their fire times
    assert [r.object_name for r in runs] == sorted(made), ("one record per Backup", runs, proc.output())
    assert {r.status for r in runs} <= {"succeeded", "timed-out"}, [(r.object_name, r.status) for r in runs]
    assert runs[0].status == "succeeded" and runs[0].finished_at is not None, "settled by a later fire time"
    # the newest outcome of the job is failed: BackupAuditorExecutorJobFailing's condition
    samples = dict(re.findall(r'^backup_auditor_executor_job_last_run_timestamp_seconds\{[^}]*outcome="(\w+)"'
                              r'[^}]*\} (\S+)$', body.decode(), re.M))
    assert "failed" in samples and float(samples["failed"]) >= max(float(v) for v in samples.values())
