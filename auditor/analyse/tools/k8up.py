"""k8up: which PVCs its Schedules back up, and the recovery points its Backups prove."""

from __future__ import annotations

from collections import defaultdict

from auditor.analyse.evidence import PVCKey, RecoveryPoint
from auditor.analyse.tools.base import BackupTool, Coverage, Points
from auditor.model import records as r
from auditor.model.inventory import Inventory
from auditor.model.tools import k8up

ANNOTATION = "k8up.io/backup"


def eligible(pvc: r.PersistentVolumeClaim, selectors: tuple[r.LabelSelector, ...] = ()) -> bool:
    """k8up's ``listAndFilterPVCs``: Bound, RWO/RWX (or annotated), not annotated ``false``, selector match."""
    if pvc.phase != "Bound":
        return False
    annotation = pvc.meta.annotations.get(ANNOTATION)
    if annotation == "false":
        return False
    if annotation != "true" and not {"ReadWriteMany", "ReadWriteOnce"} & set(pvc.access_modes):
        return False
    return not selectors or any(s.matches(pvc.meta.labels) for s in selectors)


def coverage(inv: Inventory) -> Coverage:
    """PVCs that an active k8up Schedule backs up, with ``k8up:<ns>/<schedule>`` names."""
    schedules = defaultdict(list)
    for s in inv.records(k8up.SCHEDULES):
        if s.backup_cron or s.effective_backup_cron:
            schedules[s.meta.namespace or ""].append(s)
    out: Coverage = {}
    for pvc in inv.pvcs:
        ns = pvc.meta.namespace or ""
        if ns in schedules and eligible(pvc):
            out[(ns, pvc.meta.name)] = [f"k8up:{s.meta.key}" for s in schedules[ns]]
    return out


def points(inv: Inventory) -> Points:
    """A succeeded Backup is a file-system copy of every eligible PVC of its namespace (and selectors)."""
    by_ns = defaultdict(list)
    for b in inv.records(k8up.BACKUPS):
        if b.succeeded and b.finished:
            by_ns[b.meta.namespace or ""].append(b)
    out: dict[PVCKey, list[RecoveryPoint]] = defaultdict(list)
    for pvc in inv.pvcs:
        ns = pvc.meta.namespace or ""
        for b in by_ns.get(ns, ()):
            if eligible(pvc, b.label_selectors) and b.finished:
                out[(ns, pvc.meta.name)].append(
                    RecoveryPoint(b.finished, "fs-backup", "k8up", f"k8up Backup {b.meta.key}", "k8up"))
    return out


def namespaces(inv: Inventory) -> set[str | None]:
    return {s.meta.namespace for s in inv.records(k8up.SCHEDULES)}


TOOL = BackupTool(
    name="k8up", coverage=coverage, points=points, namespaces=namespaces,
    volume_resources={"schedules.k8up.io": "k8up coverage", "backups.k8up.io": "k8up recovery points"},
    namespace_resources=("schedules.k8up.io",),
    images=("k8up",), credential_marker="k8up", password_users=("k8up ",), own_copies=True,
)
