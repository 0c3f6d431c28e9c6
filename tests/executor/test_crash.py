"""Crash test for CSI snapshots: the executor killed with SIGKILL while waiting, then run again, leaves one
VolumeSnapshot and one run recorded (the Backup and restore-drill crash tests live beside their commands)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from auditor import demo
from tests.executor.crash import kill_once_created_then_rerun
from tests.kubeapi.server import KubeAPIServer

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
        rerun = kill_once_created_then_rerun(args, lambda: ours(server), server)
        assert rerun.returncode == 0, rerun.stderr
        assert "resuming unfinished run" in rerun.stderr and "adopted existing VolumeSnapshot" in rerun.stderr
        [snapshot] = ours(server)
        assert snapshot["status"]["readyToUse"] is True
    runs = json.loads(subprocess.run([sys.executable, "-m", "auditor", "runs", "--store", store, "-o", "json"],
                                     capture_output=True, text=True, timeout=60).stdout)
    assert [(r["kind"], r["object"], r["status"]) for r in runs] == \
        [("VolumeSnapshot", snapshot["metadata"]["name"], "succeeded")]
