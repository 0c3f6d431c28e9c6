"""CSI snapshot records: VolumeSnapshotClasses (can a driver snapshot), VolumeSnapshots (recovery points of
their source PVC) and their contents. The inventory holds them in core fields: Velero's planner reads them too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auditor.model.records import Meta


@dataclass(frozen=True, slots=True)
class VolumeSnapshotClass:
    meta: Meta
    driver: str
    deletion_policy: str | None


@dataclass(frozen=True, slots=True)
class VolumeSnapshot:
    meta: Meta
    source_pvc: str | None
    class_name: str | None
    content_name: str | None
    ready: bool | None
    created: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class VolumeSnapshotContent:
    meta: Meta
    driver: str | None
    deletion_policy: str | None
    snapshot_namespace: str | None
    snapshot_name: str | None
    ready: bool | None
    created: datetime | None
