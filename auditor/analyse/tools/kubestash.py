"""KubeStash: which PVCs its BackupConfigurations target, and the recovery points its BackupSessions prove."""

from __future__ import annotations

from collections import defaultdict

from auditor.analyse.evidence import PVCKey, RecoveryPoint
from auditor.analyse.tools.base import BackupTool, Coverage, Points
from auditor.model.inventory import Inventory
from auditor.model.tools import kubestash


def targets(inv: Inventory, cfg: kubestash.KubeStashBackupConfiguration) -> list[PVCKey]:
    """The PVCs behind a BackupConfiguration's target: the PVC itself or the workload's mounted claims."""
    ns = cfg.meta.namespace or ""
    if cfg.target_kind == "PersistentVolumeClaim" and cfg.target_name:
        return [(ns, cfg.target_name)]
    claims: list[PVCKey] = []
    for pod in inv.pods_by_namespace.get(ns, ()):
        owned = any(
            (o.kind == cfg.target_kind and o.name == cfg.target_name)
            or (cfg.target_kind == "Deployment" and o.kind == "ReplicaSet"
                and o.name.rsplit("-", 1)[0] == cfg.target_name)
            for o in pod.meta.owners)
        if owned:
            claims.extend((ns, v.claim_name) for v in pod.volumes if v.claim_name)
    return claims


def coverage(inv: Inventory) -> Coverage:
    out: Coverage = defaultdict(list)
    for cfg in inv.records(kubestash.BACKUP_CONFIGURATIONS):
        if not cfg.paused and cfg.schedules:
            for key in targets(inv, cfg):
                out[key].append(f"kubestash:{cfg.meta.key}")
    return out


def points(inv: Inventory) -> Points:
    """A Succeeded BackupSession is a copy of its configuration's target volumes."""
    configs = {c.meta.key: c for c in inv.records(kubestash.BACKUP_CONFIGURATIONS)}
    out: Points = defaultdict(list)
    for session in inv.records(kubestash.BACKUP_SESSIONS):
        cfg = configs.get(f"{session.meta.namespace}/{session.invoker_name}")
        if cfg is None or session.phase != "Succeeded" or session.created is None:
            continue
        for key in targets(inv, cfg):
            out[key].append(RecoveryPoint(session.created, "fs-backup", "kubestash",
                                          f"KubeStash BackupSession {session.meta.key}", "kubestash"))
    return out


def namespaces(inv: Inventory) -> set[str | None]:
    return {c.meta.namespace for c in inv.records(kubestash.BACKUP_CONFIGURATIONS) if not c.paused}


TOOL = BackupTool(
    name="kubestash", coverage=coverage, points=points, namespaces=namespaces,
    volume_resources={"backupconfigurations.core.kubestash.com": "KubeStash coverage",
                      "backupsessions.core.kubestash.com": "KubeStash recovery points"},
    namespace_resources=("backupconfigurations.core.kubestash.com",),
    images=("kubestash", "stash"), credential_marker="KubeStash", password_users=("KubeStash ",), own_copies=True,
)
