"""protect-unprotected: a snapshot for each unprotected PVC the scan finds, nothing for anything else, once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.executor.protect import plan_protection
from auditor.pipeline import ScanOptions, run_scan
from tests import factories as f
from tests.kubeapi.server import KubeAPIServer

LABEL = "backup-auditor.io/created-by"


def cluster_objects() -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = [*f.base_cluster(), f.namespace("shop"), f.namespace("wiki"),
                                  f.namespace("kube-system")]
    for ns, name in (("shop", "orders"), ("shop", "uploads"), ("wiki", "pages"), ("kube-system", "etcd-backup")):
        objs += [f.pv(f"pv-{name}", ns, name), f.pvc(name, ns, volume=f"pv-{name}"),
                 f.pod(f"{name}-0", ns, {"data": name})]
    objs.append(f.pvc("pending", "shop", phase="Pending"))
    objs.append(f.pod("pending-0", "shop", {"data": "pending"}, phase="Pending"))
    objs.append(f.schedule("wiki-daily", includedNamespaces=["wiki"]))  # wiki/pages is in a schedule's scope
    return objs


@pytest.fixture()
def server() -> Iterator[KubeAPIServer]:
    with KubeAPIServer() as s:
        for obj in cluster_objects():
            s.put_object(obj)
        yield s


def auditor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", "backup", "protect-unprotected", *args],
                          capture_output=True, text=True, timeout=120)


def snapshots(server: KubeAPIServer) -> list[dict[str, Any]]:
    return [s for ns in ("shop", "wiki", "kube-system")
            for s in server.list_objects("snapshot.storage.k8s.io", "v1", "volumesnapshots", ns)]


def test_plan_picks_unprotected_audited_pvcs_only(server: KubeAPIServer, tmp_path: Path) -> None:
    kc = server.write_kubeconfig(tmp_path / "kc")
    result = run_scan(ScanOptions(kubeconfig=str(kc), secret_values=False))
    analysis = result.clusters[0].analysis
    assert analysis is not None
    statuses = {v.key: v.status for v in analysis.volumes}
    plan = plan_protection(analysis, datetime(2026, 11, 26, 1, 2, 3, tzinfo=UTC))
    keys = [c.key for c in plan]
    assert "kube-system/etcd-backup" not in keys, "an excluded namespace is never touched"
    assert all(statuses[k] == "unprotected" for k in keys)
    assert {"shop/orders", "shop/uploads", "shop/pending"} <= set(keys)
    assert statuses["wiki/pages"] != "unprotected" and "wiki/pages" not in keys
    by_key = {c.key: c for c in plan}
    assert by_key["shop/pending"].snapshot is None and "Pending" in (by_key["shop/pending"].skipped or "")
    orders = by_key["shop/orders"].snapshot
    assert orders is not None
    assert orders["metadata"]["name"] == "orders-auditor-20261126010203"
    assert orders["metadata"]["labels"] == {LABEL: "backup-auditor", "backup-auditor.io/pvc": "orders"}
    assert orders["spec"] == {"volumeSnapshotClassName": "ceph-snap", "source": {"persistentVolumeClaimName": "orders"}}
    only_wiki = plan_protection(analysis, datetime.now(UTC), namespaces=("wi*",))
    assert all(c.namespace == "wiki" for c in only_wiki)


def test_live_run_creates_once_and_the_next_scan_sees_them(server: KubeAPIServer, tmp_path: Path) -> None:
    kc = str(server.write_kubeconfig(tmp_path / "kc"))
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    too_many = auditor("--kubeconfig", kc, "--max", "1")
    assert too_many.returncode == 2 and "more than --max 1" in too_many.stderr
    assert snapshots(server) == [], "refused before creating anything"

    run = auditor("--kubeconfig", kc, "--store", store, "-o", "json")
    assert run.returncode == 1, run.stderr  # shop/pending cannot be snapshotted
    assert "skipped shop/pending (unprotected): PVC shop/pending is Pending" in run.stderr
    made = snapshots(server)
    assert sorted(s["spec"]["source"]["persistentVolumeClaimName"] for s in made) == ["orders", "uploads"]
    assert all(s["metadata"]["labels"][LABEL] == "backup-auditor" for s in made)
    assert [i["metadata"]["name"] for i in json.loads(run.stdout)["items"]] == \
        sorted(s["metadata"]["name"] for s in made)
    assert "not an off-site backup" in run.stderr

    for s in made:  # the CSI controller makes them ready
        server.put_object({**s, "status": {"readyToUse": True, "restoreSize": "10Gi",
                                           "creationTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}})
    again = auditor("--kubeconfig", kc, "--store", store, "--namespace", "shop", "-o", "json")
    assert json.loads(again.stdout)["items"] == [], again.stderr
    assert len(snapshots(server)) == 2, "a PVC with a fresh snapshot is not snapshotted twice"

    listed = subprocess.run([sys.executable, "-m", "auditor", "runs", "--store", store, "-o", "json"],
                            capture_output=True, text=True, timeout=60)
    runs = json.loads(listed.stdout)
    assert sorted(r["target"] for r in runs) == ["orders", "uploads"]
    assert {r["status"] for r in runs} == {"submitted"}


def test_dry_run_on_the_demo_and_on_a_dump(tmp_path: Path) -> None:
    demo = auditor("--demo", "--dry-run", "-o", "json")
    items = json.loads(demo.stdout)["items"]
    assert items and all(i["kind"] == "VolumeSnapshot" for i in items)
    assert "skipped analytics/spark-scratch" in demo.stderr
    refused = auditor("--demo")
    assert refused.returncode == 2 and "--dry-run" in refused.stderr
