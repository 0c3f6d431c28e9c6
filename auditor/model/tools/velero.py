"""Velero's records, the ones the audit is built around: its catalog objects (Schedules, Backups, storage and
snapshot locations, PodVolumeBackups, DataUploads, repositories, Restores) and, at the end, a backup catalog
as read from a copy of a BackupStorageLocation prefix (``collect/catalog.py`` reads it). The inventory holds
them in core fields (``inv.backups``...): Velero's planner and evidence are the core of the analysis."""

from __future__ import annotations

from datetime import datetime

import msgspec

from auditor.model.records import LabelSelector, Meta


class BackupSpec(msgspec.Struct, frozen=True, gc=False):
    """The parts of a Velero BackupSpec (or Schedule template) that decide scope and data paths."""

    included_namespaces: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = ()
    included_resources: tuple[str, ...] = ()
    excluded_resources: tuple[str, ...] = ()
    include_cluster_resources: bool | None = None
    included_cluster_scoped: tuple[str, ...] = ()
    excluded_cluster_scoped: tuple[str, ...] = ()
    included_namespace_scoped: tuple[str, ...] = ()
    excluded_namespace_scoped: tuple[str, ...] = ()
    label_selector: LabelSelector | None = None
    or_label_selectors: tuple[LabelSelector, ...] = ()
    snapshot_volumes: bool | None = None
    default_volumes_to_fs_backup: bool | None = None
    default_volumes_to_restic: bool | None = None
    snapshot_move_data: bool | None = None
    ttl_seconds: float | None = None
    storage_location: str | None = None
    volume_snapshot_locations: tuple[str, ...] = ()
    resource_policy: str | None = None  # ConfigMap name
    #: template/backup annotations (CSI class per driver)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)


class Backup(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    spec: BackupSpec
    schedule: str | None  # velero.io/schedule-name label
    phase: str | None
    started: datetime | None
    completed: datetime | None
    expiration: datetime | None
    errors: int
    warnings: int
    failure_reason: str | None
    validation_errors: tuple[str, ...]
    snapshots_attempted: int
    snapshots_completed: int
    csi_snapshots_attempted: int
    csi_snapshots_completed: int
    item_operations_attempted: int
    item_operations_completed: int
    item_operations_failed: int


class Schedule(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    cron: str
    template: BackupSpec
    paused: bool
    phase: str | None
    last_backup: datetime | None
    validation_errors: tuple[str, ...]
    use_owner_references: bool = False


class BackupStorageLocation(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    provider: str | None
    bucket: str | None
    prefix: str | None
    config: dict[str, str]
    credential_name: str | None
    credential_key: str | None
    default: bool
    access_mode: str  # ReadWrite | ReadOnly
    phase: str | None
    last_validated: datetime | None
    message: str | None


class VolumeSnapshotLocation(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    provider: str | None
    config: dict[str, str]
    credential_name: str | None
    credential_key: str | None
    phase: str | None


#: Where a PodVolumeBackup names its backup and its volume's claim (Velero's node agent writes them).
BACKUP_NAME_LABEL = "velero.io/backup-name"
PVC_NAME_ANNOTATION = "velero.io/pvc-name"


class PodVolumeBackup(msgspec.Struct, frozen=True, gc=False):
    """A file-system backup of one pod volume: what the evidence reads (which backup, which pod volume or
    claim, and the outcome), no more. Its ``meta`` holds name, namespace and uid only; the backup and claim
    names read from its labels and annotations are fields of their own. At 100,000 of them, each with a
    distinct label set, the maps, timestamps and node names nothing reads were half the records' memory."""

    meta: Meta
    backup: str | None  # velero.io/backup-name
    pod_namespace: str | None
    pod_name: str | None
    volume: str | None
    pvc_name: str | None  # velero.io/pvc-name
    phase: str | None
    message: str | None


class DataUpload(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    backup: str | None
    source_namespace: str | None
    source_pvc: str | None
    phase: str | None
    completed: datetime | None
    message: str | None


class BackupRepository(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    volume_namespace: str | None
    storage_location: str | None
    repository_type: str | None
    phase: str | None
    last_maintenance: datetime | None


class Restore(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    backup_name: str | None
    schedule_name: str | None
    phase: str | None
    started: datetime | None
    completed: datetime | None
    namespace_mapping: dict[str, str]

    @property
    def drill_result(self) -> str | None:
        """``passed``/``failed`` when an auditor restore drill judged this Restore (its annotation, kept in meta)."""
        return self.meta.annotations.get("backup-auditor.io/drill-result")


# --- a backup catalog (a copy of a BackupStorageLocation prefix) ----------------------------------


class VolumeInfo(msgspec.Struct, frozen=True, gc=False):
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


class CatalogBackup(msgspec.Struct, frozen=True, gc=False):
    name: str
    backup: Backup | None
    volume_info: tuple[VolumeInfo, ...] | None  # None: no volumeinfo file
    pod_volume_backups: tuple[PodVolumeBackup, ...] | None
    error_lines: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)  # namespace -> errors from results
    unreadable: tuple[str, ...] = ()  # files present but unreadable


class VeleroCatalog(msgspec.Struct, frozen=True, gc=False):
    location: str
    backups: dict[str, CatalogBackup]
