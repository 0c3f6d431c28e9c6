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

from auditor.executor.protect import plan_protection, waivers_of
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
    etcd = next(c for c in plan if c.key == "kube-system/etcd-backup")
    assert etcd.snapshot is None, "an excluded namespace is never touched"
    assert etcd.out_of_scope == "namespace kube-system is excluded by the audit policy (exclude_namespaces)"
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
    # what Velero's exclusions, the policy's excluded namespaces and the waivers take out of scope is left
    # alone, each with its reason; a volume whose only schedule is paused still gets its stopgap
    left_out = {
        "shop/redis-cache": "the PVC carries velero.io/exclude-from-backup=true",
        "staging/staging-db": "namespace staging carries velero.io/exclude-from-backup=true",
        "wiki/wiki-attachments": "Velero's volume policy #1 of ConfigMap velero/daily-apps-policy skips it",
        "kube-system/etcd-backup": "namespace kube-system is excluded by the audit policy",
        "legacy/crm-files": "waived: exception legacy-crm-decommission excepts COV-001 (owner sales-ops@acme.example",
    }
    for key, why in left_out.items():
        assert f"left out {key} (unprotected): {why}" in demo.stderr, key
    claimed = {(i["metadata"]["namespace"], i["spec"]["source"]["persistentVolumeClaimName"]) for i in items}
    assert not claimed & {tuple(k.split("/")) for k in left_out}
    assert ("reports", "report-archive") in claimed
    refused = auditor("--demo")
    assert refused.returncode == 2 and "--dry-run" in refused.stderr


def test_waivers_and_schedule_exclusions_leave_volumes_out(tmp_path: Path) -> None:
    """A waiver on the PVC or on its namespace, and a namespace every schedule excludes, are out of scope;
    a catch-all schedule's exclusion does not count when another schedule (even paused) includes it."""
    from datetime import date

    from auditor.config import AuditConfig
    from auditor.config.waivers import ExceptionRule, Selector

    objs = [*f.base_cluster()]
    for ns, name in (("shop", "orders"), ("wiki", "pages"), ("tmp", "scratch"), ("crm", "files")):
        objs += [f.namespace(ns), f.pv(f"pv-{name}", ns, name), f.pvc(name, ns, volume=f"pv-{name}"),
                 f.pod(f"{name}-0", ns, {"data": name})]
    objs.append(f.schedule("catch-all", excludedNamespaces=["tmp", "crm", "wiki"]))
    objs.append(f.schedule("crm-nightly", includedNamespaces=["crm"], paused=True))
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    waivers = (ExceptionRule(id="orders-gone", rules=("COV-001", "COV-002", "FRS-001"),
                             selector=Selector(namespace="shop", name="orders"), reason="r", owner="shop-team",
                             expires=date(2027, 1, 31)),
               ExceptionRule(id="wiki-retired", rules=("*",), selector=Selector(namespace="wiki", kind="Namespace"),
                             reason="r", owner="docs", expires=date(2027, 1, 31)))
    result = run_scan(ScanOptions(snapshots=(dump,), as_of=f.AS_OF, config=AuditConfig(exceptions=waivers)))
    scan = result.clusters[0]
    assert scan.analysis is not None
    statuses = tuple({v.status for v in scan.analysis.volumes})
    plan = {c.key: c for c in plan_protection(scan.analysis, f.AS_OF, statuses=statuses,
                                              waived=waivers_of(scan.results))}
    assert plan["shop/orders"].snapshot is None and (plan["shop/orders"].out_of_scope or "").startswith(
        "waived: exception orders-gone excepts")
    assert plan["tmp/scratch"].snapshot is None
    assert plan["tmp/scratch"].out_of_scope == "schedule velero/catch-all excludes namespace tmp (excludedNamespaces)"
    assert plan["crm/files"].out_of_scope is None, "crm-nightly (paused) includes it: the stopgap is wanted"
    assert plan["wiki/pages"].snapshot is None
    assert (plan["wiki/pages"].out_of_scope or "").startswith("waived: exception wiki-retired excepts COV-003")
