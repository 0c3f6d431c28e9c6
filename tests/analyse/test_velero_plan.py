"""Table-driven tests of Velero's scope and data-path rules (shared/reference/velero.md §2)."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.analyse.velero_plan import SpecContext, VeleroPlanner, resolve_snapshot_class
from auditor.analyse.velero_server import velero_servers
from tests import factories as f

NS = "shop"


def plan(objects: list[Any], template: dict[str, Any], claim: str = "data", ns: str = NS,
         base: list[Any] | None = None):
    inv = f.inventory(*(f.base_cluster() if base is None else base), *objects, f.schedule("s", **template))
    servers = velero_servers(inv)
    sched = inv.schedules[0]
    ctx = SpecContext(sched.template, "velero", servers.get("velero"), "schedule velero/s")
    return VeleroPlanner(inv).capture(ctx, inv.pvc_by_key[(ns, claim)])


def csi_volume(claim: str = "data", ns: str = NS, **pvc_kw: Any) -> list[Any]:
    return [f.namespace(ns), f.pvc(claim, ns, volume=f"pv-{ns}-{claim}", **pvc_kw), f.pv(f"pv-{ns}-{claim}", ns, claim)]


SCOPE_CASES = [
    # (id, extra objects, template, in_scope, reason fragment)
    ("all namespaces by default", [], {}, True, None),
    ("glob star includes", [], {"includedNamespaces": ["sh*"]}, True, None),
    ("glob question mark", [], {"includedNamespaces": ["sho?"]}, True, None),
    ("glob class", [], {"includedNamespaces": ["[rs]hop"]}, True, None),
    ("glob alternatives", [], {"includedNamespaces": ["{web,shop}"]}, True, None),
    ("not included", [], {"includedNamespaces": ["web"]}, False, "does not include namespace shop"),
    ("excluded by glob wins over include", [], {"includedNamespaces": ["*"], "excludedNamespaces": ["s*"]}, False,
     "does not include namespace shop"),
    ("excluded resource pvc", [], {"excludedResources": ["persistentvolumeclaims"]}, False,
     "excludes persistentvolumeclaims"),
    ("included resources without pvc", [], {"includedResources": ["deployments"]}, False,
     "excludes persistentvolumeclaims"),
    ("short name pvc excluded", [], {"excludedResources": ["pvc"]}, False, "excludes persistentvolumeclaims"),
    ("new scoped filter excludes pvc", [], {"excludedNamespaceScopedResources": ["persistentvolumeclaims"]}, False,
     "excludes persistentvolumeclaims"),
    ("selector matches pvc labels", [], {"labelSelector": {"matchLabels": {"app": "db"}}}, True, None),
    ("selector does not match", [], {"labelSelector": {"matchLabels": {"app": "web"}}}, False,
     "label selector"),
    ("or selectors, second matches", [], {"orLabelSelectors": [{"matchLabels": {"app": "web"}},
                                                               {"matchLabels": {"app": "db"}}]}, True, None),
    ("set-based selector", [], {"labelSelector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["db", "cache"]}]}}, True, None),
    ("NotIn selector excludes", [], {"labelSelector": {"matchExpressions": [
        {"key": "app", "operator": "NotIn", "values": ["db"]}]}}, False, "label selector"),
]


@pytest.mark.parametrize(("extra", "template", "in_scope", "reason"), [c[1:] for c in SCOPE_CASES],
                         ids=[c[0] for c in SCOPE_CASES])
def test_scope(extra: list[Any], template: dict[str, Any], in_scope: bool, reason: str | None) -> None:
    capture = plan([*csi_volume(labels={"app": "db"}), *extra], template)
    assert capture.in_scope is in_scope, capture.reasons
    if reason:
        assert any(reason in r for r in capture.reasons), capture.reasons
    else:
        assert capture.methods == ("csi-snapshot",)


def test_namespace_exclude_label_wins_over_wildcard() -> None:
    objs = [f.namespace(NS, labels={"velero.io/exclude-from-backup": "true"}),
            f.pvc("data", NS, volume="pv1"), f.pv("pv1", NS, "data")]
    capture = plan(objs, {"includedNamespaces": ["*"]})
    assert not capture.in_scope
    assert "namespace shop carries velero.io/exclude-from-backup=true" in capture.reasons


def test_pvc_exclude_label_needs_exact_true() -> None:
    assert not plan(csi_volume(labels={"velero.io/exclude-from-backup": "true"}), {}).in_scope
    assert plan(csi_volume(labels={"velero.io/exclude-from-backup": "yes"}), {}).captured


def test_pvc_without_selector_label_is_pulled_in_by_selected_pod() -> None:
    objs = [*csi_volume(), f.pod("db-0", NS, {"data": "data"}, labels={"app": "db"})]
    capture = plan(objs, {"labelSelector": {"matchLabels": {"app": "db"}}})
    assert capture.in_scope and capture.methods == ("csi-snapshot",)


def test_pod_with_exclude_label_does_not_pull_in_its_pvc() -> None:
    objs = [*csi_volume(), f.pod("db-0", NS, {"data": "data"},
                                 labels={"app": "db", "velero.io/exclude-from-backup": "true"})]
    assert not plan(objs, {"labelSelector": {"matchLabels": {"app": "db"}}}).in_scope


def test_unbound_pvc_is_in_scope_without_data() -> None:
    capture = plan([f.namespace(NS), f.pvc("data", NS, phase="Pending")], {})
    assert capture.in_scope and not capture.captured
    assert "not bound" in capture.reasons[0]


FSB_CASES = [
    # (id, pod kwargs, template, pv kwargs, expected methods, reason fragment)
    ("opt-in annotation", {"annotations": {"backup.velero.io/backup-volumes": "data"}}, {}, {}, ("fs-backup",), None),
    ("opt-in other volume only: snapshot", {"annotations": {"backup.velero.io/backup-volumes": "logs"}}, {}, {},
     ("csi-snapshot",), None),
    ("opt-out mode", {}, {"defaultVolumesToFsBackup": True}, {}, ("fs-backup",), None),
    ("deprecated restic field means opt-out", {}, {"defaultVolumesToRestic": True}, {}, ("fs-backup",), None),
    ("opt-out with excludes annotation falls to snapshot",
     {"annotations": {"backup.velero.io/backup-volumes-excludes": "data"}}, {"defaultVolumesToFsBackup": True}, {},
     ("csi-snapshot",), None),
    ("opt-out, pod Pending: neither (the trap)", {"phase": "Pending"}, {"defaultVolumesToFsBackup": True}, {}, (),
     "is Pending: file-system backup skips it"),
    ("opt-in, pod Failed", {"phase": "Failed", "annotations": {"backup.velero.io/backup-volumes": "data"}}, {}, {},
     (), "is Failed"),
    ("hostPath PV skipped by FSB", {"annotations": {"backup.velero.io/backup-volumes": "data"}}, {},
     {"source": "hostPath", "storage_class_name": "local-path"}, (), "hostPath"),
    ("block volume skipped by FSB", {"annotations": {"backup.velero.io/backup-volumes": "data"}}, {},
     {"volume_mode": "Block"}, (), "block-mode"),
    ("unmounted volume skipped", {"mounted": False, "annotations": {"backup.velero.io/backup-volumes": "data"}}, {},
     {}, (), "mounts it"),
    ("node without node-agent", {"node_name": "node-c", "annotations": {"backup.velero.io/backup-volumes": "data"}},
     {}, {}, (), "node-agent is not running on node node-c"),
]


@pytest.mark.parametrize(("pod_kw", "template", "pv_kw", "methods", "reason"), [c[1:] for c in FSB_CASES],
                         ids=[c[0] for c in FSB_CASES])
def test_file_system_backup(pod_kw: dict[str, Any], template: dict[str, Any], pv_kw: dict[str, Any],
                            methods: tuple[str, ...], reason: str | None) -> None:
    objs = [f.namespace(NS), f.pvc("data", NS, volume="pv1"), f.pv("pv1", NS, "data", **pv_kw),
            f.pod("db-0", NS, {"data": "data"}, **pod_kw)]
    capture = plan(objs, template)
    assert capture.in_scope
    assert capture.methods == methods, capture.reasons
    if reason:
        assert any(reason in r for r in capture.reasons), capture.reasons


def test_fsb_needs_the_pod_itself_to_be_selected() -> None:
    objs = [*csi_volume(labels={"app": "db"}),
            f.pod("db-0", NS, {"data": "data"}, labels={"app": "other"},
                  annotations={"backup.velero.io/backup-volumes": "data"})]
    capture = plan(objs, {"labelSelector": {"matchLabels": {"app": "db"}}})
    # the annotation still blocks the snapshot, and the unselected pod gets no FSB
    assert capture.in_scope and not capture.captured
    assert any("not in schedule velero/s's scope" in r for r in capture.reasons)


def test_server_flag_default_volumes_to_fs_backup() -> None:
    base = [c for c in f.base_cluster() if c.get("kind") != "Deployment"]
    base.append(f.velero_deployment(["server", "--features=EnableCSI", "--default-volumes-to-fs-backup"]))
    objs = [*csi_volume(), f.pod("db-0", NS, {"data": "data"})]
    assert plan(objs, {}, base=base).methods == ("fs-backup",)
    assert plan(objs, {"defaultVolumesToFsBackup": False}, base=base).methods == ("csi-snapshot",)


POLICY = """version: v1
volumePolicies:
- conditions:
    pvcLabels: {app: skipme}
  action: {type: skip}
- conditions:
    storageClass: [ceph-rbd]
  action: {type: fs-backup}
- conditions:
    capacity: "0,100Gi"
  action: {type: snapshot}
"""


def test_volume_policy_first_match_wins() -> None:
    cm = f.config_map("policy", {"policy.yaml": POLICY})
    tmpl = {"resourcePolicy": {"kind": "configmap", "name": "policy"}, "snapshotVolumes": False}
    pod = f.pod("db-0", NS, {"data": "data"})
    skipped = plan([cm, *csi_volume(labels={"app": "skipme"}), pod], tmpl)
    assert skipped.in_scope and not skipped.captured
    assert any("volume policy #1" in r and "skips it" in r for r in skipped.reasons)
    assert plan([cm, *csi_volume(), pod], tmpl).methods == ("fs-backup",)
    # third policy: snapshot forces a snapshot even with snapshotVolumes false
    other = [cm, f.namespace(NS), f.pvc("data", NS, volume="pv1", storage_class_name="fast"),
             f.pv("pv1", NS, "data", storage_class_name="fast"), f.storage_class("fast")]
    assert plan(other, tmpl).methods == ("csi-snapshot",)


def test_missing_or_invalid_resource_policy() -> None:
    tmpl = {"resourcePolicy": {"kind": "configmap", "name": "nope"}}
    capture = plan(csi_volume(), tmpl)
    assert not capture.captured and "does not exist" in capture.reasons[0]
    bad_policy = "version: v1\nvolumePolicies:\n- conditions: {color: red}\n  action: {type: skip}\n"
    bad = f.config_map("bad", {"p.yaml": bad_policy})
    capture = plan([bad, *csi_volume()], {"resourcePolicy": {"kind": "configmap", "name": "bad"}})
    assert "ConfigMap velero/bad key p.yaml: volumePolicies[0].conditions.color: unknown condition 'color'" \
        in capture.reasons[0]
    assert "FailedValidation" in capture.reasons[0]


def test_snapshot_volumes_false_without_fsb_captures_nothing() -> None:
    capture = plan(csi_volume(), {"snapshotVolumes": False})
    assert capture.in_scope and not capture.captured
    assert "snapshotVolumes is false" in capture.reasons[0]


def test_csi_requires_enable_csi_flag() -> None:
    base = [c for c in f.base_cluster() if c.get("kind") != "Deployment"] + [f.velero_deployment(["server"])]
    capture = plan(csi_volume(), {}, base=base)
    assert not capture.captured and any("EnableCSI" in r for r in capture.reasons)


def test_snapshot_move_data_means_data_mover() -> None:
    assert plan(csi_volume(), {"snapshotMoveData": True}).methods == ("data-mover",)


def test_native_snapshot_needs_matching_location() -> None:
    vsl = {"apiVersion": "velero.io/v1", "kind": "VolumeSnapshotLocation",
           "metadata": {"name": "aws", "namespace": "velero"}, "spec": {"provider": "aws"}}
    objs = [f.namespace(NS), f.pvc("data", NS, volume="pv1", storage_class_name="gp2"),
            f.pv("pv1", NS, "data", source="awsElasticBlockStore", storage_class_name="gp2")]
    assert plan([*objs, vsl], {}).methods == ("native-snapshot",)
    no_vsl = plan(objs, {})
    assert not no_vsl.captured and "no VolumeSnapshotLocation" in no_vsl.reasons[0]
    assert not plan([*objs, vsl], {"includeClusterResources": False}).captured


CLASS_CASES = [
    # (id, classes, pvc annotation, backup annotations, expected class or None, problem fragment)
    ("only class", [dict(name="only")], None, {}, "only", None),
    ("default class", [dict(name="a"), dict(name="b", annotations={
        "snapshot.storage.kubernetes.io/is-default-class": "true"})], None, {}, "b", None),
    ("label beats default", [dict(name="a", labels={"velero.io/csi-volumesnapshot-class": "true"}),
                             dict(name="b", annotations={"snapshot.storage.kubernetes.io/is-default-class": "true"})],
     None, {}, "a", None),
    ("backup annotation beats label", [dict(name="a", labels={"velero.io/csi-volumesnapshot-class": "true"}),
                                       dict(name="c")], None,
     {"velero.io/csi-volumesnapshot-class_rbd.csi.ceph.com": "c"}, "c", None),
    ("pvc annotation beats all", [dict(name="a", labels={"velero.io/csi-volumesnapshot-class": "true"}),
                                  dict(name="c"), dict(name="d")], "d",
     {"velero.io/csi-volumesnapshot-class_rbd.csi.ceph.com": "c"}, "d", None),
    ("two unlabelled, no default", [dict(name="a"), dict(name="b")], None, {}, None, "labelled or default"),
    ("two labelled", [dict(name="a", labels={"velero.io/csi-volumesnapshot-class": "true"}),
                      dict(name="b", labels={"velero.io/csi-volumesnapshot-class": "true"})], None, {}, None,
     "several"),
    ("no class for driver", [dict(name="x", driver="other.csi")], None, {}, None, "no VolumeSnapshotClass exists"),
    ("annotation names a missing class", [dict(name="a")], "ghost", {}, None, "does not exist"),
]


@pytest.mark.parametrize(("classes", "pvc_ann", "backup_ann", "expected", "problem"), [c[1:] for c in CLASS_CASES],
                         ids=[c[0] for c in CLASS_CASES])
def test_csi_class_resolution_order(classes: list[dict[str, Any]], pvc_ann: str | None, backup_ann: dict[str, str],
                                    expected: str | None, problem: str | None) -> None:
    ann = {"velero.io/csi-volumesnapshot-class": pvc_ann} if pvc_ann else None
    inv = f.inventory(f.pvc("data", NS, volume="pv1", annotations=ann), *[f.snapshot_class(**c) for c in classes])
    cls, why = resolve_snapshot_class(inv, inv.pvcs[0], backup_ann, "rbd.csi.ceph.com")
    assert (cls.meta.name if cls else None) == expected
    if problem:
        assert why and problem in why
