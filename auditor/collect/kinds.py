"""The resources a scan reads: one table shared by the live source, the dump reader and the dump writer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditor.collect import decode, slim, tools
from auditor.collect.fields import FieldReader
from auditor.collect.resource import ResourceKind

__all__ = ["BY_GROUP_KIND", "KINDS", "TYPED", "ResourceKind", "group_of"]


def _k(group: str, version: str, plural: str, kind: str, namespaced: bool, field: str,
       fn: Callable[[FieldReader], Any], **kw: Any) -> ResourceKind:
    return ResourceKind(group, version, plural, kind, namespaced, field, fn, **kw)


#: Read in this order: the backup tools' catalogs first (``collect/tools``), so the backup namespace is known
#: before ConfigMaps; then the core kinds.
KINDS: tuple[ResourceKind, ...] = (
    *(k for tool in tools.TOOLS for k in tool.kinds),
    _k("", "v1", "namespaces", "Namespace", False, "namespaces", slim.namespace),
    _k("", "v1", "nodes", "Node", False, "nodes", slim.node),
    _k("", "v1", "persistentvolumes", "PersistentVolume", False, "pvs", slim.persistent_volume,
       typed=decode.PERSISTENT_VOLUMES),
    _k("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, "pvcs", slim.persistent_volume_claim,
       typed=decode.PERSISTENT_VOLUME_CLAIMS),
    _k("", "v1", "pods", "Pod", True, "pods", slim.pod, typed=decode.PODS),
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


#: (group, kind) → its typed decoding, for the kinds that have one.
TYPED: dict[tuple[str, str], decode.Typed] = {key: k.typed for key, k in BY_GROUP_KIND.items() if k.typed}


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""
