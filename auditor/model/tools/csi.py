"""CSI snapshot records: VolumeSnapshotClasses (can a driver snapshot), VolumeSnapshots (recovery points of
their source PVC) and their contents. The inventory holds them in core fields: Velero's planner reads them too."""

from __future__ import annotations

from datetime import datetime

import msgspec

from auditor.model.records import Meta


class VolumeSnapshotClass(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    driver: str
    deletion_policy: str | None


class VolumeSnapshot(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    source_pvc: str | None
    class_name: str | None
    content_name: str | None
    ready: bool | None
    created: datetime | None
    error: str | None


class VolumeSnapshotContent(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    driver: str | None
    deletion_policy: str | None
    snapshot_namespace: str | None
    snapshot_name: str | None
    ready: bool | None
    created: datetime | None
