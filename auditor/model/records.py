"""Slim, immutable records of the objects the analysis needs.

A record keeps only the fields some analysis reads, never a whole raw object: at 20,000 PVCs and
100,000 PodVolumeBackups the difference is hundreds of megabytes. Secret records never carry a value.
Mappings inside records are treated as read-only by convention.

Records are frozen ``msgspec.Struct`` types, here and in each backup tool's module (``model/tools``):
constructing one is several times cheaper than a frozen dataclass, which matters at 230,000 records per
scan, and ``gc=False`` (a record never takes part in a reference cycle) keeps them out of the cyclic
collector's lists and 16 bytes smaller each. Derive a changed record with ``msgspec.structs.replace``.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class OwnerRef(msgspec.Struct, frozen=True, gc=False):
    kind: str
    name: str
    controller: bool = False


class Meta(msgspec.Struct, frozen=True, gc=False):
    """Metadata shared by every record."""

    name: str
    namespace: str | None = None
    uid: str | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    created: datetime | None = None
    deleting: bool = False
    owners: tuple[OwnerRef, ...] = ()

    @property
    def key(self) -> str:
        """``namespace/name`` for namespaced objects, ``name`` otherwise."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


# --- core ---------------------------------------------------------------------------------------


class Namespace(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    phase: str | None = None


class Node(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    ready: bool | None = None


class VolumeSource(msgspec.Struct, frozen=True, gc=False):
    """What backs a volume: the source type name plus the details volume policies match on."""

    type: str  # Velero's volumeTypes names: csi, nfs, hostPath, local, emptyDir, persistentVolumeClaim...
    csi_driver: str | None = None
    csi_attributes: dict[str, str] = msgspec.field(default_factory=dict)
    nfs_server: str | None = None
    nfs_path: str | None = None


class PersistentVolume(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    source: VolumeSource
    storage_class: str | None
    capacity_bytes: int | None
    claim_namespace: str | None
    claim_name: str | None
    phase: str | None
    reclaim_policy: str | None
    volume_mode: str | None


class PersistentVolumeClaim(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    storage_class: str | None
    volume_name: str | None
    phase: str | None
    volume_mode: str | None
    access_modes: tuple[str, ...]
    requested_bytes: int | None


class PodVolume(msgspec.Struct, frozen=True, gc=False):
    name: str
    source: VolumeSource
    claim_name: str | None = None  # for persistentVolumeClaim volumes


class EnvLiteral(msgspec.Struct, frozen=True, gc=False):
    """A container env var with an inline value: only its name and what kind of value it is are kept
    (``reference``: a path, file or plain URL; ``credential``: the value itself is a key; ``text``)."""

    container: str
    name: str
    value_kind: str = "text"


class Pod(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    phase: str | None
    node_name: str | None
    ready: bool
    volumes: tuple[PodVolume, ...]
    #: volume names mounted (volumeMounts) by any container, each once (a tuple: 90 bytes where a frozenset
    #: takes 216, at a few names per pod as fast for ``in``)
    mounted: tuple[str, ...]
    block_devices: tuple[str, ...]  # volume names used as block devices (volumeDevices), each once
    env_literals: tuple[EnvLiteral, ...] = ()


class Workload(msgspec.Struct, frozen=True, gc=False):
    """Deployment, StatefulSet, DaemonSet or CronJob: what runs, and whether it is healthy."""

    kind: str
    meta: Meta
    replicas: int | None  # desired (Deployment/StatefulSet) or desiredNumberScheduled (DaemonSet)
    ready: int | None  # ready/available replicas, numberReady for DaemonSets
    suspended: bool = False
    args: tuple[str, ...] = ()  # all container commands+args, flattened (Velero server flags live here)
    images: tuple[str, ...] = ()
    service_account: str | None = None
    pod_labels: dict[str, str] = msgspec.field(default_factory=dict)
    volume_claim_templates: tuple[str, ...] = ()
    secret_volumes: tuple[str, ...] = ()  # Secrets the pod template mounts (Velero's cloud credentials)
    init_images: tuple[str, ...] = ()  # initContainers' images (Velero's plugins live there)


class StorageClass(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    provisioner: str
    is_default: bool


class CSIDriver(msgspec.Struct, frozen=True, gc=False):
    meta: Meta


class ServiceAccount(msgspec.Struct, frozen=True, gc=False):
    meta: Meta


class PolicyRule(msgspec.Struct, frozen=True, gc=False):
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...]


class Role(msgspec.Struct, frozen=True, gc=False):
    kind: str  # Role | ClusterRole
    meta: Meta
    rules: tuple[PolicyRule, ...]
    aggregation_selectors: tuple[dict[str, str], ...] = ()  # matchLabels of aggregationRule


class Subject(msgspec.Struct, frozen=True, gc=False):
    kind: str
    name: str
    namespace: str | None = None


class RoleBinding(msgspec.Struct, frozen=True, gc=False):
    kind: str  # RoleBinding | ClusterRoleBinding
    meta: Meta
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]


class Secret(msgspec.Struct, frozen=True, gc=False):
    """A Secret's metadata. Values are dropped at the source; see ``fingerprints``."""

    meta: Meta
    type: str | None
    keys: tuple[str, ...]
    updated: tuple[datetime, ...] = ()  # managedFields update times (rotation evidence)
    fingerprints: dict[str, str] = msgspec.field(default_factory=dict)  # key -> keyed fingerprint (credentials only)
    classes: dict[str, str] = msgspec.field(default_factory=dict)  # key -> classification (credentials only)


class ConfigMap(msgspec.Struct, frozen=True, gc=False):
    """ConfigMaps of the backup namespace only (resource policies live there)."""

    meta: Meta
    data: dict[str, str]


# --- label selectors (Velero's and the other tools' scopes) -----------------------------------


class LabelRequirement(msgspec.Struct, frozen=True, gc=False):
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


class LabelSelector(msgspec.Struct, frozen=True, gc=False):
    match_labels: dict[str, str] = msgspec.field(default_factory=dict)
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
