"""A passing and a failing fixture per rule: real-shaped objects, judged at ``factories.AS_OF``.

Each entry is a list of cases ``(case_name, objects)``; the meta-test requires at least one of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from auditor.config.waivers import ExceptionRule, Selector
from auditor.model.inventory import Gap
from tests import factories as f

NS = "shop"


def app(ns: str = NS, claim: str = "data", **pvc_kw: Any) -> list[Any]:
    """A namespace with one Running pod mounting one CSI PVC."""
    pv = f"pv-{ns}-{claim}"
    return [f.namespace(ns), f.pvc(claim, ns, volume=pv, **pvc_kw), f.pv(pv, ns, claim),
            f.pod(f"{claim}-0", ns, {claim: claim})]


def csi_backup(name: str, schedule: str, hours_ago: float = 1.0, **kw: Any) -> dict[str, Any]:
    status = {"csiVolumeSnapshotsAttempted": 1, "csiVolumeSnapshotsCompleted": 1, **kw.pop("status", {})}
    return f.backup(name, schedule_name=schedule, hours_ago=hours_ago, status=status, **kw)


def scheduled(template: dict[str, Any] | None = None, backups: list[Any] | None = None,
              **schedule_kw: Any) -> list[Any]:
    return [*f.base_cluster(), *app(), f.schedule("daily", **(template or {}), **schedule_kw),
            *(backups if backups is not None else [csi_backup("daily-1", "daily")])]


VALID_POLICY = """version: v1
volumePolicies:
- conditions:
    storageClass: [slow-nfs]
  action: {type: skip}
"""
STRING_STORAGE_CLASS = VALID_POLICY.replace("[slow-nfs]", "slow-nfs")


def drill_restore(name: str, hours_ago: float, result: str) -> dict[str, Any]:
    """A Restore made by ``auditor restore-drill``, annotated with its verification verdict."""
    r = f.restore(name, "daily-1", hours_ago=hours_ago)
    r["metadata"]["annotations"] = {"backup-auditor.io/drill-result": result,
                                    "backup-auditor.io/drill-detail": "PVC drill-1a2b3c-shop/data is Pending"
                                    if result == "failed" else "1 PVCs bound, 1 pods ready"}
    return r


def etcd_snapshot_file(hours_ago: float, node: str = "k3s-server-1", error: str | None = None) -> dict[str, Any]:
    """A k3s/RKE2 ETCDSnapshotFile (cluster-scoped), as k3s writes it for a local scheduled snapshot."""
    stamp = int(f.AS_OF.timestamp() - hours_ago * 3600)
    name = f"etcd-snapshot-{node}-{stamp}"
    status: dict[str, Any] = {"creationTime": f.ts(hours_ago), "readyToUse": error is None, "size": "4820992"}
    if error:
        status["error"] = {"message": error, "time": f.ts(hours_ago)}
    return {"apiVersion": "k3s.cattle.io/v1", "kind": "ETCDSnapshotFile",
            "metadata": {"name": f"local-{name}", "creationTimestamp": f.ts(hours_ago),
                         "uid": f"uid-etcd-{stamp}"},
            "spec": {"snapshotName": name, "nodeName": node,
                     "location": f"file:///var/lib/rancher/k3s/server/db/snapshots/{name}"},
            "status": status}


def k3s_etcd_node() -> dict[str, Any]:
    node = f.node("k3s-server-1")
    node["metadata"]["labels"] = {"node-role.kubernetes.io/etcd": "true",
                                  "node-role.kubernetes.io/control-plane": "true"}
    return node


def etcd_pod(node: str = "cp-1") -> dict[str, Any]:
    """kubeadm's static etcd pod."""
    pod = f.pod(f"etcd-{node}", "kube-system", node_name=node, labels={"component": "etcd", "tier": "control-plane"})
    pod["spec"]["containers"] = [{"name": "etcd", "image": "registry.k8s.io/etcd:3.5.21-0",
                                  "command": ["etcd", "--data-dir=/var/lib/etcd"]}]
    return pod


@dataclass(frozen=True)
class OtherCluster:
    """Objects of a second cluster scanned in the same run (for fleet rules)."""

    name: str
    objects: list[Any]


@dataclass(frozen=True)
class Previous:
    """The cluster as the previous scan saw it, a day earlier (for rules that compare with history)."""

    objects: list[Any]


KUBE_SYSTEM_UID = f.namespace("kube-system")["metadata"]["uid"]


def agent(name: str, hours_ago: float, interval: float | None, uid: str = "") -> Any:
    """A cluster the history store knows (GOV-006, GOV-007): its newest scan ``hours_ago`` before the fixture."""
    from datetime import timedelta

    from auditor.analyse.fleet import AgentState

    seen = f.AS_OF - timedelta(hours=hours_ago)
    return AgentState(name, uid or f"uid-{name}", seen - timedelta(days=30), seen, interval)


def preflight_outcome(ready: bool | None, cluster: str = "test") -> Any:
    """What ``auditor serve`` evaluated for the pair velero/daily → dr-east (the PRE-001 input)."""
    from auditor.model.preflight import PreflightOutcome

    blockers = [{"code": "PF-010", "kind": "StorageClass", "namespace": None, "name": "ceph-rbd",
                 "message": "StorageClass ceph-rbd does not exist in the target"}] if ready is False else []
    return PreflightOutcome("velero/daily", "dr-east", f.AS_OF, ready, cluster, backup="daily-1",
                            blockers=len(blockers), error="the target is unreachable" if ready is None else None,
                            document={"blockers": blockers, "unknown": [], "warnings": []})


SECRET_READER = f.cluster_role("secret-reader", [{"apiGroups": [""], "resources": ["secrets"],
                                                   "verbs": ["get", "list"]}])
OWN_SA = [{"kind": "ServiceAccount", "name": "velero", "namespace": "velero"}]


def creds(repo_password: str = "a-long-random-passphrase", cloud: str = f.AWS_KEY, **kw: Any) -> list[Any]:
    return [f.secret("velero-repo-credentials", data={"repository-password": repo_password}, **kw),
            f.secret("cloud-credentials", data={"cloud": cloud}, **kw)]


def exception(expires: date) -> ExceptionRule:
    return ExceptionRule(id="legacy-waiver", rules=("COV-001",), selector=Selector(namespace="legacy"),
                         reason="decommissioned next quarter", owner="team-crm", expires=expires)


def k8up_backup(hours_ago: float) -> list[Any]:
    return [{"apiVersion": "k8up.io/v1", "kind": "Schedule", "metadata": {"name": "s", "namespace": NS},
             "spec": {"backup": {"schedule": "*/30 * * * *"}}},
            {"apiVersion": "k8up.io/v1", "kind": "Backup",
             "metadata": {"name": "s-1", "namespace": NS, "labels": {"k8up.io/schedule-name": "s"}}, "spec": {},
             "status": {"conditions": [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                        "lastTransitionTime": f.ts(hours_ago)}]}}]


FIXTURES: dict[str, dict[str, list[tuple[str, list[Any]]]]] = {
    "COV-001": {
        "pass": [("namespace included", scheduled({"includedNamespaces": [NS]}))],
        "fail": [("namespace not included", scheduled({"includedNamespaces": ["web"]}, backups=[])),
                 ("pvc exclude label", [*f.base_cluster(), *app(labels={"velero.io/exclude-from-backup": "true"}),
                                        f.schedule("daily")])],
    },
    "COV-002": {
        "pass": [("csi snapshot", scheduled())],
        "fail": [("snapshots off, no fsb", scheduled({"snapshotVolumes": False}, backups=[]))],
    },
    "COV-003": {
        "pass": [("all namespaces", scheduled())],
        "fail": [("only paused schedule includes it", scheduled(paused=True, backups=[]))],
    },
    "COV-004": {
        "pass": [("wildcard schedule", scheduled())],
        "fail": [("namespaced only", scheduled({"includedNamespaces": [NS, "velero"]}))],
    },
    "COV-005": {
        "pass": [("data mover", scheduled({"snapshotMoveData": True}, backups=[f.backup(
            "daily-1", schedule_name="daily", status={"backupItemOperationsAttempted": 1,
                                                      "backupItemOperationsCompleted": 1}, snapshotMoveData=True)]))],
        "fail": [("csi only", scheduled())],
    },
    "COV-006": {
        "pass": [("valid policy", [*scheduled({"resourcePolicy": {"kind": "configmap", "name": "policy"}}),
                                   f.config_map("policy", {"policy.yaml": VALID_POLICY})]),
                 ("no policy", scheduled())],
        "fail": [("storageClass is a string", [*scheduled({"resourcePolicy": {"kind": "configmap", "name": "policy"}}),
                                               f.config_map("policy", {"policy.yaml": STRING_STORAGE_CLASS})]),
                 ("ConfigMap missing", scheduled({"resourcePolicy": {"kind": "configmap", "name": "gone"}})),
                 ("action is a string", [*scheduled({"resourcePolicy": {"kind": "configmap", "name": "policy"}}),
                                         f.config_map("policy", {"policy.yaml": "version: v1\nvolumePolicies:\n"
                                                                                "- action: skip\n"})])],
    },
    "FRS-001": {
        "pass": [("fresh", scheduled())],
        "fail": [("30h old", scheduled(backups=[csi_backup("daily-1", "daily", hours_ago=30)])),
                 ("never backed up", scheduled(backups=[]))],
    },
    "FRS-002": {
        "pass": [("completed", scheduled())],
        "fail": [("failed", scheduled(backups=[csi_backup("daily-0", "daily", hours_ago=30),
                                               f.backup("daily-1", schedule_name="daily", phase="Failed",
                                                        status={"failureReason": "bucket unreachable"})]))],
    },
    "FRS-003": {
        "pass": [("completed", scheduled())],
        "fail": [("partially failed", scheduled(backups=[csi_backup("daily-1", "daily", phase="PartiallyFailed",
                                                                    status={"errors": 2})]))],
    },
    "FRS-004": {
        "pass": [("enabled", scheduled())],
        "fail": [("paused", scheduled(paused=True))],
    },
    "FRS-005": {
        "pass": [("ran 30 minutes ago", scheduled(cron="0 * * * *",
                                                  backups=[csi_backup("daily-1", "daily", hours_ago=0.5)]))],
        "fail": [("5 hourly runs missed", scheduled(cron="0 * * * *",
                                                    backups=[csi_backup("daily-1", "daily", hours_ago=5)])),
                 ("@every 6h, 2 days", scheduled(cron="@every 6h",
                                                 backups=[csi_backup("daily-1", "daily", hours_ago=48)]))],
    },
    "FRS-006": {
        "pass": [("in progress for 1h", scheduled(backups=[
            csi_backup("daily-0", "daily", hours_ago=20), f.backup("daily-1", schedule_name="daily",
                                                                  phase="InProgress", hours_ago=1)]))],
        "fail": [("in progress for 10h", scheduled(backups=[
            f.backup("daily-1", schedule_name="daily", phase="InProgress", hours_ago=10)])),
            ("waiting for plugin operations for 7h", scheduled(backups=[
                f.backup("daily-1", schedule_name="daily", phase="WaitingForPluginOperations", hours_ago=7)]))],
    },
    "FRS-007": {
        "pass": [("30 days", scheduled())],
        "fail": [("72h ttl", scheduled({"ttl": "72h0m0s"}))],
    },
    "FRS-008": {
        "pass": [("enabled", scheduled())],
        "fail": [("failed validation", scheduled(cron="61 * * * *", phase="FailedValidation", backups=[]))],
    },
    "LOC-001": {
        "pass": [("available", scheduled())],
        "fail": [("unavailable", [*scheduled()[1:], f.bsl() | {"status": {
            "phase": "Unavailable", "message": "BackupStorageLocation is unavailable"}}])],
    },
    "LOC-002": {
        "pass": [("schedule names the default", scheduled({"storageLocation": "default"}))],
        "fail": [("missing location", scheduled({"storageLocation": "gone"}))],
    },
    "LOC-003": {
        "pass": [("https", scheduled())],
        "fail": [("insecure", [*scheduled(), f.bsl("minio", default=False, config={
            "region": "minio", "s3Url": "http://minio.backup:9000", "insecureSkipTLSVerify": "true"})])],
    },
    "LOC-004": {
        "pass": [("read-write", scheduled())],
        "fail": [("read-only default", [*scheduled()[1:], f.bsl(accessMode="ReadOnly")])],
    },
    "LOC-005": {
        "pass": [("two locations", [*scheduled(), f.bsl("second", default=False)])],
        "fail": [("one location", scheduled())],
    },
    "CRD-001": {
        "pass": [("own password", [*scheduled(), *creds()])],
        "fail": [("static-passw0rd", [*scheduled(), *creds(repo_password="static-passw0rd")])],
    },
    "CRD-002": {
        "pass": [("workload identity", [*scheduled(), *creds(), f.service_account(
            annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/velero"})])],
        "fail": [("static AKIA key", [*scheduled(), *creds(), f.service_account()])],
    },
    "CRD-003": {
        "pass": [("rotated 10 days ago", [*scheduled(), *creds(created_hours_ago=24 * 400, updated_hours_ago=240)])],
        "fail": [("400 days old", [*scheduled(), *creds(created_hours_ago=24 * 400)])],
    },
    "CRD-004": {
        "pass": [("only velero reads it", [*scheduled(), *creds(), SECRET_READER,
                                           f.binding("velero-secrets", "secret-reader", OWN_SA, ns="velero")])],
        "fail": [("a user reads it", [*scheduled(), *creds(), SECRET_READER, f.binding(
            "alice-secrets", "secret-reader", [{"kind": "User", "name": "alice"}], ns="velero")])],
    },
    "CRD-005": {
        "pass": [("own credentials per cluster", [*scheduled(), *creds(), OtherCluster("other", [
            *scheduled(), *creds(cloud=f.AWS_KEY.replace("AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE"),
                                 repo_password="another-passphrase")])])],
        "fail": [("same key in two clusters",
                  [*scheduled(), *creds(), OtherCluster("other", [*scheduled(), *creds()])])],
    },
    "CRD-006": {
        "pass": [("env from secret", scheduled())],
        "fail": [("literal secret env", [*scheduled(), f.pod("velero-abc", "velero") | {"spec": {
            "containers": [{"name": "velero", "image": "velero/velero:v1.18.1",
                            "env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "not-a-real-secret"}]}]}}])],
    },
    "CRD-007": {
        "pass": [("least privilege", [*scheduled(), f.binding("velero", "velero-backup-role", OWN_SA)])],
        "fail": [("cluster-admin", [*scheduled(), f.binding("velero", "cluster-admin", OWN_SA)])],
    },
    "SYS-001": {
        "pass": [("running", scheduled())],
        "fail": [("no ready replica", [o for o in scheduled() if o.get("kind") != "Deployment"]
                  + [f.velero_deployment(ready=0)])],
    },
    "SYS-002": {
        "pass": [("k3s snapshot 2h old", [*scheduled(), k3s_etcd_node(), etcd_snapshot_file(2)])],
        "fail": [("k3s snapshot 30h old", [*scheduled(), k3s_etcd_node(), etcd_snapshot_file(30)]),
                 ("kubeadm etcd, no snapshot", [*scheduled(), etcd_pod()]),
                 ("only a failed snapshot", [*scheduled(), k3s_etcd_node(),
                                             etcd_snapshot_file(1, error="s3 upload failed: AccessDenied")])],
    },
    "PRE-001": {
        "pass": [("the DR target is ready", [*scheduled(), preflight_outcome(True)]),
                 ("another cluster's pair is not ready, this one is",
                  [*scheduled(), preflight_outcome(False, cluster="other"), preflight_outcome(True)])],
        "fail": [("a StorageClass missing in the DR target", [*scheduled(), preflight_outcome(False)])],
    },
    "SYS-003": {
        "pass": [("complete", scheduled())],
        "fail": [("secrets forbidden", [*scheduled(), Gap("secrets", "forbidden", "secrets is forbidden")])],
    },
    "GOV-002": {
        "pass": [("unchanged", [*scheduled(), Previous(scheduled())]),
                 ("new backup and new volume", [*scheduled(backups=[csi_backup("daily-1", "daily"),
                                                                   csi_backup("daily-2", "daily", hours_ago=0.5)]),
                                                *app("web"), Previous(scheduled())])],
        "fail": [("schedule deleted", [*f.base_cluster(), *app(), Previous(scheduled())]),
                 ("ttl cut and paused", [*scheduled({"ttl": "24h0m0s"}, paused=True), Previous(scheduled())])],
    },
    "GOV-006": {
        "pass": [("the other agent scanned 5 minutes ago (interval 5m)", [*scheduled(), agent("prod-us", 5 / 60, 300)]),
                 ("a laptop scan (no interval) an hour ago", [*scheduled(), agent("laptop", 1, None)])],
        "fail": [("no scan for 3 hours (interval 5m)", [*scheduled(), agent("prod-us", 3, 300)]),
                 ("no scan for 3 hours (no interval: 2 h)", [*scheduled(), agent("laptop", 3, None),
                                                             agent("prod-us", 5 / 60, 300)])],
    },
    "GOV-007": {
        "pass": [("the store knows this cluster under its own uid",
                  [*scheduled(), f.namespace("kube-system"), agent("test", 0, 300, KUBE_SYSTEM_UID),
                   agent("other", 0, 300, "uid-other")])],
        "fail": [("another cluster recorded scans under the same name",
                  [*scheduled(), f.namespace("kube-system"), agent("test", 0, 300, KUBE_SYSTEM_UID),
                   agent("test", 0, 300, "uid-of-a-clone")])],
    },
    "GOV-001": {
        "pass": [("restored 10 days ago", [*scheduled(), f.restore("drill-1", "daily-1", hours_ago=240)]),
                 ("a restore drill passed yesterday", [*scheduled(), drill_restore("daily-drill-1", 24, "passed")])],
        "fail": [("never restored", scheduled()),
                 ("restored 200 days ago", [*scheduled(), f.restore("drill-1", "daily-1", hours_ago=24 * 200)]),
                 ("the only recent restore is a drill that failed verification",
                  [*scheduled(), drill_restore("daily-drill-1", hours_ago=24, result="failed"),
                   f.restore("drill-0", "daily-1", hours_ago=24 * 200)])],
    },
    "GOV-003": {
        "pass": [("aligned", [*scheduled(), *k8up_backup(0.5)])],
        "fail": [("a day apart", [*scheduled(backups=[csi_backup("daily-1", "daily", hours_ago=20)]),
                                  *k8up_backup(0.5)])],
    },
    "GOV-004": {
        "pass": [("valid until next year", [*scheduled(), exception(date(2027, 6, 30))])],
        "fail": [("expired last month", [*scheduled(), exception(date(2026, 10, 31))])],
    },
    "GOV-005": {
        "pass": [("it excepts the unprotected legacy PVC",
                  [*scheduled(includedNamespaces=[NS]), *app("legacy"), exception(date(2027, 6, 30))])],
        "fail": [("the legacy namespace is gone", [*scheduled(includedNamespaces=[NS]), exception(date(2027, 6, 30))]),
                 ("the legacy PVC is protected now", [*scheduled(), *app("legacy"), exception(date(2027, 6, 30))])],
    },
}

