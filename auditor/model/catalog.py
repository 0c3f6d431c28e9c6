"""A Velero backup catalog as read from a copy of a BackupStorageLocation prefix (``collect/catalog.py``
reads it): per backup, its object, per-volume results, PodVolumeBackups, error lines and unreadable files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from auditor.model import records as r


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    """One entry of ``<b>-volumeinfo.json.gz`` (``internal/volume/volumes_information.go``)."""

    pvc_namespace: str
    pvc_name: str
    pv_name: str | None
    method: str | None  # NativeSnapshot | PodVolumeBackup | CSISnapshot
    data_moved: bool
    skipped: bool
    skipped_reason: str | None
    result: str | None  # succeeded | failed
    started: datetime | None
    completed: datetime | None


@dataclass(frozen=True)
class CatalogBackup:
    name: str
    backup: r.Backup | None
    volume_info: tuple[VolumeInfo, ...] | None  # None: no volumeinfo file
    pod_volume_backups: tuple[r.PodVolumeBackup, ...] | None
    error_lines: dict[str, tuple[str, ...]] = field(default_factory=dict)  # namespace -> errors from results
    unreadable: tuple[str, ...] = ()  # files present but unreadable


@dataclass(frozen=True)
class VeleroCatalog:
    location: str
    backups: dict[str, CatalogBackup]
