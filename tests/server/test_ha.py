"""The HA acceptance test: two real ``auditor serve`` replicas against one API server.

Each replica has its own history store, so nothing but the API server (the Lease and the deterministic
Backup names) keeps them from running a job twice. One replica leads; each fire time produces exactly one
Backup, run by exactly one replica while it led; a SIGTERM'd leader releases the Lease and the standby
takes over within a retry period; a SIGKILL'd one is replaced within the lease duration plus a retry period;
jobs go on with no duplicate and at most one coalesced catch-up run after each takeover.
"""

from __future__ import annotations

import itertools
import re
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from auditor.store import Store
from tests import factories as f
from tests.kubeapi.server import KubeAPIServer

from .stack import Process, http_get, wait_until

INTERVAL, DURATION, RETRY = 2.0, 3.0, 1.0
SLACK = 2.0  # scheduling noise on a loaded 2-core machine
RUN = re.compile(r"job tick: fire time (\S+): (submitted|failed|running|already done)")
LEASE = ("coordination.k8s.io", "v1", "leases", "backup-auditor", "executor")


def start(name: str, kubeconfig: Path, config: Path, tmp_path: Path) -> Process:
    proc = Process(name, [sys.executable, "-m", "auditor", "serve", "--kubeconfig", str(kubeconfig), "--config",
                          str(config), "--listen", "127.0.0.1:0", "--no-watch", "--interval", "1h",
                          "--store", f"sqlite:///{tmp_path / f'{name}.db'}", "--lease-identity", name])

    def listening() -> bool:
        if not proc.alive():
            raise AssertionError(f"replica {name} exited: {proc.output()}")
        return any("serving on http://" in line for line in proc.lines)

    wait_until(listening, 30, what=f"replica {name} to listen")
    return proc


def metric(proc: Process, series: str) -> str | None:
    """One sample of the replica's /metrics, by its exact series text."""
    url = next(m.group(1) for line in proc.lines if (m := re.search(r"serving on (http://\S+)", line)))
    _, body = http_get(url + "/metrics")
    return next((line.rsplit(" ", 1)[1] for line in body.decode().splitlines() if line.startswith(series + " ")), None)


def holder(server: KubeAPIServer) -> str | None:
    lease = server.get_object(*LEASE)
    return (str(lease["spec"].get("holderIdentity") or "") or None) if lease else None


def runs(proc: Process, outcome: str = "submitted") -> list[str]:
    return [m.group(1) for line in list(proc.lines) if (m := RUN.search(line)) and m.group(2) == outcome]


def backups(server: KubeAPIServer) -> dict[str, dict[str, Any]]:
    return {b["metadata"]["name"]: b for b in server.list_objects("velero.io", "v1", "backups", "velero")}


def ran_only_while_leading(proc: Process) -> bool:
    leading = False
    for line in list(proc.lines):
        if "became leader" in line:
            leading = True
        elif "stopped leading" in line:
            leading = False
        elif RUN.search(line) and not leading:
            return False
    return True


def takeover(server: KubeAPIServer, new: str, bound: float, stop: Any) -> float:
    started = time.monotonic()
    stop()
    wait_until(lambda: holder(server) == new, bound + 10, interval=0.02, what=f"{new} to take the Lease")
    return time.monotonic() - started


def test_two_replicas_run_each_fire_time_once_and_take_over(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"executor": {
        "lease": {"name": "executor", "namespace": "backup-auditor", "duration": f"{DURATION:g}s",
                  "renew_deadline": "2s", "retry_period": f"{RETRY:g}s"},
        "jobs": [{"name": "tick", "interval": f"{INTERVAL:g}s", "backup": {"schedule": "velero/nightly"},
                  "wait": False}]}}))
    procs: list[Process] = []
    with KubeAPIServer() as server:
        server.seed([f.namespace("velero"), f.namespace("backup-auditor"), f.bsl("default"),
                     f.schedule("nightly", includedNamespaces=["shop"])])
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        try:
            procs += [start("a", kubeconfig, config, tmp_path), start("b", kubeconfig, config, tmp_path)]
            by_name = {p.name: p for p in procs}
            first = wait_until(lambda: holder(server), 15, what="a leader")
            leader, standby = by_name[first], by_name["b" if first == "a" else "a"]
            wait_until(lambda: len(runs(leader)) >= 3, 20, what="three runs by the leader")
            assert runs(standby, "running") == [], "a standby runs nothing"
            assert (metric(leader, "backup_auditor_leader"), metric(standby, "backup_auditor_leader")) == ("1.0", "0.0")
            last_run = 'backup_auditor_executor_job_last_run_timestamp_seconds{job="tick",outcome="submitted"}'
            assert metric(leader, last_run) and metric(standby, last_run) is None

            # SIGTERM: the leader finishes its run, releases the Lease, the standby takes it at its next retry
            graceful = takeover(server, standby.name, RETRY, lambda: leader.proc.send_signal(signal.SIGTERM))
            assert leader.proc.wait(20) == 0, leader.output()
            assert graceful <= RETRY + SLACK, f"takeover after SIGTERM took {graceful:.1f}s"
            assert any("released Lease backup-auditor/executor" in line for line in leader.lines)
            wait_until(lambda: len(runs(standby)) >= 2, 20, what="runs by the new leader")

            # SIGKILL: nothing is released; a fresh standby takes over once the Lease expires
            third = start("c", kubeconfig, config, tmp_path)
            procs.append(third)
            done = len(runs(standby))
            wait_until(lambda: len(runs(standby)) > done, 10, what="a run to end (kill between two runs)")
            hard = takeover(server, "c", DURATION + RETRY, lambda: standby.proc.send_signal(signal.SIGKILL))
            assert hard <= DURATION + RETRY + SLACK, f"takeover after SIGKILL took {hard:.1f}s"
            wait_until(lambda: len(runs(third)) >= 2, 20, what="runs by the third leader")
        finally:
            for proc in procs:
                proc.stop()
        made = backups(server)
        lease = server.get_object(*LEASE)

    # every fire time ran exactly once, in one replica, while it led; each made exactly one Backup
    ran = [t for p in procs for t in runs(p)]
    assert len(ran) == len(set(ran)), f"a fire time ran twice: {sorted(ran)}"
    fires = sorted(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in ran)
    assert sorted(made) == sorted(f"nightly-{t:%Y%m%d%H%M%S}" for t in fires)
    assert all(b["metadata"]["labels"]["velero.io/schedule-name"] == "nightly" for b in made.values())
    assert all(t.timestamp() % INTERVAL == 0 for t in fires), "fire times are on the shared grid"
    assert all(ran_only_while_leading(p) for p in procs), [p.output() for p in procs]
    # no gap beyond one coalesced catch-up run after a takeover
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fires)]
    assert max(gaps) <= 2 * INTERVAL + max(graceful, hard) + SLACK, gaps
    # each replica's own store saw only its own runs: together, every Backup exactly once
    recorded = []
    for p in procs:
        with Store(f"sqlite:///{tmp_path / f'{p.name}.db'}") as db:
            recorded += [r.object_name for r in db.runs(limit=1000)]
    assert sorted(recorded) == sorted(made)
    assert lease is not None and lease["spec"]["holderIdentity"] == "" and lease["spec"]["leaseTransitions"] >= 2
