"""Crash test for CSI snapshots: the executor killed with SIGKILL while waiting, then run again, leaves one
VolumeSnapshot and one run recorded (the Backup and restore-drill crash tests live beside their commands)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from auditor import demo
from tests.kubeapi.server import KubeAPIServer
from tests.kubeapi.velero_sim import VeleroSimulator

OURS = "backup-auditor.io/created-by"


def ours(server: KubeAPIServer) -> list[dict[str, Any]]:
    return [vs for vs in server.list_objects("snapshot.storage.k8s.io", "v1", "volumesnapshots", "shop")
            if (vs["metadata"].get("labels") or {}).get(OURS) == "backup-auditor"]


def test_sigkill_while_waiting_for_a_snapshot_then_rerun(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        args = [sys.executable, "-m", "auditor", "backup", "snapshot", "shop/data-postgres-0", "--kubeconfig",
                str(kubeconfig), "--wait", "--timeout", "60s", "--store", store, "-o", "json"]
        first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not ours(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ours(server), "the first run created its VolumeSnapshot"
        os.kill(first.pid, signal.SIGKILL)  # no snapshot controller yet: it was waiting for readyToUse
        first.wait(timeout=10)
        time.sleep(1.1)  # the rerun starts in a later second: a fresh name would be a second snapshot
        with VeleroSimulator(server, step=0.05) as controller:
            rerun = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert not controller.errors
        assert rerun.returncode == 0, rerun.stderr
        assert "resuming unfinished run" in rerun.stderr and "adopted existing VolumeSnapshot" in rerun.stderr
        [snapshot] = ours(server)
        assert snapshot["status"]["readyToUse"] is True
    runs = json.loads(subprocess.run([sys.executable, "-m", "auditor", "runs", "--store", store, "-o", "json"],
                                     capture_output=True, text=True, timeout=60).stdout)
    assert [(r["kind"], r["object"], r["status"]) for r in runs] == \
        [("VolumeSnapshot", snapshot["metadata"]["name"], "succeeded")]
