"""A passing and a failing fixture per rule: real-shaped objects, judged at ``factories.AS_OF``.

Each entry is a list of cases ``(case_name, objects)``; the meta-test requires at least one of each.
"""

from __future__ import annotations

from typing import Any

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
}
