"""The resources a scan reads: one table shared by the live source, the dump reader and the dump writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditor.collect import slim
from auditor.collect.fields import FieldReader


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """One API resource: where it lives, how to slim it and which inventory field holds it."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    field: str  # Inventory attribute the records go to
    slim: Callable[[FieldReader], Any]
    backup_namespace_only: bool = False  # read only in the backup system's namespace (ConfigMaps)
    by_name: bool = False  # never listed: read one by one by name (credential Secrets, see live.py)
    optional: bool = False  # a group that many clusters do not serve (CRDs)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """``plural.group``, the name kubectl and RBAC use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def list_path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}/namespaces/{namespace}/{self.plural}" if namespace else f"{base}/{self.plural}"


def _k(group: str, version: str, plural: str, kind: str, namespaced: bool, field: str,
       fn: Callable[[FieldReader], Any], **kw: Any) -> ResourceKind:
    return ResourceKind(group, version, plural, kind, namespaced, field, fn, **kw)


VELERO = "velero.io"
SNAPSHOT = "snapshot.storage.k8s.io"
K8UP = "k8up.io"
KUBESTASH_CORE = "core.kubestash.com"
KUBESTASH_STORAGE = "storage.kubestash.com"
K3S = "k3s.cattle.io"

#: Read in this order: the backup catalogs first, so the backup namespace is known before ConfigMaps.
KINDS: tuple[ResourceKind, ...] = (
    _k(VELERO, "v1", "backupstoragelocations", "BackupStorageLocation", True, "bsls", slim.backup_storage_location,
       optional=True),
    _k(VELERO, "v1", "volumesnapshotlocations", "VolumeSnapshotLocation", True, "vsls", slim.volume_snapshot_location,
       optional=True),
    _k(VELERO, "v1", "schedules", "Schedule", True, "schedules", slim.schedule, optional=True),
    _k(VELERO, "v1", "backups", "Backup", True, "backups", slim.backup, optional=True),
    _k(VELERO, "v1", "podvolumebackups", "PodVolumeBackup", True, "pod_volume_backups", slim.pod_volume_backup,
       optional=True),
    _k(VELERO, "v2alpha1", "datauploads", "DataUpload", True, "data_uploads", slim.data_upload, optional=True),
    _k(VELERO, "v1", "backuprepositories", "BackupRepository", True, "backup_repositories", slim.backup_repository,
       optional=True),
    _k(VELERO, "v1", "restores", "Restore", True, "restores", slim.restore, optional=True),
    _k(K8UP, "v1", "schedules", "Schedule", True, "k8up_schedules", slim.k8up_schedule, optional=True),
    _k(K8UP, "v1", "backups", "Backup", True, "k8up_backups", slim.k8up_backup, optional=True),
    _k(K8UP, "v1", "snapshots", "Snapshot", True, "k8up_snapshots", slim.k8up_snapshot, optional=True),
    _k(KUBESTASH_CORE, "v1alpha1", "backupconfigurations", "BackupConfiguration", True,
       "kubestash_backup_configurations", slim.kubestash_backup_configuration, optional=True),
    _k(KUBESTASH_CORE, "v1alpha1", "backupsessions", "BackupSession", True, "kubestash_backup_sessions",
       slim.kubestash_backup_session, optional=True),
    _k(KUBESTASH_STORAGE, "v1alpha1", "backupstorages", "BackupStorage", True, "kubestash_backup_storages",
       slim.kubestash_backup_storage, optional=True),
    _k(KUBESTASH_STORAGE, "v1alpha1", "repositories", "Repository", True, "kubestash_repositories",
       slim.kubestash_repository, optional=True),
    _k(K3S, "v1", "etcdsnapshotfiles", "ETCDSnapshotFile", False, "etcd_snapshots", slim.etcd_snapshot_file,
       optional=True),
    _k(SNAPSHOT, "v1", "volumesnapshotclasses", "VolumeSnapshotClass", False, "volume_snapshot_classes",
       slim.volume_snapshot_class, optional=True),
    _k(SNAPSHOT, "v1", "volumesnapshots", "VolumeSnapshot", True, "volume_snapshots", slim.volume_snapshot,
       optional=True),
    _k(SNAPSHOT, "v1", "volumesnapshotcontents", "VolumeSnapshotContent", False, "volume_snapshot_contents",
       slim.volume_snapshot_content, optional=True),
    _k("", "v1", "namespaces", "Namespace", False, "namespaces", slim.namespace),
    _k("", "v1", "nodes", "Node", False, "nodes", slim.node),
    _k("", "v1", "persistentvolumes", "PersistentVolume", False, "pvs", slim.persistent_volume),
    _k("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, "pvcs", slim.persistent_volume_claim),
    _k("", "v1", "pods", "Pod", True, "pods", slim.pod),
    _k("", "v1", "serviceaccounts", "ServiceAccount", True, "service_accounts", slim.service_account),
    _k("", "v1", "secrets", "Secret", True, "secrets", slim.secret, by_name=True),
    _k("", "v1", "configmaps", "ConfigMap", True, "config_maps", slim.config_map, backup_namespace_only=True),
    _k("apps", "v1", "deployments", "Deployment", True, "workloads", slim.workload),
    _k("apps", "v1", "statefulsets", "StatefulSet", True, "workloads", slim.workload),
    _k("apps", "v1", "daemonsets", "DaemonSet", True, "workloads", slim.workload),
    _k("batch", "v1", "cronjobs", "CronJob", True, "workloads", slim.workload),
    _k("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, "storage_classes", slim.storage_class),
    _k("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False, "csi_drivers", slim.csi_driver),
    _k("rbac.authorization.k8s.io", "v1", "roles", "Role", True, "roles", slim.role),
    _k("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, "roles", slim.role),
    _k("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, "role_bindings", slim.role_binding),
    _k("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, "role_bindings",
       slim.role_binding),
)

#: (group, kind) → resource, for reading dumps where objects carry apiVersion and kind.
BY_GROUP_KIND: dict[tuple[str, str], ResourceKind] = {(k.group, k.kind): k for k in KINDS}


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""
