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


def test_prune_deletes_only_our_old_snapshots(tmp_path: Path) -> None:
    def vs(name: str, created: str, labels: dict[str, str] | None) -> dict[str, object]:
        meta: dict[str, object] = {"name": name, "namespace": "shop", "creationTimestamp": created}
        if labels is not None:
            meta["labels"] = labels
        return {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "metadata": meta,
                "spec": {"source": {"persistentVolumeClaimName": "data-postgres-0"}},
                "status": {"readyToUse": True}}

    ours = {"backup-auditor.io/created-by": "backup-auditor", "backup-auditor.io/pvc": "data-postgres-0"}
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        server.seed([vs("ours-old", "2020-01-01T00:00:00Z", ours), vs("users-old", "2020-01-01T00:00:00Z", None),
                     vs("other-pvc-old", "2020-01-01T00:00:00Z", {**ours, "backup-auditor.io/pvc": "logs"})])
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        stop = threading.Event()

        def ready() -> None:
            while not stop.is_set():
                for s in server.list_objects("snapshot.storage.k8s.io", "v1", "volumesnapshots", "shop"):
                    if not (s.get("status") or {}).get("readyToUse"):
                        server.put_object({**s, "status": {"readyToUse": True}})
                time.sleep(0.1)

        thread = threading.Thread(target=ready, daemon=True)
        thread.start()
        try:
            run = auditor("backup", "snapshot", "shop/data-postgres-0", "--kubeconfig", str(kubeconfig),
                          "--prune", "7d", "--timeout", "30s", "--store", str(tmp_path / "store.db"))
        finally:
            stop.set()
            thread.join(timeout=5)
        assert run.returncode == 0, run.stderr
        names = {s["metadata"]["name"] for s in server.list_objects("snapshot.storage.k8s.io", "v1",
                                                                      "volumesnapshots", "shop")}
    assert "pruned VolumeSnapshot shop/ours-old" in run.stderr
    assert "ours-old" not in names and {"users-old", "other-pvc-old"} <= names
    assert any(n.startswith("data-postgres-0-auditor-") for n in names), "the new snapshot stays"
