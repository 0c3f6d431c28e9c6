"""Real-shaped Kubernetes objects (as ``kubectl get -o json`` prints them) for table-driven tests.

Each factory returns a plain dict; keyword arguments override the common fields. ``inventory(*objs)``
turns them into an Inventory through the same path a dump takes.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.collect.builder import InventoryBuilder
from auditor.collect.dump import add_object
from auditor.model.inventory import Inventory

AS_OF = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
VELERO_NS = "velero"


def ts(hours_ago: float = 0.0) -> str:
    return (AS_OF - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None,
          annotations: dict[str, str] | None = None, created_hours_ago: float = 24 * 30) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{namespace}/{name}")),
                            "resourceVersion": "1", "creationTimestamp": ts(created_hours_ago)}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return meta


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, labels=labels),
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": _meta(name),
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def storage_class(name: str = "ceph-rbd", provisioner: str = "rbd.csi.ceph.com",
                  default: bool = False) -> dict[str, Any]:
    ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else None
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": _meta(name, annotations=ann),
            "provisioner": provisioner, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}


def snapshot_class(name: str = "ceph-snap", driver: str = "rbd.csi.ceph.com", labels: dict[str, str] | None = None,
                   annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": _meta(name, labels=labels, annotations=annotations), "driver": driver,
            "deletionPolicy": "Retain"}


def pv(name: str, claim_ns: str, claim: str, *, source: str = "csi", driver: str = "rbd.csi.ceph.com",
       storage_class_name: str = "ceph-rbd", size: str = "10Gi", volume_mode: str = "Filesystem") -> dict[str, Any]:
    spec: dict[str, Any] = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                            "persistentVolumeReclaimPolicy": "Delete", "storageClassName": storage_class_name,
                            "volumeMode": volume_mode,
                            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": claim_ns, "name": claim}}
    if source == "csi":
        spec["csi"] = {"driver": driver, "volumeHandle": f"{name}-handle", "fsType": "ext4"}
    elif source == "hostPath":
        spec["hostPath"] = {"path": f"/var/lib/local-path/{name}", "type": "DirectoryOrCreate"}
    elif source == "nfs":
        spec["nfs"] = {"server": "nfs.example.internal", "path": f"/exports/{name}"}
    elif source == "awsElasticBlockStore":
        spec["awsElasticBlockStore"] = {"volumeID": f"vol-{name}", "fsType": "ext4"}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": _meta(name), "spec": spec,
            "status": {"phase": "Bound"}}


def pvc(name: str, ns: str, *, volume: str | None = None, storage_class_name: str | None = "ceph-rbd",
        phase: str = "Bound", labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
        size: str = "10Gi", access_modes: tuple[str, ...] = ("ReadWriteOnce",)) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": list(access_modes), "resources": {"requests": {"storage": size}},
                            "volumeMode": "Filesystem"}
    if storage_class_name:
        spec["storageClassName"] = storage_class_name
    if volume and phase == "Bound":
        spec["volumeName"] = volume
    status: dict[str, Any] = {"phase": phase}
    if phase == "Bound":
        status.update(accessModes=list(access_modes), capacity={"storage": size})
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": _meta(name, ns, labels=labels, annotations=annotations), "spec": spec, "status": status}


def pod(name: str, ns: str, claims: dict[str, str] | None = None, *, phase: str = "Running", node_name: str = "node-a",
        labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
        mounted: bool = True, extra_volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``claims`` maps pod volume name -> PVC name."""
    claims = claims or {}
    volumes = [{"name": v, "persistentVolumeClaim": {"claimName": c}} for v, c in claims.items()]
    volumes += extra_volumes or []
    mounts = [{"name": v["name"], "mountPath": f"/data/{v['name']}"} for v in volumes] if mounted else []
    ready = phase == "Running"
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, ns, labels=labels, annotations=annotations),
        "spec": {"nodeName": node_name if phase != "Pending" else None, "volumes": volumes,
                 "containers": [{"name": "app", "image": "example/app:1", "volumeMounts": mounts}]},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def velero_deployment(args: list[str] | None = None, ready: int = 1) -> dict[str, Any]:
    args = args if args is not None else ["server", "--features=EnableCSI", "--uploader-type=kopia"]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": _meta("velero", VELERO_NS, labels={"component": "velero"}),
            "spec": {"replicas": 1, "template": {"metadata": {"labels": {"name": "velero"}}, "spec": {
                "serviceAccountName": "velero",
                "containers": [{"name": "velero", "image": "velero/velero:v1.18.1", "command": ["/velero"],
                                "args": args}]}}},
            "status": {"replicas": 1, "readyReplicas": ready, "availableReplicas": ready}}


def node_agent(nodes: tuple[str, ...] = ("node-a", "node-b")) -> list[dict[str, Any]]:
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
          "metadata": _meta("node-agent", VELERO_NS, labels={"component": "velero"}),
          "spec": {"template": {"metadata": {"labels": {"name": "node-agent"}}, "spec": {
              "containers": [{"name": "node-agent", "image": "velero/velero:v1.18.1",
                              "args": ["node-agent", "server"]}]}}},
          "status": {"desiredNumberScheduled": len(nodes), "numberReady": len(nodes)}}
    pods = [pod(f"node-agent-{n}", VELERO_NS, node_name=n, labels={"name": "node-agent"}) for n in nodes]
    return [ds, *pods]


def bsl(name: str = "default", **spec: Any) -> dict[str, Any]:
    body = {"provider": "aws", "objectStorage": {"bucket": "backups", "prefix": "cluster"},
            "config": {"region": "eu-west-1"}, "default": True, **spec}
    return {"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation", "metadata": _meta(name, VELERO_NS),
            "spec": body, "status": {"phase": "Available", "lastValidationTime": ts(0.1)}}


def schedule(name: str, *, cron: str = "0 2 * * *", paused: bool = False, phase: str = "Enabled",
             **template: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"schedule": cron, "template": {"ttl": "720h0m0s", **template}}
    if paused:
        spec["paused"] = True
    return {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": _meta(name, VELERO_NS),
            "spec": spec, "status": {"phase": phase}}


def backup(name: str, *, schedule_name: str | None = None, phase: str = "Completed", hours_ago: float = 1.0,
           duration_h: float = 0.1, status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    labels = {"velero.io/storage-location": "default"}
    if schedule_name:
        labels["velero.io/schedule-name"] = schedule_name
    st: dict[str, Any] = {"phase": phase, "startTimestamp": ts(hours_ago), "formatVersion": "1.1.0",
                          "expiration": ts(hours_ago - 720)}
    if phase in ("Completed", "PartiallyFailed", "Failed"):
        st["completionTimestamp"] = ts(hours_ago - duration_h)
    st.update(status or {})
    return {"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": _meta(name, VELERO_NS, labels=labels, created_hours_ago=hours_ago),
            "spec": {"ttl": "720h0m0s", "storageLocation": "default", **spec}, "status": st}


def pod_volume_backup(name: str, backup_name: str, pod_ns: str, pod_name: str, volume: str, pvc_name: str,
                      phase: str = "Completed") -> dict[str, Any]:
    return {"apiVersion": "velero.io/v1", "kind": "PodVolumeBackup",
            "metadata": _meta(name, VELERO_NS, labels={"velero.io/backup-name": backup_name},
                              annotations={"velero.io/pvc-name": pvc_name}),
            "spec": {"node": "node-a", "pod": {"kind": "Pod", "namespace": pod_ns, "name": pod_name},
                     "volume": volume, "backupStorageLocation": "default", "uploaderType": "kopia"},
            "status": {"phase": phase, "completionTimestamp": ts(0.5)}}


def config_map(name: str, data: dict[str, str], ns: str = VELERO_NS) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, ns), "data": data}


def inventory(*objects: Any, cluster: str = "test") -> Inventory:
    builder = InventoryBuilder(cluster, "test")
    for obj in objects:
        for item in obj if isinstance(obj, list) else [obj]:
            add_object(builder, copy.deepcopy(item), "test")
    return builder.build()


def base_cluster() -> list[dict[str, Any]]:
    """A Velero install with CSI enabled, node-agent on node-a and node-b, one CSI class."""
    return [namespace(VELERO_NS), node("node-a"), node("node-b"), node("node-c"), velero_deployment(),
            *node_agent(), bsl(), storage_class(default=True),
            snapshot_class(labels={"velero.io/csi-volumesnapshot-class": "true"})]


def secret(name: str, ns: str = VELERO_NS, data: dict[str, str] | None = None, created_hours_ago: float = 24 * 10,
           updated_hours_ago: float | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """``data`` values are plain text here; they are base64-encoded as the API serves them."""
    import base64

    meta = _meta(name, ns, annotations=annotations, created_hours_ago=created_hours_ago)
    if updated_hours_ago is not None:
        meta["managedFields"] = [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                                  "time": ts(updated_hours_ago), "fieldsType": "FieldsV1", "fieldsV1": {}}]
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in (data or {}).items()}}


AWS_KEY = "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG\n"


def service_account(name: str = "velero", ns: str = VELERO_NS,
                    annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, ns, annotations=annotations)}


def cluster_role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None,
                 aggregate: list[dict[str, str]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                           "metadata": _meta(name, labels=labels), "rules": rules}
    if aggregate is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": m} for m in aggregate]}
    return obj


def role(name: str, ns: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(name, ns), "rules": rules}


def binding(name: str, role_name: str, subjects: list[dict[str, str]], *, ns: str | None = None,
            role_kind: str = "ClusterRole") -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding" if ns else "ClusterRoleBinding",
            "metadata": _meta(name, ns), "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                                                      "name": role_name}, "subjects": subjects}


def restore(name: str, backup_name: str, hours_ago: float, phase: str = "Completed") -> dict[str, Any]:
    return {"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": _meta(name, VELERO_NS,
                                                                                created_hours_ago=hours_ago + 1),
            "spec": {"backupName": backup_name, "namespaceMapping": {"shop": "shop-drill"}},
            "status": {"phase": phase, "startTimestamp": ts(hours_ago + 0.5), "completionTimestamp": ts(hours_ago)}}
