"""CSI snapshots: VolumeSnapshotClasses (can a driver snapshot), VolumeSnapshots and their contents."""

from __future__ import annotations

from datetime import UTC, datetime

from auditor.collect.fields import FieldReader
from auditor.collect.resource import ResourceKind
from auditor.collect.slim import meta
from auditor.collect.tools.base import CollectTool
from auditor.model.tools import csi as model

GROUP = "snapshot.storage.k8s.io"


def volume_snapshot_class(f: FieldReader) -> model.VolumeSnapshotClass:
    return model.VolumeSnapshotClass(meta(f), driver=f.str("driver") or "", deletion_policy=f.str("deletionPolicy"))


def _error_message(f: FieldReader, path: str) -> str | None:
    return f.str(f"{path}.message") if f.get(path) is not None else None


def volume_snapshot(f: FieldReader) -> model.VolumeSnapshot:
    return model.VolumeSnapshot(
        meta=meta(f), source_pvc=f.str("spec.source.persistentVolumeClaimName"),
        class_name=f.str("spec.volumeSnapshotClassName"), content_name=f.str("status.boundVolumeSnapshotContentName"),
        ready=f.bool("status.readyToUse"), created=f.time("status.creationTime"),
        error=_error_message(f, "status.error"),
    )


def volume_snapshot_content(f: FieldReader) -> model.VolumeSnapshotContent:
    created_ns = f.int("status.creationTime")
    try:
        created = datetime.fromtimestamp(created_ns / 1e9, tz=UTC) if created_ns else None
    except (OverflowError, OSError, ValueError):
        raise f.error("status.creationTime", f"not a time in nanoseconds: {created_ns!r:.40}") from None
    return model.VolumeSnapshotContent(
        meta=meta(f), driver=f.str("spec.driver"), deletion_policy=f.str("spec.deletionPolicy"),
        snapshot_namespace=f.str("spec.volumeSnapshotRef.namespace"),
        snapshot_name=f.str("spec.volumeSnapshotRef.name"),
        ready=f.bool("status.readyToUse"), created=created,
    )


TOOL = CollectTool("csi", (
    ResourceKind(GROUP, "v1", "volumesnapshotclasses", "VolumeSnapshotClass", False, "volume_snapshot_classes",
                 volume_snapshot_class, optional=True),
    ResourceKind(GROUP, "v1", "volumesnapshots", "VolumeSnapshot", True, "volume_snapshots", volume_snapshot,
                 optional=True),
    ResourceKind(GROUP, "v1", "volumesnapshotcontents", "VolumeSnapshotContent", False, "volume_snapshot_contents",
                 volume_snapshot_content, optional=True),
))
