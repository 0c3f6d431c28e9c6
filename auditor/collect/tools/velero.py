"""Velero's resources: the backup catalog the audit is built around (its decoders are in ``slim``, on the
hot path with the core kinds)."""

from __future__ import annotations

from auditor.collect import slim
from auditor.collect.resource import ResourceKind
from auditor.collect.tools.base import CollectTool

GROUP = "velero.io"

TOOL = CollectTool("velero", (
    ResourceKind(GROUP, "v1", "backupstoragelocations", "BackupStorageLocation", True, "bsls",
                 slim.backup_storage_location, optional=True),
    ResourceKind(GROUP, "v1", "volumesnapshotlocations", "VolumeSnapshotLocation", True, "vsls",
                 slim.volume_snapshot_location, optional=True),
    ResourceKind(GROUP, "v1", "schedules", "Schedule", True, "schedules", slim.schedule, optional=True),
    ResourceKind(GROUP, "v1", "backups", "Backup", True, "backups", slim.backup, optional=True),
    ResourceKind(GROUP, "v1", "podvolumebackups", "PodVolumeBackup", True, "pod_volume_backups",
                 slim.pod_volume_backup, optional=True),
    ResourceKind(GROUP, "v2alpha1", "datauploads", "DataUpload", True, "data_uploads", slim.data_upload,
                 optional=True),
    ResourceKind(GROUP, "v1", "backuprepositories", "BackupRepository", True, "backup_repositories",
                 slim.backup_repository, optional=True),
    ResourceKind(GROUP, "v1", "restores", "Restore", True, "restores", slim.restore, optional=True),
))
