"""Slim, immutable records of the objects the analysis needs.

A record keeps only the fields some analysis reads, never a whole raw object: at 20,000 PVCs and
100,000 PodVolumeBackups the difference is hundreds of megabytes. Secret records never carry a value.
Mappings inside records are treated as read-only by convention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class OwnerRef:
    kind: str
    name: str
    controller: bool = False


@dataclass(frozen=True, slots=True)
class Meta:
    """Metadata shared by every record."""

    name: str
    namespace: str | None = None
    uid: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None
    deleting: bool = False
    owners: tuple[OwnerRef, ...] = ()

    @property
    def key(self) -> str:
        """``namespace/name`` for namespaced objects, ``name`` otherwise."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


# --- core ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Namespace:
    meta: Meta
    phase: str | None = None


@dataclass(frozen=True, slots=True)
class Node:
    meta: Meta
    ready: bool | None = None


@dataclass(frozen=True, slots=True)
class VolumeSource:
    """What backs a volume: the source type name plus the details volume policies match on."""

    type: str  # Velero's volumeTypes names: csi, nfs, hostPath, local, emptyDir, persistentVolumeClaim...
    csi_driver: str | None = None
    csi_attributes: dict[str, str] = field(default_factory=dict)
    nfs_server: str | None = None
    nfs_path: str | None = None


@dataclass(frozen=True, slots=True)
class PersistentVolume:
    meta: Meta
    source: VolumeSource
    storage_class: str | None
    capacity_bytes: int | None
    claim_namespace: str | None
    claim_name: str | None
    phase: str | None
    reclaim_policy: str | None
    volume_mode: str | None


@dataclass(frozen=True, slots=True)
class PersistentVolumeClaim:
    meta: Meta
    storage_class: str | None
    volume_name: str | None
    phase: str | None
    volume_mode: str | None
    access_modes: tuple[str, ...]
    requested_bytes: int | None


@dataclass(frozen=True, slots=True)
class PodVolume:
    name: str
    source: VolumeSource
    claim_name: str | None = None  # for persistentVolumeClaim volumes


@dataclass(frozen=True, slots=True)
class EnvLiteral:
    """A container env var with an inline value: only its name and what kind of value it is are kept
    (``reference``: a path, file or plain URL; ``credential``: the value itself is a key; ``text``)."""

    container: str
    name: str
    value_kind: str = "text"


@dataclass(frozen=True, slots=True)
class Pod:
    meta: Meta
    phase: str | None
    node_name: str | None
    ready: bool
    volumes: tuple[PodVolume, ...]
    mounted: frozenset[str]  # volume names mounted (volumeMounts) by any container
    block_devices: frozenset[str]  # volume names used as block devices (volumeDevices)
    env_literals: tuple[EnvLiteral, ...] = ()


@dataclass(frozen=True, slots=True)
class Workload:
    """Deployment, StatefulSet, DaemonSet or CronJob: what runs, and whether it is healthy."""

    kind: str
    meta: Meta
    replicas: int | None  # desired (Deployment/StatefulSet) or desiredNumberScheduled (DaemonSet)
    ready: int | None  # ready/available replicas, numberReady for DaemonSets
    suspended: bool = False
    args: tuple[str, ...] = ()  # all container commands+args, flattened (Velero server flags live here)
    images: tuple[str, ...] = ()
    service_account: str | None = None
    pod_labels: dict[str, str] = field(default_factory=dict)
    volume_claim_templates: tuple[str, ...] = ()
    secret_volumes: tuple[str, ...] = ()  # Secrets the pod template mounts (Velero's cloud credentials)
    init_images: tuple[str, ...] = ()  # initContainers' images (Velero's plugins live there)


@dataclass(frozen=True, slots=True)
class StorageClass:
    meta: Meta
    provisioner: str
    is_default: bool


@dataclass(frozen=True, slots=True)
class CSIDriver:
    meta: Meta


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    meta: Meta


@dataclass(frozen=True, slots=True)
class PolicyRule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Role:
    kind: str  # Role | ClusterRole
    meta: Meta
    rules: tuple[PolicyRule, ...]
    aggregation_selectors: tuple[dict[str, str], ...] = ()  # matchLabels of aggregationRule


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str
    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class RoleBinding:
    kind: str  # RoleBinding | ClusterRoleBinding
    meta: Meta
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]


@dataclass(frozen=True, slots=True)
class Secret:
    """A Secret's metadata. Values are dropped at the source; see ``fingerprints``."""

    meta: Meta
    type: str | None
    keys: tuple[str, ...]
    updated: tuple[datetime, ...] = ()  # managedFields update times (rotation evidence)
    fingerprints: dict[str, str] = field(default_factory=dict)  # key -> keyed fingerprint (credentials only)
    classes: dict[str, str] = field(default_factory=dict)  # key -> classification (credentials only)


@dataclass(frozen=True, slots=True)
class ConfigMap:
    """ConfigMaps of the backup namespace only (resource policies live there)."""

    meta: Meta
    data: dict[str, str]


# --- CSI snapshots ------------------------------------------------------------------------------


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


# --- Velero -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelSelector:
    match_labels: dict[str, str] = field(default_factory=dict)
    expressions: tuple[LabelRequirement, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """metav1.LabelSelector semantics: every matchLabel and every expression must hold."""
        for key, value in self.match_labels.items():
            if labels.get(key) != value:
                return False
        for req in self.expressions:
            present = req.key in labels
            if req.operator == "In":
                if not present or labels[req.key] not in req.values:
                    return False
            elif req.operator == "NotIn":
                if present and labels[req.key] in req.values:
                    return False
            elif req.operator == "Exists":
                if not present:
                    return False
            elif req.operator == "DoesNotExist":
                if present:
                    return False
            else:
                return False
        return True


@dataclass(frozen=True, slots=True)
class BackupSpec:
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
    annotations: dict[str, str] = field(default_factory=dict)  # template/backup annotations (CSI class per driver)


@dataclass(frozen=True, slots=True)
class Backup:
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


@dataclass(frozen=True, slots=True)
class Schedule:
    meta: Meta
    cron: str
    template: BackupSpec
    paused: bool
    phase: str | None
    last_backup: datetime | None
    validation_errors: tuple[str, ...]
    use_owner_references: bool = False


@dataclass(frozen=True, slots=True)
class BackupStorageLocation:
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


@dataclass(frozen=True, slots=True)
class VolumeSnapshotLocation:
    meta: Meta
    provider: str | None
    config: dict[str, str]
    credential_name: str | None
    credential_key: str | None
    phase: str | None


@dataclass(frozen=True, slots=True)
class PodVolumeBackup:
    meta: Meta
    backup: str | None  # velero.io/backup-name
    pod_namespace: str | None
    pod_name: str | None
    volume: str | None
    pvc_uid: str | None
    pvc_name: str | None
    node: str | None
    phase: str | None
    completed: datetime | None
    message: str | None


@dataclass(frozen=True, slots=True)
class DataUpload:
    meta: Meta
    backup: str | None
    source_namespace: str | None
    source_pvc: str | None
    phase: str | None
    completed: datetime | None
    message: str | None


@dataclass(frozen=True, slots=True)
class BackupRepository:
    meta: Meta
    volume_namespace: str | None
    storage_location: str | None
    repository_type: str | None
    phase: str | None
    last_maintenance: datetime | None


@dataclass(frozen=True, slots=True)
class Restore:
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


# --- etcd snapshots -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EtcdSnapshot:
    """One etcd snapshot the scan can see: a k3s/RKE2 ``ETCDSnapshotFile`` (cluster-scoped) or a manifest the
    auditor's executor wrote beside its snapshot (``source`` says which; ``location`` where the file is)."""

    meta: Meta
    source: str  # "k3s" (ETCDSnapshotFile) or "executor" (our .json manifest)
    snapshot_name: str
    node_name: str | None
    location: str | None
    created: datetime | None  # status.creationTime / the manifest's taken_at
    ready: bool | None  # status.readyToUse; a manifest exists only for a verified snapshot
    error: str | None = None
    size_bytes: int | None = None

