"""Coverage and recovery points from k8up and KubeStash, the other backup operators we read."""

from __future__ import annotations

from collections import defaultdict

from auditor.analyse.evidence import PVCKey, RecoveryPoint
from auditor.model import records as r
from auditor.model.inventory import Inventory

K8UP_ANNOTATION = "k8up.io/backup"


def k8up_eligible(pvc: r.PersistentVolumeClaim, selectors: tuple[r.LabelSelector, ...] = ()) -> bool:
    """k8up's ``listAndFilterPVCs``: Bound, RWO/RWX (or annotated), not annotated ``false``, selector match."""
    if pvc.phase != "Bound":
        return False
    annotation = pvc.meta.annotations.get(K8UP_ANNOTATION)
    if annotation == "false":
        return False
    if annotation != "true" and not {"ReadWriteMany", "ReadWriteOnce"} & set(pvc.access_modes):
        return False
    return not selectors or any(s.matches(pvc.meta.labels) for s in selectors)


def k8up_coverage(inv: Inventory) -> dict[PVCKey, list[str]]:
    """PVCs that an active k8up Schedule backs up, with ``k8up:<ns>/<schedule>`` names."""
    schedules = defaultdict(list)
    for s in inv.k8up_schedules:
        if s.backup_cron or s.effective_backup_cron:
            schedules[s.meta.namespace or ""].append(s)
    out: dict[PVCKey, list[str]] = {}
    for pvc in inv.pvcs:
        ns = pvc.meta.namespace or ""
        if ns in schedules and k8up_eligible(pvc):
            out[(ns, pvc.meta.name)] = [f"k8up:{s.meta.key}" for s in schedules[ns]]
    return out


def k8up_points(inv: Inventory) -> dict[PVCKey, list[RecoveryPoint]]:
    by_ns = defaultdict(list)
    for b in inv.k8up_backups:
        if b.succeeded and b.finished:
            by_ns[b.meta.namespace or ""].append(b)
    out: dict[PVCKey, list[RecoveryPoint]] = defaultdict(list)
    for pvc in inv.pvcs:
        ns = pvc.meta.namespace or ""
        for b in by_ns.get(ns, ()):
            if k8up_eligible(pvc, b.label_selectors) and b.finished:
                out[(ns, pvc.meta.name)].append(
                    RecoveryPoint(b.finished, "fs-backup", "k8up", f"k8up Backup {b.meta.key}", "k8up"))
    return out


def _kubestash_targets(inv: Inventory, cfg: r.KubeStashBackupConfiguration) -> list[PVCKey]:
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


def kubestash_coverage(inv: Inventory) -> dict[PVCKey, list[str]]:
    out: dict[PVCKey, list[str]] = defaultdict(list)
    for cfg in inv.kubestash_backup_configurations:
        if not cfg.paused and cfg.schedules:
            for key in _kubestash_targets(inv, cfg):
                out[key].append(f"kubestash:{cfg.meta.key}")
    return out


def kubestash_points(inv: Inventory) -> dict[PVCKey, list[RecoveryPoint]]:
    configs = {c.meta.key: c for c in inv.kubestash_backup_configurations}
    out: dict[PVCKey, list[RecoveryPoint]] = defaultdict(list)
    for session in inv.kubestash_backup_sessions:
        cfg = configs.get(f"{session.meta.namespace}/{session.invoker_name}")
        if cfg is None or session.phase != "Succeeded" or session.created is None:
            continue
        for key in _kubestash_targets(inv, cfg):
            out[key].append(RecoveryPoint(session.created, "fs-backup", "kubestash",
                                          f"KubeStash BackupSession {session.meta.key}", "kubestash"))
    return out
