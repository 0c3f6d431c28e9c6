"""An invalid resource policy through the whole pipeline: coverage, COV-006 and ``explain``."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from auditor.analyse.coverage import analyse_cluster
from auditor.checks import evaluate
from auditor.config import AuditConfig
from auditor.load.rules import load_catalog
from auditor.output.explain import explain
from tests import factories as f
from tests.analyse.test_velero_plan import csi_volume, plan

NS = "shop"
POLICY_REF = {"resourcePolicy": {"kind": "configmap", "name": "policy"}}
GOOD = "version: v1\nvolumePolicies:\n- conditions:\n    storageClass: [slow-nfs]\n  action:\n    type: skip\n"
MALFORMED = {
    "storageClass string": GOOD.replace("[slow-nfs]", "ceph-rbd"),
    "csi string": GOOD.replace("storageClass: [slow-nfs]", "csi: rbd.csi.ceph.com"),
    "nfs string": GOOD.replace("storageClass: [slow-nfs]", "nfs: x"),
    "pvcLabels list": GOOD.replace("storageClass: [slow-nfs]", "pvcLabels: [a]"),
    "action string": "version: v1\nvolumePolicies:\n- conditions: {}\n  action: skip\n",
    "conditions list": "version: v1\nvolumePolicies:\n- conditions: [storageClass]\n  action: {type: skip}\n",
    "capacity infinity": GOOD.replace("storageClass: [slow-nfs]", 'capacity: "0,Infinity"'),
    "unknown action key": GOOD.replace("type: skip", "type: snapshot\n    when: always"),
}


def cluster(policy: str, *, second_schedule: bool = False) -> Any:
    objects = [*f.base_cluster(), *csi_volume(), f.pod("db-0", NS, {"data": "data"}),
               f.config_map("policy", {"policy.yaml": policy}), f.schedule("daily", **POLICY_REF),
               f.backup("daily-1", schedule_name="daily", hours_ago=1,
                        status={"csiVolumeSnapshotsAttempted": 1, "csiVolumeSnapshotsCompleted": 1})]
    if second_schedule:
        objects.append(f.schedule("weekly", cron="0 3 * * 0"))
    return analyse_cluster(f.inventory(*objects), AuditConfig(), f.AS_OF)


@pytest.mark.parametrize("text", list(MALFORMED.values()), ids=list(MALFORMED))
def test_invalid_policy_covers_nothing_and_is_a_finding(text: str) -> None:
    analysis = cluster(text)
    volume = analysis.volumes[0]
    assert "velero/daily" not in volume.covered_by
    assert volume.status == "unprotected"  # the only schedule captures nothing, whatever its old backups say
    assert any("FailedValidation" in reason and "ConfigMap velero/policy key policy.yaml" in reason
               for reason in volume.reasons), volume.reasons
    findings = [x for x in evaluate(analysis, [r for r in load_catalog() if r.id == "COV-006"])
                if x.is_finding]
    assert [(x.kind, x.namespace, x.name) for x in findings] == [("Schedule", "velero", "daily")]
    evidence = findings[0].evidence
    assert evidence["configmap"] == "velero/policy" and evidence["key"] == "policy.yaml"
    assert evidence["field"].startswith("volumePolicies[0]")
    assert evidence["field"] in findings[0].message


def test_valid_policy_passes_and_covers() -> None:
    analysis = cluster(GOOD)
    assert analysis.volumes[0].covered_by == ("velero/daily",)
    results = evaluate(analysis, [r for r in load_catalog() if r.id == "COV-006"])
    assert [x.status for x in results] == ["pass"]


@pytest.mark.parametrize("kind", ["ConfigMap", "", "Secret"])
def test_a_reference_of_another_kind_is_ignored_as_velero_does(kind: str) -> None:
    """Velero reads the policy only for kind "configmap" exactly: any other reference is no policy at all."""
    objects = [*f.base_cluster(), *csi_volume(), f.pod("db-0", NS, {"data": "data"}),
               f.config_map("policy", {"policy.yaml": MALFORMED["storageClass string"]}),
               f.schedule("daily", resourcePolicy={"kind": kind, "name": "policy"}),
               f.backup("daily-1", schedule_name="daily", hours_ago=1,
                        status={"csiVolumeSnapshotsAttempted": 1, "csiVolumeSnapshotsCompleted": 1})]
    analysis = analyse_cluster(f.inventory(*objects), AuditConfig(), f.AS_OF)
    assert analysis.volumes[0].covered_by == ("velero/daily",)
    assert [x.status for x in evaluate(analysis, [r for r in load_catalog() if r.id == "COV-006"])] == ["pass"]


def test_other_schedule_still_covers() -> None:
    analysis = cluster(MALFORMED["storageClass string"], second_schedule=True)
    assert analysis.volumes[0].covered_by == ("velero/weekly",)


def test_explain_shows_the_invalid_policy() -> None:
    analysis = cluster(MALFORMED["storageClass string"])
    out = io.StringIO()
    explain(analysis, "shop/data", Console(file=out, width=400, color_system=None))
    text = out.getvalue()
    assert "velero/daily (0 2 * * *): its resource policy fails Velero's validation" in text
    assert "volumePolicies[0].conditions.storageClass" in text


def test_storage_class_string_is_not_a_substring_match() -> None:
    """Before: ``storageClass: ceph-rbd`` (a string) matched as a substring and skipped the volume; Velero
    rejects the policy instead, so the schedule captures nothing at all."""
    capture = plan([f.config_map("policy", {"p.yaml": MALFORMED["storageClass string"]}), *csi_volume()], POLICY_REF)
    assert not capture.captured and "storageClass" in capture.reasons[0]


# --- includeExcludePolicy -------------------------------------------------------------------------------

SCOPE_POLICY = "version: v1\nvolumePolicies: []\nincludeExcludePolicy:\n  excludedNamespaceScopedResources: " \
               "[persistentvolumeclaims]\n"


def test_include_exclude_policy_excludes_pvcs() -> None:
    cm = f.config_map("policy", {"p.yaml": SCOPE_POLICY})
    capture = plan([cm, *csi_volume()], POLICY_REF)
    assert not capture.in_scope and "excludes persistentvolumeclaims" in capture.reasons[0]


def test_spec_filters_win_over_include_exclude_policy() -> None:
    cm = f.config_map("policy", {"p.yaml": SCOPE_POLICY})
    template = {**POLICY_REF, "includedNamespaceScopedResources": ["persistentvolumeclaims", "pods"]}
    assert plan([cm, *csi_volume()], template).captured


def test_include_exclude_policy_with_old_filters_fails_validation() -> None:
    cm = f.config_map("policy", {"p.yaml": SCOPE_POLICY})
    capture = plan([cm, *csi_volume()], {**POLICY_REF, "includeClusterResources": True})
    assert not capture.captured
    assert "includeExcludePolicy cannot be used" in capture.reasons[0]


def test_custom_action_says_why_nothing_is_captured() -> None:
    custom = GOOD.replace("type: skip", "type: custom").replace("[slow-nfs]", "[]")
    capture = plan([f.config_map("policy", {"p.yaml": custom}), *csi_volume()], POLICY_REF)
    assert not capture.captured and "custom action" in capture.reasons[0]


# --- defaultVolumesToRestic (backup_controller.go prepareBackupRequest) -------------------------------------

@pytest.mark.parametrize(("template", "methods"), [
    ({"defaultVolumesToRestic": True, "defaultVolumesToFsBackup": False}, ("fs-backup",)),
    ({"defaultVolumesToRestic": True}, ("fs-backup",)),
    ({"defaultVolumesToRestic": False, "defaultVolumesToFsBackup": True}, ("fs-backup",)),
    ({"defaultVolumesToRestic": False}, ("csi-snapshot",)),
    ({"defaultVolumesToFsBackup": False}, ("csi-snapshot",)),
])
def test_deprecated_restic_flag_overrides(template: dict[str, Any], methods: tuple[str, ...]) -> None:
    assert plan([*csi_volume(), f.pod("db-0", NS, {"data": "data"})], template).methods == methods
