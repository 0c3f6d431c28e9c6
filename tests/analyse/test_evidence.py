"""Recovery-point evidence: bucket volume info, PodVolumeBackups, aggregate counts, and unknown."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from auditor.analyse.coverage import analyse_cluster
from auditor.collect.catalog import read_catalog
from auditor.config import AuditConfig
from tests import factories as f
from tests.checks.rule_fixtures import app, csi_backup

NS = "shop"


def write_catalog(root: Path, backup: dict[str, Any], volume_info: list[dict[str, Any]] | None = None,
                  raw_volume_info: bytes | None = None) -> Path:
    name = backup["metadata"]["name"]
    d = root / "backups" / name
    d.mkdir(parents=True)
    (d / "velero-backup.json").write_text(json.dumps(backup))
    if volume_info is not None:
        (d / f"{name}-volumeinfo.json.gz").write_bytes(gzip.compress(json.dumps(volume_info).encode(), mtime=0))
    if raw_volume_info is not None:
        (d / f"{name}-volumeinfo.json.gz").write_bytes(raw_volume_info)
    return root


def vi(pvc: str = "data", result: str = "succeeded", skipped: bool = False, method: str = "CSISnapshot",
       **extra: Any) -> dict[str, Any]:
    return {"pvcName": pvc, "pvcNamespace": NS, "pvName": f"pv-{NS}-{pvc}", "backupMethod": method,
            "snapshotDataMoved": False, "skipped": skipped, "skippedReason": "csiSnapshot: no class" if skipped else "",
            "startTimestamp": f.ts(1), "result": result if not skipped else "", **extra}


def volume(objects: list[Any], catalog: Path | None = None) -> Any:
    inv = f.inventory(*objects)
    analysis = analyse_cluster(inv, AuditConfig(), f.AS_OF, read_catalog(catalog) if catalog else None)
    return next(v for v in analysis.volumes if v.key == f"{NS}/data")


def test_volumeinfo_success_is_proof(tmp_path: Path) -> None:
    b = csi_backup("daily-1", "daily", status={"csiVolumeSnapshotsAttempted": 0, "csiVolumeSnapshotsCompleted": 0})
    cat = write_catalog(tmp_path, b, [vi()])
    v = volume([*f.base_cluster(), *app(), f.schedule("daily"), b], cat)
    assert v.status == "protected"
    assert v.newest.evidence == "volumeinfo" and v.newest.method == "csi-snapshot"


def test_completed_backup_that_skipped_the_volume_is_not_proof(tmp_path: Path) -> None:
    """The trap: Completed, but volume info says the volume was skipped."""
    b = csi_backup("daily-1", "daily")
    cat = write_catalog(tmp_path, b, [vi(skipped=True)])
    v = volume([*f.base_cluster(), *app(), f.schedule("daily"), b], cat)
    assert v.status == "stale"
    assert any("skipped" in r for r in v.reasons)


def test_volumeinfo_failure_and_older_success(tmp_path: Path) -> None:
    old = csi_backup("daily-0", "daily", hours_ago=30)
    new = csi_backup("daily-1", "daily", phase="PartiallyFailed")
    write_catalog(tmp_path, old, [vi(startTimestamp=f.ts(30))])
    write_catalog(tmp_path, new, [vi(result="failed")])
    v = volume([*f.base_cluster(), *app(), f.schedule("daily"), old, new], tmp_path)
    assert v.status == "stale"
    assert v.newest.source == "Backup velero/daily-0"
    assert v.attempts[0].outcome == "failed"


def test_aggregate_counts_infer_success_only_when_all_completed() -> None:
    ok = volume([*f.base_cluster(), *app(), f.schedule("daily"), csi_backup("daily-1", "daily")])
    assert ok.status == "protected" and ok.newest.evidence == "aggregate-counts"
    partial = csi_backup("daily-1", "daily", status={"csiVolumeSnapshotsAttempted": 2,
                                                     "csiVolumeSnapshotsCompleted": 1})
    v = volume([*f.base_cluster(), *app(), f.schedule("daily"), partial])
    assert v.status == "unknown"
    assert any("1 of 2 completed" in r for r in v.reasons)


def test_no_per_volume_evidence_is_unknown_never_protected() -> None:
    b = f.backup("daily-1", schedule_name="daily")  # Completed, but no counts and no catalog
    v = volume([*f.base_cluster(), *app(), f.schedule("daily"), b])
    assert v.status == "unknown"


def test_unreadable_catalog_file_is_unknown(tmp_path: Path) -> None:
    b = csi_backup("daily-1", "daily")
    cat = write_catalog(tmp_path, b, raw_volume_info=b"not gzip at all")
    v = volume([*f.base_cluster(), *app(), f.schedule("daily"), b], cat)
    assert v.status == "unknown"
    assert any("unreadable" in r for r in v.reasons)


def test_pod_volume_backup_in_cluster_proves_fsb() -> None:
    objs = [*f.base_cluster(), f.namespace(NS), f.pvc("data", NS, volume="pv1"), f.pv("pv1", NS, "data"),
            f.pod("db-0", NS, {"data": "data"}, annotations={"backup.velero.io/backup-volumes": "data"}),
            f.schedule("daily"), f.backup("daily-1", schedule_name="daily"),
            f.pod_volume_backup("daily-1-abcde", "daily-1", NS, "db-0", "data", "data")]
    v = volume(objs)
    assert v.status == "protected" and v.methods == ("fs-backup",)
    assert v.newest.evidence == "podvolumebackup"
    failed = [*objs[:-1], f.pod_volume_backup("daily-1-abcde", "daily-1", NS, "db-0", "data", "data",
                                               phase="Failed")]
    v = volume(failed)
    assert v.status == "stale" and v.attempts[0].outcome == "failed"


def test_failed_backup_is_not_a_recovery_point_even_with_pvb() -> None:
    objs = [*f.base_cluster(), f.namespace(NS), f.pvc("data", NS, volume="pv1"), f.pv("pv1", NS, "data"),
            f.pod("db-0", NS, {"data": "data"}, annotations={"backup.velero.io/backup-volumes": "data"}),
            f.schedule("daily"), f.backup("daily-1", schedule_name="daily", phase="Failed"),
            f.pod_volume_backup("daily-1-abcde", "daily-1", NS, "db-0", "data", "data")]
    assert volume(objs).status == "stale"


def test_user_volume_snapshot_counts_as_csi_recovery_point() -> None:
    vs = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
          "metadata": {"name": "manual", "namespace": NS, "creationTimestamp": f.ts(2)},
          "spec": {"source": {"persistentVolumeClaimName": "data"}, "volumeSnapshotClassName": "ceph-snap"},
          "status": {"readyToUse": True, "creationTime": f.ts(2), "boundVolumeSnapshotContentName": "snapcontent-1"}}
    v = volume([*f.base_cluster(), *app(), vs])
    assert v.status == "protected"
    assert v.newest.tool == "csi" and v.covered_by == ()
    velero_vs = json.loads(json.dumps(vs))
    velero_vs["metadata"]["labels"] = {"velero.io/backup-name": "daily-1"}
    assert volume([*f.base_cluster(), *app(), velero_vs]).status == "unprotected"


def test_paused_schedule_does_not_cover() -> None:
    v = volume([*f.base_cluster(), *app(), f.schedule("daily", paused=True),
                csi_backup("daily-1", "daily", hours_ago=48)])
    assert v.status == "unprotected"
    assert any("paused" in r for r in v.reasons)


def test_k8up_backup_protects_eligible_pvc() -> None:
    sched = {"apiVersion": "k8up.io/v1", "kind": "Schedule", "metadata": {"name": "s", "namespace": NS},
             "spec": {"backend": {"repoPasswordSecretRef": {"name": "repo", "key": "password"}},
                      "backup": {"schedule": "*/30 * * * *"}}}
    done = {"apiVersion": "k8up.io/v1", "kind": "Backup",
            "metadata": {"name": "s-1", "namespace": NS, "labels": {"k8up.io/schedule-name": "s"}},
            "spec": {}, "status": {"conditions": [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                                   "lastTransitionTime": f.ts(0.5)}]}}
    v = volume([*f.base_cluster(), *app(), sched, done])
    assert v.status == "protected" and v.newest.tool == "k8up" and v.covered_by == ("k8up:shop/s",)
    skipped = volume([*f.base_cluster(), *app(annotations={"k8up.io/backup": "false"}), sched, done])
    assert skipped.status == "unprotected"
