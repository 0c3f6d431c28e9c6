"""CSI snapshots taken outside Velero: a ready VolumeSnapshot is a recovery point of its source PVC."""

from __future__ import annotations

from auditor.analyse.evidence import RecoveryPoint
from auditor.analyse.tools.base import BackupTool, Points
from auditor.model.inventory import Inventory


def points(inv: Inventory) -> Points:
    """Ready VolumeSnapshots taken outside Velero (Velero deletes its own after the backup)."""
    out: Points = {}
    for key, snapshots in inv.volume_snapshots_by_claim.items():
        found = [RecoveryPoint(vs.created, "csi-snapshot", "csi", f"VolumeSnapshot {vs.meta.key}", "volumesnapshot")
                 for vs in snapshots
                 if vs.ready and vs.created and "velero.io/backup-name" not in vs.meta.labels and not vs.meta.deleting]
        if found:
            out[key] = found
    return out


TOOL = BackupTool(
    name="csi", points=points,
    volume_resources={"volumesnapshots.snapshot.storage.k8s.io": "CSI snapshot recovery points",
                      "volumesnapshotclasses.snapshot.storage.k8s.io": "whether CSI snapshots can be taken"},
)
