"""CSI VolumeSnapshots the executor takes: Velero's class choice, our label, created once, followed to ready."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from auditor import demo
from tests.kubeapi.server import KubeAPIServer
from tests.kubeapi.velero_sim import Outcome, VeleroSimulator


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
        with VeleroSimulator(server, step=0.1) as controller:
            run = auditor("backup", "snapshot", "shop/data-postgres-0", "--kubeconfig", str(kubeconfig), "--wait",
                          "--timeout", "30s", "-o", "json")
        assert not controller.errors
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
        with VeleroSimulator(server, step=0.1):
            run = auditor("backup", "snapshot", "shop/data-postgres-0", "--kubeconfig", str(kubeconfig),
                          "--prune", "7d", "--timeout", "30s", "--store", str(tmp_path / "store.db"))
        assert run.returncode == 0, run.stderr
        names = {s["metadata"]["name"] for s in server.list_objects("snapshot.storage.k8s.io", "v1",
                                                                      "volumesnapshots", "shop")}
    assert "pruned VolumeSnapshot shop/ours-old" in run.stderr
    assert "ours-old" not in names and {"users-old", "other-pvc-old"} <= names
    assert any(n.startswith("data-postgres-0-auditor-") for n in names), "the new snapshot stays"


def test_snapshot_error_fails_the_run(tmp_path: Path) -> None:
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        failing = {"data-postgres-0-auditor-*": Outcome(failure_reason="Failed to check and update snapshot content")}
        with VeleroSimulator(server, step=0.05, snapshots=failing) as controller:
            run = auditor("backup", "snapshot", "shop/data-postgres-0", "--kubeconfig", str(kubeconfig), "--wait",
                          "--timeout", "30s", "--store", str(tmp_path / "store.db"))
        assert not controller.errors
    assert run.returncode == 1
    assert "failed: Failed to check and update snapshot content" in run.stderr
    listed = auditor("runs", "--store", str(tmp_path / "store.db"), "-o", "json")
    [recorded] = json.loads(listed.stdout)
    assert recorded["status"] == "failed" and "Failed to check" in recorded["detail"]["error"]


def test_prune_per_the_policy_retention(tmp_path: Path) -> None:
    """shop is tier-1 in the demo's policy (retention 14d): our 20-day-old snapshot goes, the 10-day-old stays."""
    from datetime import UTC, datetime, timedelta

    def ours(name: str, days: int) -> dict[str, object]:
        created = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": name, "namespace": "shop", "creationTimestamp": created,
                             "labels": {"backup-auditor.io/created-by": "backup-auditor",
                                        "backup-auditor.io/pvc": "data-postgres-0"}},
                "spec": {"source": {"persistentVolumeClaimName": "data-postgres-0"}}, "status": {"readyToUse": True}}

    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        server.seed([ours("twenty-days", 20), ours("ten-days", 10)])
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        with VeleroSimulator(server, step=0.1):
            run = auditor("backup", "snapshot", "shop/data-postgres-0", "--kubeconfig", str(kubeconfig),
                          "--prune", "policy", "--config", str(demo.CONFIG_FILE), "--timeout", "30s")
        assert run.returncode == 0, run.stderr
        names = {s["metadata"]["name"] for s in server.list_objects("snapshot.storage.k8s.io", "v1",
                                                                      "volumesnapshots", "shop")}
    assert "older than 14d (the retention of its policy)" in run.stderr
    assert "twenty-days" not in names and "ten-days" in names
