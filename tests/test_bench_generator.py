"""The benchmark's synthetic-cluster generator: counts, PVC/PV binding, and a clean ``auditor scan``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from auditor.collect.dump import read_dump
from tests.bench_generator import generator

ROOT = Path(__file__).resolve().parents[1]
COUNTS = {"namespaces": 5, "pvcs": 20, "pods": 30, "schedules": 2, "backups": 10, "pvbs": 20, "nodes": 4}
AS_OF = "2026-11-20T12:00:00Z"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cluster")
    generator().generate(out, dict(COUNTS), seed=1, as_of=AS_OF)
    return out


def test_files_are_kubectl_lists(cluster: Path) -> None:
    assert (cluster / "as_of.txt").read_text().strip() == AS_OF
    for path in cluster.glob("*.json"):
        doc = json.loads(path.read_text())
        assert doc["apiVersion"] == "v1" and doc["kind"] == "List" and doc["metadata"] == {"resourceVersion": ""}
        assert all(item["apiVersion"] and item["kind"] and item["metadata"]["name"] for item in doc["items"])


def test_counts_and_bindings(cluster: Path) -> None:
    inv = read_dump(cluster)
    assert inv.unknown_kinds == {}
    assert len(inv.pvcs) == COUNTS["pvcs"]
    assert len([p for p in inv.pods if p.meta.namespace != "velero"]) == COUNTS["pods"]
    assert len(inv.schedules) == COUNTS["schedules"]
    assert len(inv.backups) == COUNTS["backups"]
    assert len(inv.pod_volume_backups) == COUNTS["pvbs"]
    assert len(inv.nodes) == COUNTS["nodes"]
    app_namespaces = {n.meta.name for n in inv.namespaces} - {"default", "kube-system", "kube-public",
                                                               "kube-node-lease", "velero"}
    assert len(app_namespaces) == COUNTS["namespaces"]

    # every bound PVC names a PV whose claimRef points back, and every PV is claimed by its PVC
    bound = [c for c in inv.pvcs if c.phase == "Bound"]
    assert bound and all(c.volume_name for c in bound)
    assert len(inv.pvs) == len(bound)
    for c in bound:
        pv = inv.pv_by_name[c.volume_name or ""]
        assert (pv.claim_namespace, pv.claim_name) == (c.meta.namespace, c.meta.name)
        assert pv.storage_class == c.storage_class and pv.phase == "Bound"
    for pv in inv.pvs:
        claim = inv.pvc_by_key[(pv.claim_namespace or "", pv.claim_name or "")]
        assert claim.volume_name == pv.meta.name

    # pods mount existing PVCs; backups belong to schedules; PVBs to backups and mounted claims
    for pod in inv.pods:
        for v in pod.volumes:
            if v.claim_name:
                assert (pod.meta.namespace, v.claim_name) in inv.pvc_by_key
    schedules = {s.meta.name for s in inv.schedules}
    assert all(b.schedule in schedules and b.meta.name.startswith(f"{b.schedule}-") for b in inv.backups)
    backups = {b.meta.name for b in inv.backups}
    for pvb in inv.pod_volume_backups:
        assert pvb.backup in backups
        assert (pvb.pod_namespace, pvb.pvc_name) in inv.pvc_by_key
    # the Velero install the analysis looks for
    assert Counter(w.kind for w in inv.workloads) == {"Deployment": 1, "DaemonSet": 1}
    assert [b.phase for b in inv.bsls] == ["Available"]
    assert len([p for p in inv.pods if p.meta.labels.get("name") == "node-agent"]) == COUNTS["nodes"]


def test_kubectl_layout_is_the_same_data(cluster: Path, tmp_path: Path) -> None:
    generator().generate(tmp_path, dict(COUNTS), seed=1, as_of=AS_OF, kubectl=True)
    for path in cluster.glob("*.json"):
        indented = (tmp_path / path.name).read_text()
        assert json.loads(indented) == json.loads(path.read_text())
        assert indented == json.dumps(json.loads(indented), indent=4, sort_keys=True) + "\n"


def test_scan_of_the_snapshot(cluster: Path) -> None:
    auditor = Path(sys.executable).parent / "auditor"
    cmd = [str(auditor)] if auditor.exists() else [sys.executable, "-m", "auditor"]
    done = subprocess.run([*cmd, "scan", "--snapshot", str(cluster), "--as-of", AS_OF, "-o", "json"],
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    doc = json.loads(done.stdout)
    volumes = doc["volumes"]
    assert len(volumes) == COUNTS["pvcs"]
    assert len({(v["namespace"], v["pvc"]) for v in volumes}) == COUNTS["pvcs"]
    assert doc["summary"]["volumes_by_status"]["protected"] > 0
