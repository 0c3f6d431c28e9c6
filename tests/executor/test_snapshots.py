"""CSI VolumeSnapshots the executor takes: Velero's class choice, our label, created once, followed to ready."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from auditor import demo
from tests.kubeapi.server import KubeAPIServer


def auditor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=120)


def test_dry_run_picks_the_class_velero_would() -> None:
    run = auditor("backup", "snapshot", "shop/data-postgres-0", "--demo", "--dry-run", "-o", "json")
    assert run.returncode == 0, run.stderr
    obj = json.loads(run.stdout)
    assert obj["spec"] == {"volumeSnapshotClassName": "ceph-rbd-snap",  # the labelled class beats the default
                           "source": {"persistentVolumeClaimName": "data-postgres-0"}}
    assert obj["metadata"]["labels"]["backup-auditor.io/created-by"] == "backup-auditor"
    pending = auditor("backup", "snapshot", "shop/uploads-pending", "--demo", "--dry-run")
    assert pending.returncode == 2 and "nothing to snapshot" in pending.stderr


def test_live_snapshot_waits_until_ready(tmp_path: Path) -> None:
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        stop = threading.Event()

        def snapshot_controller() -> None:
            while not stop.is_set():
                for vs in server.list_objects("snapshot.storage.k8s.io", "v1", "volumesnapshots", "shop"):
                    if "auditor" in vs["metadata"]["name"] and not (vs.get("status") or {}).get("readyToUse"):
                        time.sleep(0.5)
                        server.put_object({**vs, "status": {"readyToUse": True, "restoreSize": "20Gi"}})
                time.sleep(0.1)

        thread = threading.Thread(target=snapshot_controller, daemon=True)
        thread.start()
        try:
            run = auditor("backup", "snapshot", "shop/data-postgres-0", "--kubeconfig", str(kubeconfig), "--wait",
                          "--timeout", "30s", "-o", "json")
        finally:
            stop.set()
            thread.join(timeout=5)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["status"]["readyToUse"] is True
        ours = [vs for vs in server.list_objects("snapshot.storage.k8s.io", "v1", "volumesnapshots", "shop")
                if vs["metadata"].get("labels", {}).get("backup-auditor.io/created-by") == "backup-auditor"]
        assert len(ours) == 1
