"""CSI VolumeSnapshots the executor takes itself: the class chosen as Velero would, labelled as ours.

Only snapshots carrying :data:`CREATED_BY` are ever pruned; nothing else in the cluster is touched.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from auditor.analyse.velero_plan import resolve_snapshot_class
from auditor.config import AuditConfig
from auditor.errors import InputError
from auditor.model.inventory import Inventory

CREATED_BY = "backup-auditor.io/created-by"
PVC_LABEL = "backup-auditor.io/pvc"


def snapshot_for(inv: Inventory, namespace: str, pvc_name: str, at: datetime) -> dict[str, Any]:
    """The VolumeSnapshot to create for a PVC; raises with the reason when the PVC cannot be snapshotted."""
    pvc = inv.pvc_by_key.get((namespace, pvc_name))
    if pvc is None:
        raise InputError(f"no PersistentVolumeClaim {namespace}/{pvc_name}")
    if pvc.phase != "Bound":
        raise InputError(f"PVC {namespace}/{pvc_name} is {pvc.phase or 'not bound'}: there is nothing to snapshot")
    sc = inv.storage_class_by_name.get(pvc.storage_class or "")
    if sc is None:
        raise InputError(f"PVC {namespace}/{pvc_name} has no StorageClass the cluster knows ({pvc.storage_class})")
    cls, problem = resolve_snapshot_class(inv, pvc, {}, sc.provisioner)
    if cls is None:
        raise InputError(f"PVC {namespace}/{pvc_name}: {problem}")
    stamp = f"{at.astimezone(UTC):%Y%m%d%H%M%S}"
    return {
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": f"{pvc_name[:40]}-auditor-{stamp}", "namespace": namespace,
                     "labels": {CREATED_BY: "backup-auditor", PVC_LABEL: pvc_name[:63]}},
        "spec": {"volumeSnapshotClassName": cls.meta.name, "source": {"persistentVolumeClaimName": pvc_name}},
    }


def retention_for(config: AuditConfig, inv: Inventory, namespace: str, pvc_name: str) -> float:
    """The retention of the policy that applies to the PVC (``--prune policy``): the auditor's own snapshots
    of it older than this are pruned, as the policy would keep a backup."""
    pvc = inv.pvc_by_key.get((namespace, pvc_name))
    ns = next((n for n in inv.namespaces if n.meta.name == namespace), None)
    policy = config.for_cluster(inv.cluster).policy_for(namespace, dict(ns.meta.labels) if ns else {},
                                                        dict(pvc.meta.labels) if pvc else {})
    return policy.retention
