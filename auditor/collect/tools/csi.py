"""CSI snapshots: VolumeSnapshotClasses (can a driver snapshot), VolumeSnapshots and their contents."""

from __future__ import annotations

from auditor.collect import slim
from auditor.collect.resource import ResourceKind
from auditor.collect.tools.base import CollectTool

GROUP = "snapshot.storage.k8s.io"

TOOL = CollectTool("csi", (
    ResourceKind(GROUP, "v1", "volumesnapshotclasses", "VolumeSnapshotClass", False, "volume_snapshot_classes",
                 slim.volume_snapshot_class, optional=True),
    ResourceKind(GROUP, "v1", "volumesnapshots", "VolumeSnapshot", True, "volume_snapshots", slim.volume_snapshot,
                 optional=True),
    ResourceKind(GROUP, "v1", "volumesnapshotcontents", "VolumeSnapshotContent", False, "volume_snapshot_contents",
                 slim.volume_snapshot_content, optional=True),
))
