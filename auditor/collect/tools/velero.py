"""Velero's resources, the backup catalog the audit is built around, and their decoders.

Backups and PodVolumeBackups are what a large cluster has most of (50,000 and 100,000): they are decoded
typed (:mod:`auditor.collect.decode`), straight from a page or dump item into records, and any object that
path refuses goes to the checked reader below, like every object of the other Velero kinds. Velero's planner,
schedules and evidence stay in ``analyse/`` (see ``docs/architecture.md``, "Where to add a backup tool").
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from auditor.collect import decode
from auditor.collect.decode import interned, timestamp
from auditor.collect.fields import FieldReader
from auditor.collect.resource import ResourceKind
from auditor.collect.slim import bare, label_selector, meta, selector
from auditor.collect.tools.base import CollectTool
from auditor.model.durations import go_duration_seconds
from auditor.model.records import Meta
from auditor.model.tools import velero as model
from auditor.model.tools.velero import BACKUP_NAME_LABEL, PVC_NAME_ANNOTATION

GROUP = "velero.io"

# --- the checked reader ----------------------------------------------------------------------------------------


_SPEC_MEMO: dict[bytes, model.BackupSpec] = {}
_SPEC_MEMO_MAX = 20_000
CSI_CLASS_ANNOTATION_PREFIX = "velero.io/csi-volumesnapshot-class"


def backup_spec(f: FieldReader, path: str, annotations: dict[str, str]) -> model.BackupSpec:
    """The scope and data-path fields of a BackupSpec. Identical specs (every backup of a schedule) are
    built once and shared, which saves both time and hundreds of megabytes at 50,000 backups."""
    classes = {k: v for k, v in annotations.items() if k.startswith(CSI_CLASS_ANNOTATION_PREFIX)}
    raw = f.get(path)
    try:
        key = orjson.dumps([raw, classes], option=orjson.OPT_SORT_KEYS)
    except TypeError:
        key = b""
    if key and key in _SPEC_MEMO:
        return _SPEC_MEMO[key]
    spec = _build_backup_spec(f, path, classes)
    if key:
        if len(_SPEC_MEMO) >= _SPEC_MEMO_MAX:
            _SPEC_MEMO.clear()
        _SPEC_MEMO[key] = spec
    return spec


def _build_backup_spec(f: FieldReader, path: str, annotations: dict[str, str]) -> model.BackupSpec:
    def strs(name: str) -> tuple[str, ...]:
        return f.strs(f"{path}.{name}")

    ttl_text = f.str(f"{path}.ttl")
    ttl = None
    if ttl_text is not None:
        ttl = go_duration_seconds(ttl_text)
        if ttl is None:
            raise f.error(f"{path}.ttl", f"not a Go duration: {ttl_text!r:.40}")
    or_selectors = [
        selector(f.sub(item, f"{path}.orLabelSelectors[{i}]"))
        for i, item in enumerate(f.list(f"{path}.orLabelSelectors"))
    ]
    # Velero applies a resource policy only when the reference's kind is exactly "configmap" (backup_controller's
    # prepareBackupRequest); any other kind, an empty one or "ConfigMap" included, is ignored without an error
    policy_kind = f.str(f"{path}.resourcePolicy.kind")
    return model.BackupSpec(
        included_namespaces=strs("includedNamespaces"),
        excluded_namespaces=strs("excludedNamespaces"),
        included_resources=strs("includedResources"),
        excluded_resources=strs("excludedResources"),
        include_cluster_resources=f.bool(f"{path}.includeClusterResources"),
        included_cluster_scoped=strs("includedClusterScopedResources"),
        excluded_cluster_scoped=strs("excludedClusterScopedResources"),
        included_namespace_scoped=strs("includedNamespaceScopedResources"),
        excluded_namespace_scoped=strs("excludedNamespaceScopedResources"),
        label_selector=label_selector(f, f"{path}.labelSelector"),
        or_label_selectors=tuple(or_selectors),
        snapshot_volumes=f.bool(f"{path}.snapshotVolumes"),
        default_volumes_to_fs_backup=f.bool(f"{path}.defaultVolumesToFsBackup"),
        default_volumes_to_restic=f.bool(f"{path}.defaultVolumesToRestic"),
        snapshot_move_data=f.bool(f"{path}.snapshotMoveData"),
        ttl_seconds=ttl,
        storage_location=f.str(f"{path}.storageLocation") or None,
        volume_snapshot_locations=strs("volumeSnapshotLocations"),
        resource_policy=f.str(f"{path}.resourcePolicy.name") if policy_kind == "configmap" else None,
        annotations=annotations,
    )


def backup(f: FieldReader) -> model.Backup:
    m = meta(f)
    return model.Backup(
        meta=m, spec=backup_spec(f, "spec", m.annotations), schedule=m.labels.get("velero.io/schedule-name"),
        phase=f.str("status.phase"), started=f.time("status.startTimestamp"),
        completed=f.time("status.completionTimestamp"), expiration=f.time("status.expiration"),
        errors=f.int("status.errors", 0) or 0, warnings=f.int("status.warnings", 0) or 0,
        failure_reason=f.str("status.failureReason"), validation_errors=f.strs("status.validationErrors"),
        snapshots_attempted=f.int("status.volumeSnapshotsAttempted", 0) or 0,
        snapshots_completed=f.int("status.volumeSnapshotsCompleted", 0) or 0,
        csi_snapshots_attempted=f.int("status.csiVolumeSnapshotsAttempted", 0) or 0,
        csi_snapshots_completed=f.int("status.csiVolumeSnapshotsCompleted", 0) or 0,
        item_operations_attempted=f.int("status.backupItemOperationsAttempted", 0) or 0,
        item_operations_completed=f.int("status.backupItemOperationsCompleted", 0) or 0,
        item_operations_failed=f.int("status.backupItemOperationsFailed", 0) or 0,
    )


def schedule(f: FieldReader) -> model.Schedule:
    template_annotations = f.str_map("spec.template.metadata.annotations")
    m = meta(f)
    return model.Schedule(
        meta=m, cron=f.str("spec.schedule") or "",
        template=backup_spec(f, "spec.template", {**m.annotations, **template_annotations}),
        paused=bool(f.bool("spec.paused")), phase=f.str("status.phase"), last_backup=f.time("status.lastBackup"),
        validation_errors=f.strs("status.validationErrors"),
        use_owner_references=bool(f.bool("spec.useOwnerReferencesInBackup")),
    )


def backup_storage_location(f: FieldReader) -> model.BackupStorageLocation:
    return model.BackupStorageLocation(
        meta=meta(f), provider=f.str("spec.provider"), bucket=f.str("spec.objectStorage.bucket"),
        prefix=f.str("spec.objectStorage.prefix"), config=f.str_map("spec.config"),
        credential_name=f.str("spec.credential.name"), credential_key=f.str("spec.credential.key"),
        default=bool(f.bool("spec.default")), access_mode=f.str("spec.accessMode") or "ReadWrite",
        phase=f.str("status.phase"), last_validated=f.time("status.lastValidationTime"),
        message=f.str("status.message"),
    )


def volume_snapshot_location(f: FieldReader) -> model.VolumeSnapshotLocation:
    return model.VolumeSnapshotLocation(
        meta=meta(f), provider=f.str("spec.provider"), config=f.str_map("spec.config"),
        credential_name=f.str("spec.credential.name"), credential_key=f.str("spec.credential.key"),
        phase=f.str("status.phase"),
    )


def pod_volume_backup(f: FieldReader) -> model.PodVolumeBackup:
    m = meta(f)
    return model.PodVolumeBackup(
        meta=bare(m), backup=m.labels.get(BACKUP_NAME_LABEL), pod_namespace=f.str("spec.pod.namespace"),
        pod_name=f.str("spec.pod.name"), volume=f.str("spec.volume"), pvc_name=m.annotations.get(PVC_NAME_ANNOTATION),
        phase=f.str("status.phase"), message=f.str("status.message"),
    )


def data_upload(f: FieldReader) -> model.DataUpload:
    m = meta(f)
    return model.DataUpload(
        meta=m, backup=m.labels.get("velero.io/backup-name"), source_namespace=f.str("spec.sourceNamespace"),
        source_pvc=f.str("spec.sourcePVC"), phase=f.str("status.phase"),
        completed=f.time("status.completionTimestamp"), message=f.str("status.message"),
    )


def backup_repository(f: FieldReader) -> model.BackupRepository:
    return model.BackupRepository(
        meta=meta(f), volume_namespace=f.str("spec.volumeNamespace"),
        storage_location=f.str("spec.backupStorageLocation"), repository_type=f.str("spec.repositoryType"),
        phase=f.str("status.phase"), last_maintenance=f.time("status.lastMaintenanceTime"),
    )


def restore(f: FieldReader) -> model.Restore:
    return model.Restore(
        meta=meta(f), backup_name=f.str("spec.backupName"), schedule_name=f.str("spec.scheduleName"),
        phase=f.str("status.phase"), started=f.time("status.startTimestamp"),
        completed=f.time("status.completionTimestamp"), namespace_mapping=f.str_map("spec.namespaceMapping"),
    )


# --- typed decoding of Backups and PodVolumeBackups (only the fields read; see ``collect/decode.py``) -------


class _BackupStatus(msgspec.Struct, gc=False):
    phase: str | None = None
    startTimestamp: str | None = None  # noqa: N815
    completionTimestamp: str | None = None  # noqa: N815
    expiration: str | None = None
    errors: int | None = None
    warnings: int | None = None
    failureReason: str | None = None  # noqa: N815
    validationErrors: list[str] | None = None  # noqa: N815
    volumeSnapshotsAttempted: int | None = None  # noqa: N815
    volumeSnapshotsCompleted: int | None = None  # noqa: N815
    csiVolumeSnapshotsAttempted: int | None = None  # noqa: N815
    csiVolumeSnapshotsCompleted: int | None = None  # noqa: N815
    backupItemOperationsAttempted: int | None = None  # noqa: N815
    backupItemOperationsCompleted: int | None = None  # noqa: N815
    backupItemOperationsFailed: int | None = None  # noqa: N815


class _Backup(msgspec.Struct, gc=False):
    metadata: decode.WireMeta
    apiVersion: Any = None  # noqa: N815 - a dump's items are checked against the kind they were decoded as
    kind: Any = None
    spec: msgspec.Raw = decode.ABSENT  # built once per distinct spec (every backup of a schedule shares one)
    status: _BackupStatus | None = None


class _PodRef(msgspec.Struct, gc=False):
    namespace: str | None = None
    name: str | None = None


class _PVBSpec(msgspec.Struct, gc=False):
    pod: _PodRef | None = None
    volume: str | None = None


class _PVBStatus(msgspec.Struct, gc=False):
    phase: str | None = None
    message: str | None = None


class _PVB(msgspec.Struct, gc=False):
    metadata: decode.WireMeta
    apiVersion: Any = None  # noqa: N815 - a dump's items are checked against the kind they were decoded as
    kind: Any = None
    spec: _PVBSpec | None = None
    status: _PVBStatus | None = None


_WIRE_SPEC_MEMO: dict[tuple[bytes, tuple[tuple[str, str], ...]], model.BackupSpec] = {}
_WIRE_SPEC_MEMO_MAX = 20_000


def _wire_backup_spec(raw: msgspec.Raw, m: Meta) -> model.BackupSpec:
    classes = {k: v for k, v in m.annotations.items() if k.startswith(CSI_CLASS_ANNOTATION_PREFIX)}
    body = bytes(raw) if raw else decode.NULL
    key = (body, tuple(classes.items()))
    spec = _WIRE_SPEC_MEMO.get(key)
    if spec is None:
        # the checked reader builds it (few distinct specs); an error there is the item's error: refused
        obj = {"kind": "Backup", "metadata": {"name": m.name, "namespace": m.namespace},
               "spec": orjson.loads(body)}
        try:
            spec = _build_backup_spec(FieldReader(obj), "spec", classes)
        except Exception:
            raise decode.Refused from None
        if len(_WIRE_SPEC_MEMO) >= _WIRE_SPEC_MEMO_MAX:
            _WIRE_SPEC_MEMO.clear()
        _WIRE_SPEC_MEMO[key] = spec
    return spec


def typed_backup(w: _Backup) -> model.Backup:
    m = decode.meta(w.metadata)
    st = w.status or _BackupStatus()
    return model.Backup(
        meta=m, spec=_wire_backup_spec(w.spec, m), schedule=m.labels.get("velero.io/schedule-name"),
        phase=interned(st.phase), started=timestamp(st.startTimestamp), completed=timestamp(st.completionTimestamp),
        expiration=timestamp(st.expiration), errors=st.errors or 0, warnings=st.warnings or 0,
        failure_reason=interned(st.failureReason), validation_errors=tuple(st.validationErrors or ()),
        snapshots_attempted=st.volumeSnapshotsAttempted or 0, snapshots_completed=st.volumeSnapshotsCompleted or 0,
        csi_snapshots_attempted=st.csiVolumeSnapshotsAttempted or 0,
        csi_snapshots_completed=st.csiVolumeSnapshotsCompleted or 0,
        item_operations_attempted=st.backupItemOperationsAttempted or 0,
        item_operations_completed=st.backupItemOperationsCompleted or 0,
        item_operations_failed=st.backupItemOperationsFailed or 0,
    )


def typed_pod_volume_backup(w: _PVB) -> model.PodVolumeBackup:
    annotations = w.metadata.annotations
    spec = w.spec or _PVBSpec()
    pod_ref = spec.pod or _PodRef()
    st = w.status or _PVBStatus()
    return model.PodVolumeBackup(
        meta=decode.bare_meta(w.metadata), backup=interned((w.metadata.labels or {}).get(BACKUP_NAME_LABEL)),
        pod_namespace=interned(pod_ref.namespace), pod_name=interned(pod_ref.name), volume=interned(spec.volume),
        pvc_name=interned(annotations.get(PVC_NAME_ANNOTATION)) if annotations else None, phase=interned(st.phase),
        message=interned(st.message),
    )


BACKUPS = decode.Typed(_Backup, typed_backup)
POD_VOLUME_BACKUPS = decode.Typed(_PVB, typed_pod_volume_backup)

TOOL = CollectTool("velero", (
    ResourceKind(GROUP, "v1", "backupstoragelocations", "BackupStorageLocation", True, "bsls",
                 backup_storage_location, optional=True),
    ResourceKind(GROUP, "v1", "volumesnapshotlocations", "VolumeSnapshotLocation", True, "vsls",
                 volume_snapshot_location, optional=True),
    ResourceKind(GROUP, "v1", "schedules", "Schedule", True, "schedules", schedule, optional=True),
    ResourceKind(GROUP, "v1", "backups", "Backup", True, "backups", backup, optional=True, typed=BACKUPS),
    ResourceKind(GROUP, "v1", "podvolumebackups", "PodVolumeBackup", True, "pod_volume_backups",
                 pod_volume_backup, optional=True, typed=POD_VOLUME_BACKUPS),
    ResourceKind(GROUP, "v2alpha1", "datauploads", "DataUpload", True, "data_uploads", data_upload, optional=True),
    ResourceKind(GROUP, "v1", "backuprepositories", "BackupRepository", True, "backup_repositories",
                 backup_repository, optional=True),
    ResourceKind(GROUP, "v1", "restores", "Restore", True, "restores", restore, optional=True),
))
