"""The inventory: one immutable, typed snapshot of one cluster, with indexes built once on demand."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar, cast

from auditor.model import records as r
from auditor.model.tools import csi, etcd, velero
from auditor.model.tools.base import RecordSet

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Gap:
    """Something the scan tried to read and could not (or a group the cluster does not serve).

    ``reason`` is ``forbidden``, ``error``, ``not-found`` or ``not-served``. Only the last one leaves the
    scan complete: the cluster has no such objects, so nothing is hidden from the verdicts.
    """

    resource: str
    reason: str
    message: str
    namespace: str | None = None
    name: str | None = None  # one object read by name (a credential Secret), else the whole list

    @property
    def hides_data(self) -> bool:
        return self.reason != "not-served"

    def as_dict(self) -> dict[str, Any]:
        out = {"resource": self.resource, "namespace": self.namespace, "reason": self.reason,
               "message": self.message}
        return out if self.name is None else {**out, "name": self.name}


@dataclass(frozen=True, slots=True)
class InputWarning:
    """Something odd in the input that the scan worked around (a duplicate object counted once)."""

    kind: str
    namespace: str | None
    name: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "message": self.message}


@dataclass(frozen=True)
class Inventory:
    """Everything the analysis knows about one cluster. Built by sources, never mutated."""

    cluster: str
    source: str
    collected_at: datetime | None = None
    server_version: str | None = None
    gaps: tuple[Gap, ...] = ()
    warnings: tuple[InputWarning, ...] = ()
    unknown_kinds: dict[str, int] = field(default_factory=dict)
    backup_namespaces: tuple[str, ...] = ()
    namespaces: tuple[r.Namespace, ...] = ()
    nodes: tuple[r.Node, ...] = ()
    pvs: tuple[r.PersistentVolume, ...] = ()
    pvcs: tuple[r.PersistentVolumeClaim, ...] = ()
    pods: tuple[r.Pod, ...] = ()
    workloads: tuple[r.Workload, ...] = ()
    storage_classes: tuple[r.StorageClass, ...] = ()
    csi_drivers: tuple[r.CSIDriver, ...] = ()
    service_accounts: tuple[r.ServiceAccount, ...] = ()
    roles: tuple[r.Role, ...] = ()
    role_bindings: tuple[r.RoleBinding, ...] = ()
    secrets: tuple[r.Secret, ...] = ()
    config_maps: tuple[r.ConfigMap, ...] = ()
    volume_snapshot_classes: tuple[csi.VolumeSnapshotClass, ...] = ()
    volume_snapshots: tuple[csi.VolumeSnapshot, ...] = ()
    volume_snapshot_contents: tuple[csi.VolumeSnapshotContent, ...] = ()
    bsls: tuple[velero.BackupStorageLocation, ...] = ()
    vsls: tuple[velero.VolumeSnapshotLocation, ...] = ()
    schedules: tuple[velero.Schedule, ...] = ()
    backups: tuple[velero.Backup, ...] = ()
    pod_volume_backups: tuple[velero.PodVolumeBackup, ...] = ()
    data_uploads: tuple[velero.DataUpload, ...] = ()
    backup_repositories: tuple[velero.BackupRepository, ...] = ()
    restores: tuple[velero.Restore, ...] = ()
    etcd_snapshots: tuple[etcd.EtcdSnapshot, ...] = ()  # k3s ETCDSnapshotFiles, plus the executor's manifests
    #: The records of the backup tools with types of their own (``model/tools``), by field name.
    tool_records: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def records(self, record_set: RecordSet[T]) -> tuple[T, ...]:
        """A backup tool's records, by the tool's typed key (``model/tools/<tool>.py``)."""
        return cast(tuple[T, ...], self.tool_records.get(record_set.field, ()))

    def by_field(self, names: Iterable[str]) -> dict[str, tuple[Any, ...]]:
        """Records by inventory field name, core or a tool's (what :func:`credential_refs` takes)."""
        return {name: getattr(self, name) if name in CORE_FIELDS else self.tool_records.get(name, ())
                for name in names}

    def all_records(self) -> dict[str, tuple[Any, ...]]:
        """Every record set, core and every tool's: what :func:`credential_refs` takes."""
        return self.by_field([*sorted(CORE_FIELDS), *self.tool_records])

    @property
    def complete(self) -> bool:
        return not any(g.hides_data for g in self.gaps)

    def gap_for(self, resource: str) -> Gap | None:
        """The gap that hides ``resource`` (``plural`` or ``plural.group``), if any."""
        for gap in self.gaps:
            if gap.resource == resource and gap.hides_data:
                return gap
        return None

    # --- indexes (built once; the analysis never scans a list inside a loop) -------------------

    @cached_property
    def namespace_by_name(self) -> dict[str, r.Namespace]:
        return {n.meta.name: n for n in self.namespaces}

    @cached_property
    def node_by_name(self) -> dict[str, r.Node]:
        return {n.meta.name: n for n in self.nodes}

    @cached_property
    def pv_by_name(self) -> dict[str, r.PersistentVolume]:
        return {p.meta.name: p for p in self.pvs}

    @cached_property
    def pvc_by_key(self) -> dict[tuple[str, str], r.PersistentVolumeClaim]:
        return {(p.meta.namespace or "", p.meta.name): p for p in self.pvcs}

    @cached_property
    def pods_by_namespace(self) -> dict[str, tuple[r.Pod, ...]]:
        return _group(self.pods, lambda p: p.meta.namespace or "")

    @cached_property
    def pods_by_claim(self) -> dict[tuple[str, str], tuple[r.Pod, ...]]:
        """Pods that mount each PVC, keyed by (namespace, claim name)."""
        index: dict[tuple[str, str], list[r.Pod]] = defaultdict(list)
        for pod in self.pods:
            for volume in pod.volumes:
                if volume.claim_name:
                    index[(pod.meta.namespace or "", volume.claim_name)].append(pod)
        return {k: tuple(v) for k, v in index.items()}

    @cached_property
    def workloads_by_namespace(self) -> dict[str, tuple[r.Workload, ...]]:
        return _group(self.workloads, lambda w: w.meta.namespace or "")

    @cached_property
    def storage_class_by_name(self) -> dict[str, r.StorageClass]:
        return {s.meta.name: s for s in self.storage_classes}

    @cached_property
    def schedule_by_key(self) -> dict[tuple[str, str], velero.Schedule]:
        return {(s.meta.namespace or "", s.meta.name): s for s in self.schedules}

    @cached_property
    def backups_by_schedule(self) -> dict[tuple[str, str], tuple[velero.Backup, ...]]:
        """Backups per (namespace, schedule), newest first (by creation, then name)."""
        grouped = _group((b for b in self.backups if b.schedule), lambda b: (b.meta.namespace or "", b.schedule or ""))
        return {k: tuple(sorted(v, key=_backup_sort_key, reverse=True)) for k, v in grouped.items()}

    @cached_property
    def backup_by_key(self) -> dict[tuple[str, str], velero.Backup]:
        return {(b.meta.namespace or "", b.meta.name): b for b in self.backups}

    @cached_property
    def pvbs_by_backup(self) -> dict[tuple[str, str], tuple[velero.PodVolumeBackup, ...]]:
        return _group(self.pod_volume_backups, lambda p: (p.meta.namespace or "", p.backup or ""))

    @cached_property
    def data_uploads_by_backup(self) -> dict[tuple[str, str], tuple[velero.DataUpload, ...]]:
        return _group(self.data_uploads, lambda d: (d.meta.namespace or "", d.backup or ""))

    @cached_property
    def config_map_by_key(self) -> dict[tuple[str, str], r.ConfigMap]:
        return {(c.meta.namespace or "", c.meta.name): c for c in self.config_maps}

    @cached_property
    def secret_by_key(self) -> dict[tuple[str, str], r.Secret]:
        return {(s.meta.namespace or "", s.meta.name): s for s in self.secrets}

    @cached_property
    def snapshot_classes_by_driver(self) -> dict[str, tuple[csi.VolumeSnapshotClass, ...]]:
        return _group(self.volume_snapshot_classes, lambda c: c.driver)

    @cached_property
    def volume_snapshots_by_claim(self) -> dict[tuple[str, str], tuple[csi.VolumeSnapshot, ...]]:
        return _group((s for s in self.volume_snapshots if s.source_pvc),
                      lambda s: (s.meta.namespace or "", s.source_pvc or ""))


#: Inventory's own fields; any other record field is a backup tool's, kept in ``tool_records``.
CORE_FIELDS = frozenset(f.name for f in fields(Inventory))


def _backup_sort_key(b: velero.Backup) -> tuple[str, str]:
    created = b.meta.created.isoformat() if b.meta.created else ""
    return (created, b.meta.name)


def _group(items: Any, key: Any) -> dict[Any, tuple[Any, ...]]:
    out: dict[Any, list[Any]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return {k: tuple(v) for k, v in out.items()}
