"""Every preflight check against files shaped as Velero and kubectl write them: each code fails and passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.analyse.preflight import PreflightReport
from auditor.errors import InputError
from auditor.preflight import read_cluster, run_preflight
from tests import factories as f
from tests.preflight.fixtures import (
    BACKUP,
    SHOP_PV,
    Scenario,
    default_scenario,
    replace,
    served_documents,
    velero_with_plugins,
    volume_info,
)


def run(tmp_path: Path, s: Scenario, *, catalog: bool = True, ns_map: dict[str, str] | None = None,
        sc_map: dict[str, str] | None = None, backup: str = f"velero/{BACKUP}") -> PreflightReport:
    src, cat, dst = s.write(tmp_path)
    return run_preflight(backup, read_cluster(src, None, None), cat if catalog else None,
                         read_cluster(dst, None, None, discovery=True), f.AS_OF, ns_map or {}, sc_map or {})


def codes(report: PreflightReport, severity: str) -> set[str]:
    return {i.code for i in report.of(severity)}


def issue(report: PreflightReport, code: str) -> Any:
    return next(i for i in report.issues if i.code == code)


def test_a_matching_target_is_ready(tmp_path: Path) -> None:
    report = run(tmp_path, default_scenario())
    doc = report.document()
    assert doc["ready"] is True, doc
    assert doc["blockers"] == [] and doc["unknown"] == [] and doc["warnings"] == []
    assert doc["source_of_truth"] == "catalog" and doc["backup"] == f"velero/{BACKUP}" and doc["target"] == "dr"
    assert doc["volumes"] == [{"namespace": "shop", "pvc": "data", "method": "csi-snapshot",
                               "storage_class": "ceph-rbd", "target_namespace": "shop",
                               "target_storage_class": "ceph-rbd", "restorable": True, "reasons": []}]


# --- visibility and state -------------------------------------------------------------------------


def test_pf001_location_on_another_prefix_is_not_visible(tmp_path: Path) -> None:
    s = default_scenario()
    s.target = replace(s.target, "BackupStorageLocation", "default",
                       f.bsl(objectStorage={"bucket": "backups", "prefix": "dr-cluster"}))
    report = run(tmp_path, s)
    i = issue(report, "PF-001")
    assert i.severity == "blocker" and (i.kind, i.name) == ("BackupStorageLocation", "default")
    assert "aws:backups/cluster" in i.message and not report.ready


def test_pf002_matching_location_unavailable(tmp_path: Path) -> None:
    s = default_scenario()
    bsl = f.bsl(name="dr-view", accessMode="ReadOnly")
    bsl["status"] = {"phase": "Unavailable", "message": "AccessDenied"}
    s.target = replace(s.target, "BackupStorageLocation", "default", bsl)
    i = issue(run(tmp_path, s), "PF-002")
    assert i.severity == "blocker" and i.name == "dr-view" and "AccessDenied" in i.message


@pytest.mark.parametrize(("phase", "severity"), [("Failed", "blocker"), ("PartiallyFailed", "warning"),
                                                 ("InProgress", "blocker")])
def test_pf003_backup_phase(tmp_path: Path, phase: str, severity: str) -> None:
    s = default_scenario()
    s.backup = f.backup(BACKUP, schedule_name="shop-daily", hours_ago=10, phase=phase, includedNamespaces=["shop"],
                        status={"errors": 2} if phase == "PartiallyFailed" else None)
    i = issue(run(tmp_path, s), "PF-003")
    assert i.severity == severity and phase in i.message


def test_pf004_expired_backup(tmp_path: Path) -> None:
    s = default_scenario()
    s.backup["status"]["expiration"] = f.ts(1)
    i = issue(run(tmp_path, s), "PF-004")
    assert i.severity == "blocker" and "expired" in i.message


def test_pf004_backup_being_deleted(tmp_path: Path) -> None:
    s = default_scenario()
    s.backup["metadata"]["deletionTimestamp"] = f.ts(0.1)
    assert issue(run(tmp_path, s), "PF-004").message == "the backup is being deleted"


# --- volumes --------------------------------------------------------------------------------------


def test_pf010_missing_storage_class_names_it(tmp_path: Path) -> None:
    s = default_scenario()
    s.target = replace(s.target, "StorageClass", "ceph-rbd", f.storage_class("premium-rwo", "rbd.csi.ceph.com"))
    report = run(tmp_path, s)
    i = issue(report, "PF-010")
    assert (i.severity, i.kind, i.name) == ("blocker", "StorageClass", "ceph-rbd")
    assert report.volumes[0].restorable is False


def test_pf010_mapping_flag_and_velero_configmap_count(tmp_path: Path) -> None:
    s = default_scenario()
    s.target = replace(s.target, "StorageClass", "ceph-rbd", f.storage_class("premium-rwo", "rbd.csi.ceph.com"))
    by_flag = run(tmp_path / "flag", s, sc_map={"ceph-rbd": "premium-rwo"})
    assert by_flag.ready and by_flag.volumes[0].target_storage_class == "premium-rwo"
    cm = f.config_map("change-storage-class-config", {"ceph-rbd": "premium-rwo"})
    cm["metadata"]["labels"] = {"velero.io/plugin-config": "", "velero.io/change-storage-class": "RestoreItemAction"}
    s.target.append(cm)
    by_cm = run(tmp_path / "cm", s)
    assert by_cm.ready and by_cm.storage_class_mapping == {"ceph-rbd": "premium-rwo"}


def test_pf011_csi_snapshot_needs_a_snapshot_class_for_its_driver(tmp_path: Path) -> None:
    s = default_scenario()
    s.target = replace(s.target, "VolumeSnapshotClass", "ceph-snap", f.snapshot_class("ebs", "ebs.csi.aws.com"))
    i = issue(run(tmp_path, s), "PF-011")
    assert (i.severity, i.kind, i.name) == ("blocker", "VolumeSnapshotClass", "rbd.csi.ceph.com")


def test_pf011_storage_class_of_another_driver(tmp_path: Path) -> None:
    s = default_scenario()
    s.target = replace(s.target, "StorageClass", "ceph-rbd", f.storage_class("ceph-rbd", "ebs.csi.aws.com"))
    report = run(tmp_path, s)
    assert {(i.kind, i.name) for i in report.of("blocker") if i.code == "PF-011"} >= {
        ("StorageClass", "ceph-rbd"), ("CSIDriver", "rbd.csi.ceph.com")}


@pytest.mark.parametrize("method", ["PodVolumeBackup", "data-mover"])
def test_pf012_node_agent_needed(tmp_path: Path, method: str) -> None:
    s = default_scenario()
    s.volume_info = volume_info("CSISnapshot", data_moved=True) if method == "data-mover" else volume_info(method)
    s.target = [o for o in s.target if not (o["kind"] == "DaemonSet" or o["metadata"]["name"].startswith("node-agent"))]
    report = run(tmp_path, s)
    i = issue(report, "PF-012")
    assert (i.severity, i.kind) == ("blocker", "DaemonSet") and "no node-agent" in i.message
    assert report.volumes[0].restorable is False


def test_pf012_node_agent_missing_on_a_ready_node_warns(tmp_path: Path) -> None:
    s = default_scenario()
    s.volume_info = volume_info("PodVolumeBackup")
    report = run(tmp_path, s)
    i = issue(report, "PF-012")
    assert i.severity == "warning" and "node-c" in i.message and report.ready


def test_pf013_native_snapshot_needs_a_location_in_the_region(tmp_path: Path) -> None:
    vsl = {"apiVersion": "velero.io/v1", "kind": "VolumeSnapshotLocation",
           "metadata": {"name": "aws-default", "namespace": "velero"},
           "spec": {"provider": "aws", "config": {"region": "eu-west-1"}}, "status": {"phase": "Available"}}
    s = default_scenario()
    s.volume_info = volume_info("NativeSnapshot")
    s.source.append(vsl)
    missing = run(tmp_path / "missing", s)
    assert issue(missing, "PF-013").severity == "blocker"
    other = {**vsl, "spec": {"provider": "aws", "config": {"region": "us-east-1"}}}
    s.target.append(other)
    wrong_region = run(tmp_path / "region", s)
    assert "eu-west-1" in issue(wrong_region, "PF-013").message
    s.target[-1] = vsl
    assert "PF-013" not in codes(run(tmp_path / "ok", s), "blocker")


def test_pf014_access_mode_the_target_class_cannot_serve(tmp_path: Path) -> None:
    s = default_scenario()
    s.source = replace(s.source, "PersistentVolumeClaim", "data",
                       f.pvc("data", "shop", volume=SHOP_PV, access_modes=("ReadWriteMany",)))
    s.target.append(f.storage_class("gp3", "ebs.csi.aws.com"))
    s.target.append(f.snapshot_class("ebs-snap", "ebs.csi.aws.com"))
    s.volume_info = volume_info(driver="ebs.csi.aws.com")
    i = issue(run(tmp_path, s, sc_map={"ceph-rbd": "gp3"}), "PF-014")
    assert i.severity == "blocker" and "ReadWriteMany" in i.message and i.name == "gp3"


def test_pf015_failed_volume(tmp_path: Path) -> None:
    s = default_scenario()
    s.volume_info = volume_info(result="failed")
    report = run(tmp_path, s)
    assert issue(report, "PF-015").severity == "blocker" and report.volumes[0].restorable is False


# --- resources ------------------------------------------------------------------------------------


def test_pf020_missing_crd_is_a_blocker(tmp_path: Path) -> None:
    s = default_scenario()
    s.served = served_documents(widgets_versions=())
    i = issue(run(tmp_path, s), "PF-020")
    assert (i.severity, i.kind, i.name) == ("blocker", "CustomResourceDefinition", "Widget.example.com")


def test_pf021_kind_served_at_another_version_warns(tmp_path: Path) -> None:
    s = default_scenario()
    s.served = served_documents(widgets_versions=("v2",))
    report = run(tmp_path, s)
    i = issue(report, "PF-021")
    assert i.severity == "warning" and "EnableAPIGroupVersions" in i.message and "v2" in i.message
    assert report.ready


def test_pf020_unknown_without_recorded_discovery(tmp_path: Path) -> None:
    s = default_scenario()
    s.served = None
    report = run(tmp_path, s)
    assert codes(report, "unknown") == {"PF-020"} and not report.ready


# --- namespaces and scope -------------------------------------------------------------------------


def test_pf030_existing_namespace_with_objects(tmp_path: Path) -> None:
    s = default_scenario()
    s.target += [f.namespace("shop"), f.pod("old-web", "shop")]
    i = issue(run(tmp_path / "same", s), "PF-030")
    assert (i.severity, i.name) == ("warning", "shop") and "1 pod(s)" in i.message
    assert "PF-030" not in codes(run(tmp_path / "mapped", s, ns_map={"shop": "shop-dr"}), "warning")


def test_pf031_cluster_scoped_resources_and_clashes(tmp_path: Path) -> None:
    s = default_scenario()
    assert s.resource_list is not None
    s.resource_list["rbac.authorization.k8s.io/v1/ClusterRole"] = ["shop-reader"]
    s.target.append(f.cluster_role("shop-reader", []))
    i = issue(run(tmp_path, s), "PF-031")
    assert i.severity == "warning" and "already exist" in i.message and "shop-reader" in i.message


def test_pf032_pv_name_collision(tmp_path: Path) -> None:
    s = default_scenario()
    s.target.append(f.pv(SHOP_PV, "other", "claim"))
    i = issue(run(tmp_path, s), "PF-032")
    assert (i.severity, i.name) == ("blocker", SHOP_PV) and "other/claim" in i.message


# --- Velero itself --------------------------------------------------------------------------------


def test_pf040_velero_not_running(tmp_path: Path) -> None:
    s = default_scenario()
    s.target = replace(s.target, "Deployment", "velero", None)
    assert issue(run(tmp_path, s), "PF-040").severity == "blocker"


def test_pf041_older_velero_warns(tmp_path: Path) -> None:
    s = default_scenario()
    s.target = replace(s.target, "Deployment", "velero", velero_with_plugins("velero/velero:v1.16.2"))
    i = issue(run(tmp_path, s), "PF-041")
    assert i.severity == "warning" and "1.16.2" in i.message and "1.18.1" in i.message


def test_pf042_plugins_for_provider_and_item_operations(tmp_path: Path) -> None:
    s = default_scenario()
    s.item_operations = [{"spec": {"backupName": BACKUP, "backupUID": "u", "backupItemAction": "kubevirt.io/vm-backup",
                                   "resourceIdentifier": {"Group": "kubevirt.io", "Resource": "virtualmachines",
                                                          "Namespace": "shop", "Name": "vm"},
                                   "operationID": "op-1"}, "status": {"phase": "Completed"}}]
    s.target = replace(s.target, "Deployment", "velero", velero_with_plugins(plugins=()))
    messages = [i.message for i in run(tmp_path, s).of("blocker") if i.code == "PF-042"]
    assert any("velero-plugin-for-aws" in m for m in messages) and any("kubevirt" in m for m in messages)
    s.target = replace(s.target, "Deployment", "velero", velero_with_plugins(plugins=(
        "velero/velero-plugin-for-aws:v1.14.1", "quay.io/kubevirt/kubevirt-velero-plugin:v0.8.0")))
    assert "PF-042" not in codes(run(tmp_path / "ok", s), "blocker")


def test_pf042_csi_restore_needs_the_enable_csi_flag(tmp_path: Path) -> None:
    s = default_scenario()
    dep = velero_with_plugins()
    dep["spec"]["template"]["spec"]["containers"][0]["args"] = ["server", "--uploader-type=kopia"]
    s.target = replace(s.target, "Deployment", "velero", dep)
    i = issue(run(tmp_path, s), "PF-042")
    assert i.severity == "blocker" and "EnableCSI" in i.message


def test_pf050_restore_hooks_on_backed_up_pods(tmp_path: Path) -> None:
    s = default_scenario()
    s.source = replace(s.source, "Pod", "web-0", f.pod("web-0", "shop", {"data": "data"}, annotations={
        "post.hook.restore.velero.io/command": '["/bin/sh", "-c", "reindex"]'}))
    i = issue(run(tmp_path, s), "PF-050")
    assert i.severity == "warning" and "shop/web-0" in i.message


# --- partial reads and bad input ------------------------------------------------------------------


def test_a_target_gap_makes_checks_unknown_never_passed(tmp_path: Path) -> None:
    s = default_scenario()
    s.target_manifest_gaps = [{"resource": "storageclasses.storage.k8s.io", "reason": "forbidden",
                               "message": "storageclasses is forbidden"}]
    report = run(tmp_path, s)
    assert "PF-010" in codes(report, "unknown") and not report.ready
    assert report.volumes[0].restorable is None


def test_unknown_backup_lists_the_nearest_names(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        run(tmp_path, default_scenario(), catalog=False, backup="velero/shop-daily-2026112002000")
    assert BACKUP in str(err.value) and "no Backup velero/shop-daily-2026112002000" in str(err.value)


def test_catalog_without_the_backup_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        run(tmp_path, default_scenario(), backup="velero/shop-daily-20261119020000")
    assert str(tmp_path / "catalog" / "backups" / "shop-daily-20261119020000" / "velero-backup.json") in str(err.value)
    assert BACKUP in str(err.value)


def test_without_a_catalog_the_cluster_objects_are_the_source(tmp_path: Path) -> None:
    s = default_scenario()
    s.source.append(f.pod_volume_backup(f"{BACKUP}-abcde", BACKUP, "shop", "web-0", "data", "data"))
    report = run(tmp_path, s, catalog=False)
    doc = report.document()
    assert doc["source_of_truth"] == "cluster" and doc["source"] == "cluster:prod"
    assert [(v["pvc"], v["method"]) for v in doc["volumes"]] == [("data", "fs-backup")]
    assert codes(report, "unknown") == {"PF-020"} and doc["notes"]


def test_a_group_whose_discovery_failed_is_unknown_not_missing(tmp_path: Path) -> None:
    from dataclasses import replace as with_field

    from auditor.collect.served import from_documents
    from auditor.model.served import ServedResources

    src, cat, dst = default_scenario().write(tmp_path)
    target = read_cluster(dst, None, None, discovery=True)
    served = from_documents(served_documents(widgets_versions=()), "test")
    target = with_field(target, served=ServedResources(served.kinds, served.preferred, ("example.com/v1",)))
    report = run_preflight(f"velero/{BACKUP}", read_cluster(src, None, None), cat, target, f.AS_OF, {}, {})
    i = issue(report, "PF-020")
    assert i.severity == "unknown" and "example.com" in i.message and not report.ready


def test_malformed_catalog_files_are_bad_input_naming_the_file(tmp_path: Path) -> None:
    s = default_scenario()
    s.resource_list = None
    src, cat, dst = s.write(tmp_path)
    bad = cat / "backups" / BACKUP / f"{BACKUP}-resource-list.json.gz"
    import gzip

    bad.write_bytes(gzip.compress(b'["not", "a", "map"]'))
    with pytest.raises(InputError) as err:
        run_preflight(f"velero/{BACKUP}", read_cluster(src, None, None), cat, read_cluster(dst, None, None), f.AS_OF,
                      {}, {})
    assert str(bad) in str(err.value)
    bad.write_bytes(b"not gzip")
    report = run_preflight(f"velero/{BACKUP}", read_cluster(src, None, None), cat,
                           read_cluster(dst, None, None, discovery=True), f.AS_OF, {}, {})
    assert "PF-020" in codes(report, "unknown") and any(str(bad) in n for n in report.notes)
