#!/usr/bin/env python3
"""Generate the embedded demo cluster that ``auditor demo`` scans.

The output is deterministic: no wall clock, no randomness. Every "random" name
suffix, UID, hash and size is derived from a SHA-256 of a stable seed string, and every
timestamp is an offset from ``DEMO_AS_OF``. Running the generator twice gives the same bytes;
``tests/test_demo_data.py`` checks that the committed files equal a fresh run.

The demo is a small fleet of two clusters that share one bucket and, by mistake, one cloud key:
``demo-prod`` (big, every coverage and freshness trap) and ``demo-staging`` (small: a read-only
storage location, a schedule naming a location that does not exist, no restore ever, a forbidden list).

What it writes (default root: ``auditor/demo``):

* ``clusters/<cluster>/<group>.json``: one ``kubectl get <kinds> -A -o json`` style ``List`` per kind
  group, and ``clusters/<cluster>/.auditor-snapshot.json``, the manifest ``auditor snapshot`` writes
  (cluster name, server version, collection time, what could not be read);
* ``catalog/backups/<b>/...``: a local copy of demo-prod's default BackupStorageLocation prefix,
  laid out like Velero's bucket (velero-backup.json, -volumeinfo.json.gz, -results.gz,
  -podvolumebackups.json.gz);
* ``as_of.txt``: the instant the demo is judged at.

``config.yaml`` and ``README.md`` next to them are written by hand.

Usage: ``python scripts/build_demo.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import shutil
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

# The instant the demo is judged at. Every timestamp below is relative to it.
DEMO_AS_OF = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)

CLUSTER_NAME = "demo-prod"
STAGING_NAME = "demo-staging"
# the auditor release that "wrote" the manifests (fixed: the demo must not change with each release)
AUDITOR_VERSION = "0.1.0"
VELERO_NS = "velero"
VELERO_IMAGE = "velero/velero:v1.18.1"
AWS_PLUGIN_IMAGE = "velero/velero-plugin-for-aws:v1.14.1"
K8S_VERSION = "v1.34.2"
BUCKET = "acme-velero-backups"
PREFIX = CLUSTER_NAME
REGION = "eu-west-1"
CEPH_CLUSTER_ID = "b9127830-b0cc-4e34-aa47-9d1a2e9949a8"
RBD_DRIVER = "rbd.csi.ceph.com"
EBS_DRIVER = "ebs.csi.aws.com"
EBS_PROVISIONER_IDENTITY = "1763023468271-6571-ebs.csi.aws.com"
NFS_SERVER = "10.20.0.15"
NFS_BASE = "/srv/nfs/k8s"
GIB = 1024**3
MIB = 1024**2

Obj = dict[str, Any]

MANIFEST = ".auditor-snapshot.json"

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "auditor" / "demo"


# --------------------------------------------------------------------------------------------
# deterministic helpers
# --------------------------------------------------------------------------------------------


def sha(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def det_int(lo: int, hi: int, *seed: object) -> int:
    """A deterministic integer in [lo, hi] derived from ``seed``."""
    return lo + int(sha(*seed)[:12], 16) % (hi - lo + 1)


_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand


def suffix(*seed: object, n: int = 5) -> str:
    digest = sha("suffix", *seed)
    return "".join(_K8S_ALPHABET[int(digest[i * 2 : i * 2 + 2], 16) % len(_K8S_ALPHABET)] for i in range(n))


_UID_NS = uuid.UUID("6f1c2a4e-0d4b-4c1e-9a57-1f0de3e5c0de")


class Current:
    """The cluster being generated: it seeds the UIDs and holds the nodes pods are placed on."""

    cluster: ClassVar[str] = CLUSTER_NAME
    nodes: ClassVar[dict[str, Obj]] = {}
    pod_ip: ClassVar[dict[str, int]] = {}

    @classmethod
    def use(cls, cluster: str, nodes: dict[str, Obj]) -> None:
        cls.cluster = cluster
        cls.nodes = nodes
        cls.pod_ip = {n: 10 for n in nodes}


def make_uid(kind: str, namespace: str | None, name: str) -> str:
    return str(uuid.uuid5(_UID_NS, f"{Current.cluster}/{kind}/{namespace or ''}/{name}"))


def ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return DEMO_AS_OF - timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def go_duration(hours: int) -> str:
    return f"{hours}h0m0s"


def velero_label_value(value: str) -> str:
    """Velero's label.GetValidName: values over 63 chars become 57 chars + 6 sha256 hex chars."""
    if len(value) <= 63:
        return value
    return value[:57] + hashlib.sha256(value.encode()).hexdigest()[:6]


def quantity_gi(n: int) -> str:
    return f"{n}Gi"


# --------------------------------------------------------------------------------------------
# object registry
# --------------------------------------------------------------------------------------------


@dataclass
class Registry:
    """Every generated object, by output file, with the time it was last written."""

    files: dict[str, list[tuple[Obj, datetime]]] = field(default_factory=dict)

    def add(self, group: str, obj: Obj, touched: datetime | None = None) -> Obj:
        created = datetime.strptime(obj["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
        created = created.replace(tzinfo=UTC)
        self.files.setdefault(group, []).append((obj, touched or created))
        return obj

    def all(self) -> Iterable[tuple[Obj, datetime]]:
        for items in self.files.values():
            yield from items

    def find(self, kind: str, namespace: str | None, name: str) -> Obj:
        for obj, _ in self.all():
            m = obj["metadata"]
            if obj["kind"] == kind and m.get("namespace") == namespace and m["name"] == name:
                return obj
        raise KeyError((kind, namespace, name))

    def assign_resource_versions(self, base: int) -> None:
        """etcd revisions grow with time: give later-written objects larger resourceVersions."""
        everything = sorted(
            self.all(),
            key=lambda ot: (
                ot[1],
                ot[0]["apiVersion"],
                ot[0]["kind"],
                ot[0]["metadata"].get("namespace", ""),
                ot[0]["metadata"]["name"],
            ),
        )
        rv = base
        for obj, _ in everything:
            rv += det_int(3, 97, "rv", obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
            obj["metadata"]["resourceVersion"] = str(rv)


def meta(
    kind: str,
    name: str,
    *,
    namespace: str | None = None,
    created: datetime,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: Obj | None = None,
    owner_block: bool = True,
    generation: int | None = None,
    finalizers: list[str] | None = None,
    generate_name: str | None = None,
    uid: str | None = None,
) -> Obj:
    m: Obj = {"name": name}
    if namespace is not None:
        m["namespace"] = namespace
    if generate_name:
        m["generateName"] = generate_name
    m["uid"] = uid or make_uid(kind, namespace, name)
    m["resourceVersion"] = "0"
    m["creationTimestamp"] = ts(created)
    if generation is not None:
        m["generation"] = generation
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if owner is not None:
        ref: Obj = {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
        }
        if owner_block:
            ref["blockOwnerDeletion"] = True
        m["ownerReferences"] = [ref]
    if finalizers:
        m["finalizers"] = list(finalizers)
    return m


def condition(ctype: str, status: str, when: datetime, reason: str | None = None, message: str | None = None) -> Obj:
    c: Obj = {"lastTransitionTime": ts(when), "status": status, "type": ctype}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


# --------------------------------------------------------------------------------------------
# cluster inventory: nodes, namespaces, storage
# --------------------------------------------------------------------------------------------

CLUSTER_BORN = at(2025, 9, 14, 8, 12, 40)

NODES: dict[str, Obj] = {
    "node-a": {"ip": "10.0.1.11", "zone": "eu-west-1a", "cidr": "10.244.0.0/24", "idx": 0},
    "node-b": {"ip": "10.0.1.12", "zone": "eu-west-1b", "cidr": "10.244.1.0/24", "idx": 1},
    "node-c": {"ip": "10.0.1.13", "zone": "eu-west-1c", "cidr": "10.244.2.0/24", "idx": 2},
}

# name -> (created, extra labels, annotations)
NAMESPACES: dict[str, tuple[datetime, dict[str, str], dict[str, str]]] = {
    "default": (CLUSTER_BORN, {}, {}),
    "kube-system": (CLUSTER_BORN, {}, {}),
    "kube-public": (CLUSTER_BORN, {}, {}),
    "kube-node-lease": (CLUSTER_BORN, {}, {}),
    "ceph-csi-rbd": (at(2025, 9, 14, 9, 2, 11), {}, {}),
    "local-path-storage": (at(2025, 9, 14, 9, 4, 37), {}, {}),
    "nfs-provisioner": (at(2025, 9, 14, 9, 6, 3), {}, {}),
    VELERO_NS: (at(2025, 10, 2, 13, 40, 5), {"component": "velero"}, {}),
    "k8up-system": (at(2026, 2, 9, 10, 11, 54), {}, {}),
    "kubestash": (at(2026, 4, 21, 15, 30, 2), {}, {}),
    "monitoring": (at(2025, 9, 20, 11, 0, 15), {"team": "platform"}, {}),
    "shop": (at(2025, 10, 6, 9, 30, 0), {"tier": "1", "team": "commerce"}, {}),
    "wiki": (at(2025, 11, 3, 14, 2, 51), {"team": "it"}, {}),
    "billing": (at(2025, 10, 20, 8, 45, 12), {"team": "finance"}, {"acme.io/data-class": "pci"}),
    "billing-eu": (at(2026, 2, 9, 11, 15, 33), {"team": "finance"}, {"acme.io/data-class": "pci"}),
    "analytics": (at(2026, 1, 12, 10, 5, 9), {"team": "data"}, {}),
    "legacy": (at(2025, 9, 22, 16, 20, 44), {"team": "sales"}, {
        "acme.io/decommission-ticket": "OPS-1184",
        # a waiver on the object itself (the config waives COV-001 for its PVC)
        "backup-auditor.io/exempt": "COV-003",
        "backup-auditor.io/exempt-reason": "being decommissioned in OPS-1184: no new schedule for it",
        "backup-auditor.io/exempt-owner": "sales-ops@acme.example",
        "backup-auditor.io/exempt-expires": "2027-01-31",
    }),
    "staging": (
        at(2025, 12, 1, 9, 0, 0),
        {"team": "commerce", "velero.io/exclude-from-backup": "true"},
        {},
    ),
    "reports": (at(2025, 11, 17, 10, 30, 27), {"team": "finance"}, {}),
    "media": (at(2026, 3, 2, 12, 44, 8), {"team": "marketing"}, {}),
    "ml": (at(2026, 5, 11, 9, 12, 40), {"team": "data"}, {}),
    "search": (at(2026, 6, 8, 8, 1, 17), {"team": "commerce"}, {}),
    "archive": (at(2026, 7, 1, 7, 55, 0), {"team": "it"}, {}),
    "kubestash-demo": (at(2026, 4, 21, 16, 2, 45), {"team": "platform"}, {}),
}


KUBELET_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def kubelet_conditions(heartbeat: datetime, transition: datetime) -> list[dict[str, Any]]:
    """A healthy node's conditions, as the kubelet reports them."""
    return [{"lastHeartbeatTime": ts(heartbeat), "lastTransitionTime": ts(transition), "message": message,
             "reason": reason, "status": status, "type": ctype}
            for ctype, status, reason, message in KUBELET_CONDITIONS]


def node_info(name: str, kernel: str, kubelet: str, os_image: str) -> dict[str, Any]:
    return {
        "architecture": "amd64",
        "bootID": str(uuid.UUID(sha("boot", name)[:32])),
        "containerRuntimeVersion": "containerd://2.1.4",
        "kernelVersion": kernel,
        "kubeProxyVersion": "",
        "kubeletVersion": kubelet,
        "machineID": sha("machine", name)[:32],
        "operatingSystem": "linux",
        "osImage": os_image,
        "systemUUID": "ec2" + str(uuid.UUID(sha("sys", name)[:32]))[3:],
    }


def build_nodes(reg: Registry) -> None:
    for name, info in NODES.items():
        created = CLUSTER_BORN + timedelta(minutes=3 * info["idx"])
        instance = "i-0" + sha("instance", name)[:16]
        obj = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": meta(
                "Node",
                name,
                created=created,
                labels={
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/instance-type": "m6i.2xlarge",
                    "beta.kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "node.kubernetes.io/instance-type": "m6i.2xlarge",
                    "topology.kubernetes.io/region": REGION,
                    "topology.kubernetes.io/zone": info["zone"],
                },
                annotations={
                    "csi.volume.kubernetes.io/nodeid": json.dumps({RBD_DRIVER: name}, separators=(",", ":")),
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            ),
            "spec": {
                "podCIDR": info["cidr"],
                "podCIDRs": [info["cidr"]],
                "providerID": f"aws:///{info['zone']}/{instance}",
            },
            "status": {
                "addresses": [
                    {"address": info["ip"], "type": "InternalIP"},
                    {"address": name, "type": "Hostname"},
                ],
                "allocatable": {
                    "cpu": "7910m",
                    "ephemeral-storage": "93492209510",
                    "hugepages-1Gi": "0",
                    "hugepages-2Mi": "0",
                    "memory": "31683188Ki",
                    "pods": "110",
                },
                "capacity": {
                    "cpu": "8",
                    "ephemeral-storage": "101445540Ki",
                    "hugepages-1Gi": "0",
                    "hugepages-2Mi": "0",
                    "memory": "32310900Ki",
                    "pods": "110",
                },
                "conditions": kubelet_conditions(ago(seconds=41 + info["idx"] * 7), at(2026, 11, 11, 9, 2, 15)),
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": node_info(name, "6.8.0-85-generic", K8S_VERSION, "Ubuntu 24.04.3 LTS"),
            },
        }
        reg.add("nodes", obj, at(2026, 11, 11, 9, 2, 15))


def build_namespaces(reg: Registry) -> None:
    for name, (created, labels, ns_annotations) in NAMESPACES.items():
        obj = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": meta(
                "Namespace",
                name,
                created=created,
                labels={"kubernetes.io/metadata.name": name, **labels},
                annotations=ns_annotations or None,
            ),
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        reg.add("namespaces", obj)


def build_storage(reg: Registry) -> None:
    sc_created = at(2025, 9, 14, 9, 10, 0)
    classes: list[Obj] = [
        {
            "name": "ceph-rbd",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            "provisioner": RBD_DRIVER,
            "parameters": {
                "clusterID": CEPH_CLUSTER_ID,
                "csi.storage.k8s.io/controller-expand-secret-name": "csi-rbd-secret",
                "csi.storage.k8s.io/controller-expand-secret-namespace": "ceph-csi-rbd",
                "csi.storage.k8s.io/fstype": "ext4",
                "csi.storage.k8s.io/node-stage-secret-name": "csi-rbd-secret",
                "csi.storage.k8s.io/node-stage-secret-namespace": "ceph-csi-rbd",
                "csi.storage.k8s.io/provisioner-secret-name": "csi-rbd-secret",
                "csi.storage.k8s.io/provisioner-secret-namespace": "ceph-csi-rbd",
                "imageFeatures": "layering",
                "pool": "replicapool",
            },
            "reclaimPolicy": "Delete",
            "allowVolumeExpansion": True,
            "volumeBindingMode": "Immediate",
        },
        {
            "name": "local-path",
            "annotations": {},
            "provisioner": "rancher.io/local-path",
            "parameters": None,
            "reclaimPolicy": "Delete",
            "allowVolumeExpansion": None,
            "volumeBindingMode": "WaitForFirstConsumer",
        },
        {
            "name": "nfs-client",
            "annotations": {},
            "provisioner": "cluster.local/nfs-subdir-external-provisioner",
            "parameters": {"archiveOnDelete": "true"},
            "reclaimPolicy": "Delete",
            "allowVolumeExpansion": True,
            "volumeBindingMode": "Immediate",
        },
    ]
    for i, sc in enumerate(classes):
        obj: Obj = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": meta(
                "StorageClass",
                sc["name"],
                created=sc_created + timedelta(minutes=i),
                annotations=sc["annotations"] or None,
            ),
            "provisioner": sc["provisioner"],
            "reclaimPolicy": sc["reclaimPolicy"],
            "volumeBindingMode": sc["volumeBindingMode"],
        }
        if sc["parameters"]:
            obj["parameters"] = sc["parameters"]
        if sc["allowVolumeExpansion"] is not None:
            obj["allowVolumeExpansion"] = sc["allowVolumeExpansion"]
        reg.add("storage", obj)

    reg.add(
        "storage",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSIDriver",
            "metadata": meta("CSIDriver", RBD_DRIVER, created=at(2025, 9, 14, 9, 2, 30)),
            "spec": {
                "attachRequired": True,
                "fsGroupPolicy": "File",
                "podInfoOnMount": False,
                "requiresRepublish": False,
                "seLinuxMount": True,
                "storageCapacity": False,
                "volumeLifecycleModes": ["Persistent"],
            },
        },
    )
    # Two classes for the same driver: Velero picks the labelled one before the default-annotated one.
    reg.add(
        "storage",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotClass",
            "metadata": meta(
                "VolumeSnapshotClass",
                "ceph-rbd-snap",
                created=at(2025, 10, 2, 13, 52, 18),
                labels={"velero.io/csi-volumesnapshot-class": "true"},
            ),
            "driver": RBD_DRIVER,
            "deletionPolicy": "Retain",
            "parameters": {
                "clusterID": CEPH_CLUSTER_ID,
                "csi.storage.k8s.io/snapshotter-secret-name": "csi-rbd-secret",
                "csi.storage.k8s.io/snapshotter-secret-namespace": "ceph-csi-rbd",
            },
        },
    )
    reg.add(
        "storage",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotClass",
            "metadata": meta(
                "VolumeSnapshotClass",
                "ceph-rbd-snap-default",
                created=at(2025, 9, 14, 9, 12, 0),
                annotations={"snapshot.storage.kubernetes.io/is-default-class": "true"},
            ),
            "driver": RBD_DRIVER,
            "deletionPolicy": "Delete",
            "parameters": {
                "clusterID": CEPH_CLUSTER_ID,
                "csi.storage.k8s.io/snapshotter-secret-name": "csi-rbd-secret",
                "csi.storage.k8s.io/snapshotter-secret-namespace": "ceph-csi-rbd",
            },
        },
    )


# --------------------------------------------------------------------------------------------
# PVCs and PVs
# --------------------------------------------------------------------------------------------


@dataclass
class Volume:
    namespace: str
    name: str
    storage_class: str
    size_gi: int
    used_bytes: int
    created: datetime
    phase: str = "Bound"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    node: str | None = None  # local-path volumes live on one node
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)
    pvc: Obj = field(default_factory=dict)
    pv: Obj | None = None

    @property
    def pvc_uid(self) -> str:
        return str(self.pvc["metadata"]["uid"])

    @property
    def pv_name(self) -> str:
        assert self.pv is not None
        return str(self.pv["metadata"]["name"])


VOLUMES: dict[tuple[str, str], Volume] = {}


def add_volume(reg: Registry, v: Volume) -> Volume:
    provisioner = {
        "ceph-rbd": RBD_DRIVER,
        "local-path": "rancher.io/local-path",
        "nfs-client": "cluster.local/nfs-subdir-external-provisioner",
        "gp3": EBS_DRIVER,
    }[v.storage_class]
    pvc_uid = make_uid("PersistentVolumeClaim", v.namespace, v.name)
    pv_name = f"pvc-{pvc_uid}"
    bound = v.phase == "Bound"
    annotations = dict(v.annotations)
    annotations["volume.beta.kubernetes.io/storage-provisioner"] = provisioner
    annotations["volume.kubernetes.io/storage-provisioner"] = provisioner
    if bound:
        annotations["pv.kubernetes.io/bind-completed"] = "yes"
        annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
        if v.node:
            annotations["volume.kubernetes.io/selected-node"] = v.node
    spec: Obj = {
        "accessModes": list(v.access_modes),
        "resources": {"requests": {"storage": quantity_gi(v.size_gi)}},
        "storageClassName": v.storage_class,
        "volumeMode": "Filesystem",
    }
    if bound:
        spec["volumeName"] = pv_name
    status: Obj = {"phase": v.phase}
    if bound:
        status = {
            "accessModes": list(v.access_modes),
            "capacity": {"storage": quantity_gi(v.size_gi)},
            "phase": "Bound",
        }
    v.pvc = reg.add(
        "pvcs",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(
                "PersistentVolumeClaim",
                v.name,
                namespace=v.namespace,
                created=v.created,
                labels=v.labels or None,
                annotations=annotations,
                finalizers=["kubernetes.io/pvc-protection"],
                uid=pvc_uid,
            ),
            "spec": spec,
            "status": status,
        },
        v.created + timedelta(seconds=4),
    )
    if bound:
        pv_created = v.created + timedelta(seconds=2)
        pv_spec: Obj = {
            "accessModes": list(v.access_modes),
            "capacity": {"storage": quantity_gi(v.size_gi)},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "name": v.name,
                "namespace": v.namespace,
                "resourceVersion": "0",
                "uid": pvc_uid,
            },
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": v.storage_class,
            "volumeMode": "Filesystem",
        }
        pv_annotations = {"pv.kubernetes.io/provisioned-by": provisioner}
        finalizers = ["kubernetes.io/pv-protection"]
        if v.storage_class == "ceph-rbd":
            image = str(uuid.UUID(sha("rbd-image", v.namespace, v.name)[:32]))
            pv_spec["csi"] = {
                "controllerExpandSecretRef": {"name": "csi-rbd-secret", "namespace": "ceph-csi-rbd"},
                "driver": RBD_DRIVER,
                "fsType": "ext4",
                "nodeStageSecretRef": {"name": "csi-rbd-secret", "namespace": "ceph-csi-rbd"},
                "volumeAttributes": {
                    "clusterID": CEPH_CLUSTER_ID,
                    "imageFeatures": "layering",
                    "imageName": f"csi-vol-{image}",
                    "journalPool": "replicapool",
                    "pool": "replicapool",
                    "storage.kubernetes.io/csiProvisionerIdentity": "1757840631148-2211-rbd.csi.ceph.com",
                },
                "volumeHandle": f"0001-0024-{CEPH_CLUSTER_ID}-0000000000000002-{image}",
            }
            pv_annotations["volume.kubernetes.io/provisioner-deletion-secret-name"] = "csi-rbd-secret"
            pv_annotations["volume.kubernetes.io/provisioner-deletion-secret-namespace"] = "ceph-csi-rbd"
            finalizers.append("external-provisioner.volume.kubernetes.io/finalizer")
        elif v.storage_class == "local-path":
            assert v.node
            pv_spec["hostPath"] = {
                "path": f"/opt/local-path-provisioner/{pv_name}_{v.namespace}_{v.name}",
                "type": "DirectoryOrCreate",
            }
            pv_spec["nodeAffinity"] = {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": [v.node]}
                            ]
                        }
                    ]
                }
            }
            pv_annotations["local.path.provisioner/selected-node"] = v.node
        elif v.storage_class == "gp3":
            assert v.node
            zone = Current.nodes[v.node]["zone"]
            pv_spec["csi"] = {
                "driver": EBS_DRIVER,
                "fsType": "ext4",
                "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": EBS_PROVISIONER_IDENTITY},
                "volumeHandle": "vol-0" + sha("ebs-volume", v.namespace, v.name)[:16],
            }
            pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}
            ]}}
            pv_annotations["volume.kubernetes.io/provisioner-deletion-secret-name"] = ""
            pv_annotations["volume.kubernetes.io/provisioner-deletion-secret-namespace"] = ""
            finalizers += ["external-attacher/ebs-csi-aws-com", "external-provisioner.volume.kubernetes.io/finalizer"]
        else:
            pv_spec["nfs"] = {"path": f"{NFS_BASE}/{v.namespace}-{v.name}-{pv_name}", "server": NFS_SERVER}
        v.pv = reg.add(
            "pvs",
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": meta(
                    "PersistentVolume",
                    pv_name,
                    created=pv_created,
                    annotations=pv_annotations,
                    finalizers=finalizers,
                ),
                "spec": pv_spec,
                "status": {"lastPhaseTransitionTime": ts(pv_created + timedelta(seconds=1)), "phase": "Bound"},
            },
            pv_created + timedelta(seconds=1),
        )
    VOLUMES[(v.namespace, v.name)] = v
    return v


def build_volumes(reg: Registry) -> None:
    vols = [
        Volume("kube-system", "etcd-backup", "local-path", 5, 2_143_289_344, at(2025, 9, 15, 10, 0, 3), node="node-a"),
        Volume("shop", "data-postgres-0", "ceph-rbd", 20, 7_912_554_496, at(2025, 10, 6, 9, 31, 12),
               labels={"app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "shop-db"}),
        Volume("shop", "redis-cache", "ceph-rbd", 2, 412_090_368, at(2025, 10, 6, 9, 35, 40),
               labels={"app": "redis", "velero.io/exclude-from-backup": "true"}),
        Volume("shop", "uploads-pending", "local-path", 10, 0, at(2026, 11, 19, 16, 42, 7), phase="Pending",
               labels={"app": "uploads"}),
        Volume("wiki", "wiki-content", "nfs-client", 5, 1_288_490_188, at(2025, 11, 3, 14, 5, 2),
               labels={"app": "wiki-web"}, access_modes=("ReadWriteMany",)),
        Volume("wiki", "wiki-attachments", "ceph-rbd", 8, 5_637_144_576, at(2025, 11, 3, 14, 5, 9),
               labels={"app": "wiki-attach"}),
        Volume("billing", "ledger-data", "ceph-rbd", 10, 3_221_225_472, at(2025, 10, 20, 8, 50, 1),
               labels={"app": "ledger"}),
        Volume("billing-eu", "eu-ledger", "ceph-rbd", 10, 1_932_735_283, at(2026, 2, 9, 11, 20, 45),
               labels={"app": "ledger-eu"}, annotations={"k8up.io/backup": "true"}),
        Volume("analytics", "spark-scratch", "local-path", 100, 61_203_283_968, at(2026, 1, 12, 10, 8, 30),
               labels={"app": "spark-worker"}, node="node-b"),
        Volume("legacy", "crm-files", "ceph-rbd", 15, 9_771_483_136, at(2025, 9, 22, 16, 25, 0),
               labels={"app": "old-crm"}),
        Volume("staging", "staging-db", "ceph-rbd", 5, 1_073_741_824, at(2025, 12, 1, 9, 3, 11),
               labels={"app": "web"}),
        Volume("reports", "report-archive", "ceph-rbd", 25, 14_495_514_624, at(2025, 11, 17, 10, 33, 2),
               labels={"app": "report-server"}),
        Volume("media", "media-library", "ceph-rbd", 50, 33_285_996_544, at(2026, 3, 2, 12, 50, 14),
               labels={"app": "media"}, annotations={"velero.io/csi-volumesnapshot-class": "ceph-rbd-snap"}),
        Volume("ml", "models", "ceph-rbd", 30, 21_474_836_480, at(2026, 5, 11, 9, 20, 0),
               labels={"app": "model-server"}),
        Volume("search", "es-data-0", "ceph-rbd", 40, 18_790_481_920, at(2026, 6, 8, 8, 5, 55),
               labels={"app": "elasticsearch"}),
        Volume("archive", "cold-storage", "ceph-rbd", 200, 131_533_520_896, at(2026, 7, 1, 8, 0, 12),
               labels={"app": "archiver"}),
        Volume("kubestash-demo", "datadir-mongo-0", "ceph-rbd", 10, 2_684_354_560, at(2026, 4, 21, 16, 5, 31),
               labels={"app.kubernetes.io/name": "mongo"}),
        Volume("monitoring", "prometheus-db-prometheus-0", "ceph-rbd", 50, 28_991_029_248,
               at(2025, 9, 20, 11, 3, 40), labels={"app.kubernetes.io/name": "prometheus"}),
        Volume("monitoring", "grafana", "nfs-client", 1, 157_286_400, at(2025, 9, 20, 11, 6, 2),
               labels={"app.kubernetes.io/name": "grafana"}),
    ]
    for v in vols:
        add_volume(reg, v)


# --------------------------------------------------------------------------------------------
# workloads and pods
# --------------------------------------------------------------------------------------------

PODS: dict[tuple[str, str], Obj] = {}


def container(
    name: str,
    image: str,
    *,
    cpu: str = "100m",
    memory: str = "128Mi",
    limits: dict[str, str] | None = None,
    mounts: Iterable[tuple[str, str]] = (),
    ports: Iterable[tuple[str, int]] = (),
    args: list[str] | None = None,
    command: list[str] | None = None,
    env: list[Obj] | None = None,
) -> Obj:
    c: Obj = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
    if command:
        c["command"] = command
    if args:
        c["args"] = args
    if env:
        c["env"] = env
    if ports:
        c["ports"] = [{"containerPort": p, "name": n, "protocol": "TCP"} for n, p in ports]
    res: Obj = {"requests": {"cpu": cpu, "memory": memory}}
    if limits:
        res["limits"] = limits
    c["resources"] = res
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "File"
    if mounts:
        c["volumeMounts"] = [{"mountPath": path, "name": vol} for vol, path in mounts]
    return c


def pvc_volume(name: str, claim: str) -> Obj:
    return {"name": name, "persistentVolumeClaim": {"claimName": claim}}


def image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0]
    if "/" not in repo.split("/")[0] and "." not in repo.split("/")[0]:
        repo = "docker.io/" + (repo if "/" in repo else "library/" + repo)
    return f"{repo}@sha256:{sha('image', image)}"


def full_image(image: str) -> str:
    first = image.split("/")[0]
    if "." in first:
        return image
    return "docker.io/" + (image if "/" in image else "library/" + image)


@dataclass
class PodPlan:
    name: str
    node: str | None
    phase: str = "Running"
    started: datetime | None = None
    restarts: int = 0
    crashloop: bool = False
    unschedulable: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    extra_labels: dict[str, str] = field(default_factory=dict)


def make_pod(
    reg: Registry,
    namespace: str,
    plan: PodPlan,
    *,
    owner: Obj,
    labels: dict[str, str],
    containers: list[Obj],
    volumes: list[Obj],
    service_account: str = "default",
    init_containers: list[Obj] | None = None,
    hostname: str | None = None,
    subdomain: str | None = None,
    created: datetime,
) -> Obj:
    api_vol = f"kube-api-access-{suffix('api', namespace, plan.name)}"
    pod_containers = []
    for c in containers:
        c = json.loads(json.dumps(c))
        c.setdefault("volumeMounts", []).append(
            {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": api_vol, "readOnly": True}
        )
        pod_containers.append(c)
    spec: Obj = {"containers": pod_containers, "dnsPolicy": "ClusterFirst", "enableServiceLinks": True}
    if hostname:
        spec["hostname"] = hostname
    if init_containers:
        spec["initContainers"] = init_containers
    if plan.node:
        spec["nodeName"] = plan.node
    spec.update(
        {
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": service_account,
            "serviceAccountName": service_account,
        }
    )
    if subdomain:
        spec["subdomain"] = subdomain
    spec["terminationGracePeriodSeconds"] = 30
    spec["tolerations"] = [
        {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
         "tolerationSeconds": 300},
        {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
         "tolerationSeconds": 300},
    ]
    spec["volumes"] = [
        *volumes,
        {
            "name": api_vol,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                    {
                        "downwardAPI": {
                            "items": [
                                {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                 "path": "namespace"}
                            ]
                        }
                    },
                ],
            },
        },
    ]
    has_limits = all("limits" in c["resources"] for c in containers) and all(
        c["resources"]["limits"] == c["resources"]["requests"] for c in containers
    )
    qos = "Guaranteed" if has_limits else "Burstable"
    started = plan.started or created + timedelta(seconds=3)
    status: Obj
    if plan.unschedulable:
        status = {
            "conditions": [
                {
                    "lastProbeTime": None,
                    "lastTransitionTime": ts(created + timedelta(seconds=1)),
                    "message": plan.unschedulable,
                    "reason": "Unschedulable",
                    "status": "False",
                    "type": "PodScheduled",
                }
            ],
            "phase": "Pending",
            "qosClass": qos,
        }
    else:
        assert plan.node
        node = Current.nodes[plan.node]
        Current.pod_ip[plan.node] += det_int(1, 9, "ip", namespace, plan.name)
        pod_ip = f"{node.get('pod_net', '10.244.' + str(node['idx']))}.{Current.pod_ip[plan.node]}"
        ready = not plan.crashloop
        ready_at = started + timedelta(seconds=det_int(4, 40, "ready", namespace, plan.name))
        cstatuses = []
        for c in containers:
            cs: Obj = {
                "containerID": f"containerd://{sha('ctr', namespace, plan.name, c['name'])}",
                "image": full_image(c["image"]),
                "imageID": image_id(c["image"]),
                "lastState": {},
                "name": c["name"],
                "ready": ready,
                "restartCount": plan.restarts,
                "started": ready,
                "state": {"running": {"startedAt": ts(started + timedelta(seconds=2))}},
                "volumeMounts": [
                    *({"mountPath": m["mountPath"], "name": m["name"]} for m in c.get("volumeMounts", [])),
                    {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": api_vol,
                     "readOnly": True, "recursiveReadOnly": "Disabled"},
                ],
            }
            if plan.crashloop:
                cs["lastState"] = {
                    "terminated": {
                        "containerID": f"containerd://{sha('ctr-last', namespace, plan.name, c['name'])}",
                        "exitCode": 1,
                        "finishedAt": ts(ago(minutes=2, seconds=14)),
                        "reason": "Error",
                        "startedAt": ts(ago(minutes=2, seconds=16)),
                    }
                }
                cs["state"] = {
                    "waiting": {
                        "message": f"back-off 5m0s restarting failed container={c['name']} pod={plan.name}_"
                        f"{namespace}({make_uid('Pod', namespace, plan.name)})",
                        "reason": "CrashLoopBackOff",
                    }
                }
            cstatuses.append(cs)
        conds = [
            condition("PodReadyToStartContainers", "True", started + timedelta(seconds=2)),
            condition("Initialized", "True", started + timedelta(seconds=1 if not init_containers else 9)),
            condition("Ready", "True", ready_at)
            if ready
            else condition("Ready", "False", ago(minutes=2, seconds=14), "ContainersNotReady",
                           f"containers with unready status: [{containers[0]['name']}]"),
            condition("ContainersReady", "True", ready_at)
            if ready
            else condition("ContainersReady", "False", ago(minutes=2, seconds=14), "ContainersNotReady",
                           f"containers with unready status: [{containers[0]['name']}]"),
            condition("PodScheduled", "True", started),
        ]
        for cnd in conds:
            cnd["lastProbeTime"] = None
        status = {
            "conditions": conds,
            "containerStatuses": cstatuses,
            "hostIP": node["ip"],
            "hostIPs": [{"ip": node["ip"]}],
            "phase": plan.phase,
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "qosClass": qos,
            "startTime": ts(started),
        }
        if init_containers:
            status["initContainerStatuses"] = [
                {
                    "containerID": f"containerd://{sha('init', namespace, plan.name, ic['name'])}",
                    "image": full_image(ic["image"]),
                    "imageID": image_id(ic["image"]),
                    "lastState": {},
                    "name": ic["name"],
                    "ready": True,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "terminated": {
                            "containerID": f"containerd://{sha('init', namespace, plan.name, ic['name'])}",
                            "exitCode": 0,
                            "finishedAt": ts(started + timedelta(seconds=8)),
                            "reason": "Completed",
                            "startedAt": ts(started + timedelta(seconds=1)),
                        }
                    },
                }
                for ic in init_containers
            ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(
            "Pod",
            plan.name,
            namespace=namespace,
            created=created,
            labels={**labels, **plan.extra_labels},
            annotations=plan.annotations or None,
            owner=owner,
            generate_name=None if hostname else owner["metadata"]["name"] + "-",
        ),
        "spec": spec,
        "status": status,
    }
    PODS[(namespace, plan.name)] = pod
    touched = ago(minutes=2, seconds=14) if plan.crashloop else (started + timedelta(seconds=40))
    reg.add("pods", pod, touched)
    return pod


def template(labels: dict[str, str], containers: list[Obj], volumes: list[Obj], *, annotations: dict[str, str]
             | None = None, service_account: str = "default", init_containers: list[Obj] | None = None) -> Obj:
    tmeta: Obj = {"labels": dict(labels)}
    if annotations:
        tmeta["annotations"] = dict(annotations)
    spec: Obj = {"containers": containers, "dnsPolicy": "ClusterFirst"}
    if init_containers:
        spec["initContainers"] = init_containers
    spec.update(
        {
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccountName": service_account,
            "terminationGracePeriodSeconds": 30,
        }
    )
    if service_account != "default":
        spec["serviceAccount"] = service_account
    if volumes:
        spec["volumes"] = volumes
    return {"metadata": tmeta, "spec": spec}


def pod_template_hash(*seed: object) -> str:
    return suffix("pth", *seed, n=10)


def deployment(
    reg: Registry,
    namespace: str,
    name: str,
    *,
    created: datetime,
    containers: list[Obj],
    volumes: list[Obj] | None = None,
    pods: list[tuple[str | None, datetime]],
    labels: dict[str, str] | None = None,
    selector: dict[str, str] | None = None,
    tmpl_labels: dict[str, str] | None = None,
    pod_annotations: dict[str, str] | None = None,
    service_account: str = "default",
    init_containers: list[Obj] | None = None,
    old_rs_image: str | None = None,
    generation: int = 1,
    strategy_recreate: bool = False,
) -> Obj:
    selector = selector or {"app": name}
    volumes = volumes or []
    tmpl_labels = tmpl_labels or dict(selector)
    labels = labels or {"app": name}
    replicas = len(pods)
    last_change = max(t for _, t in pods) if pods else created
    tmpl = template(tmpl_labels, containers, list(volumes), annotations=pod_annotations,
                    service_account=service_account, init_containers=init_containers)
    strategy: Obj = (
        {"type": "Recreate"}
        if strategy_recreate
        else {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"}
    )
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta("Deployment", name, namespace=namespace, created=created, labels=labels,
                         annotations={"deployment.kubernetes.io/revision": str(generation)},
                         generation=generation),
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": dict(selector)},
            "strategy": strategy,
            "template": tmpl,
        },
        "status": {
            "availableReplicas": replicas,
            "conditions": [
                {
                    "lastTransitionTime": ts(created + timedelta(seconds=20)),
                    "lastUpdateTime": ts(created + timedelta(seconds=20)),
                    "message": "Deployment has minimum availability.",
                    "reason": "MinimumReplicasAvailable",
                    "status": "True",
                    "type": "Available",
                },
                {
                    "lastTransitionTime": ts(created + timedelta(seconds=1)),
                    "lastUpdateTime": ts(last_change + timedelta(seconds=30)),
                    "message": f'ReplicaSet "{name}-{pod_template_hash(namespace, name, generation)}" has '
                    "successfully progressed.",
                    "reason": "NewReplicaSetAvailable",
                    "status": "True",
                    "type": "Progressing",
                },
            ],
            "observedGeneration": generation,
            "readyReplicas": replicas,
            "replicas": replicas,
            "updatedReplicas": replicas,
        },
    }
    reg.add("workloads", dep, last_change + timedelta(seconds=30))
    if old_rs_image:
        old_hash = pod_template_hash(namespace, name, generation - 1)
        old_containers = json.loads(json.dumps(containers))
        old_containers[0]["image"] = old_rs_image
        old_tmpl = template({**tmpl_labels, "pod-template-hash": old_hash}, old_containers, list(volumes),
                            annotations=pod_annotations, service_account=service_account,
                            init_containers=init_containers)
        reg.add(
            "workloads",
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": meta("ReplicaSet", f"{name}-{old_hash}", namespace=namespace, created=created,
                                 labels={**tmpl_labels, "pod-template-hash": old_hash},
                                 annotations={"deployment.kubernetes.io/desired-replicas": str(replicas),
                                              "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                                              "deployment.kubernetes.io/revision": str(generation - 1)},
                                 owner=dep, generation=3),
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {**selector, "pod-template-hash": old_hash}},
                    "template": old_tmpl,
                },
                "status": {"observedGeneration": 3, "replicas": 0},
            },
            last_change,
        )
    rs_hash = pod_template_hash(namespace, name, generation)
    rs_created = min(t for _, t in pods) - timedelta(seconds=1) if pods else created
    rs_tmpl = template({**tmpl_labels, "pod-template-hash": rs_hash}, containers, list(volumes),
                       annotations=pod_annotations, service_account=service_account,
                       init_containers=init_containers)
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta("ReplicaSet", f"{name}-{rs_hash}", namespace=namespace, created=rs_created,
                         labels={**tmpl_labels, "pod-template-hash": rs_hash},
                         annotations={"deployment.kubernetes.io/desired-replicas": str(replicas),
                                      "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                                      "deployment.kubernetes.io/revision": str(generation)},
                         owner=dep, generation=1),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {**selector, "pod-template-hash": rs_hash}},
            "template": rs_tmpl,
        },
        "status": {
            "availableReplicas": replicas,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": 1,
            "readyReplicas": replicas,
            "replicas": replicas,
        },
    }
    reg.add("workloads", rs, last_change + timedelta(seconds=25))
    for i, (node, started) in enumerate(pods):
        pod_name = f"{name}-{rs_hash}-{suffix('pod', namespace, name, i)}"
        make_pod(
            reg,
            namespace,
            PodPlan(pod_name, node, started=started, annotations=dict(pod_annotations or {})),
            owner=rs,
            labels={**tmpl_labels, "pod-template-hash": rs_hash},
            containers=containers,
            volumes=list(volumes),
            service_account=service_account,
            init_containers=init_containers,
            created=started - timedelta(seconds=2),
        )
    return dep


def statefulset(
    reg: Registry,
    namespace: str,
    name: str,
    *,
    created: datetime,
    containers: list[Obj],
    volumes: list[Obj] | None = None,
    claim_templates: list[tuple[str, str, int]] | None = None,
    pods: list[PodPlan],
    labels: dict[str, str] | None = None,
    pod_annotations: dict[str, str] | None = None,
    service_account: str = "default",
) -> Obj:
    selector = labels or {"app": name}
    volumes = volumes or []
    claim_templates = claim_templates or []
    replicas = len(pods)
    revision = f"{name}-{suffix('rev', namespace, name, n=10)}"
    ready = sum(1 for p in pods if p.phase == "Running" and not p.crashloop)
    tmpl = template(selector, containers, list(volumes), annotations=pod_annotations,
                    service_account=service_account)
    spec: Obj = {
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "podManagementPolicy": "OrderedReady",
        "replicas": replicas,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": dict(selector)},
        "serviceName": name,
        "template": tmpl,
        "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
    }
    if claim_templates:
        spec["volumeClaimTemplates"] = [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"creationTimestamp": None, "name": tname},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": quantity_gi(size)}},
                    "storageClassName": sc,
                    "volumeMode": "Filesystem",
                },
                "status": {"phase": "Pending"},
            }
            for tname, sc, size in claim_templates
        ]
    status: Obj = {
        "availableReplicas": ready,
        "collisionCount": 0,
        "currentReplicas": replicas,
        "currentRevision": revision,
        "observedGeneration": 1,
        "readyReplicas": ready,
        "replicas": replicas,
        "updateRevision": revision,
        "updatedReplicas": replicas,
    }
    if ready == 0:
        del status["readyReplicas"]
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta("StatefulSet", name, namespace=namespace, created=created, labels=dict(selector),
                         generation=1),
        "spec": spec,
        "status": status,
    }
    last = max((p.started or created) for p in pods)
    reg.add("workloads", sts, last + timedelta(seconds=30))
    for i, plan in enumerate(pods):
        # claim-template volumes come first in a real StatefulSet pod
        pod_volumes = [pvc_volume(tname, f"{tname}-{name}-{i}") for tname, _, _ in claim_templates] + list(volumes)
        make_pod(
            reg,
            namespace,
            plan,
            owner=sts,
            labels={
                **selector,
                "apps.kubernetes.io/pod-index": str(i),
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": plan.name,
            },
            containers=containers,
            volumes=pod_volumes,
            service_account=service_account,
            hostname=plan.name,
            subdomain=name,
            created=(plan.started or created) - timedelta(seconds=2),
        )
    return sts


def daemonset(
    reg: Registry,
    namespace: str,
    name: str,
    *,
    created: datetime,
    containers: list[Obj],
    volumes: list[Obj],
    pods: list[PodPlan],
    labels: dict[str, str],
    selector: dict[str, str],
    tmpl_labels: dict[str, str],
    service_account: str = "default",
    generation: int = 1,
) -> Obj:
    ready = sum(1 for p in pods if not p.crashloop)
    tmpl = template(tmpl_labels, containers, volumes, service_account=service_account)
    ds: Obj = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta("DaemonSet", name, namespace=namespace, created=created, labels=labels,
                         annotations={"deprecated.daemonset.template.generation": str(generation)},
                         generation=generation),
        "spec": {
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector},
            "template": tmpl,
            "updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"},
        },
        "status": {
            "currentNumberScheduled": len(pods),
            "desiredNumberScheduled": len(pods),
            "numberAvailable": ready,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "observedGeneration": generation,
            "updatedNumberScheduled": len(pods),
        },
    }
    if ready < len(pods):
        ds["status"]["numberUnavailable"] = len(pods) - ready
    reg.add("workloads", ds, ago(minutes=2, seconds=14) if ready < len(pods) else created)
    revision = suffix("dsrev", namespace, name, n=10)
    for plan in pods:
        make_pod(
            reg,
            namespace,
            plan,
            owner=ds,
            labels={**tmpl_labels, "controller-revision-hash": revision,
                    "pod-template-generation": str(generation)},
            containers=containers,
            volumes=volumes,
            service_account=service_account,
            created=(plan.started or created) - timedelta(seconds=2),
        )
    return ds


def cronjob(reg: Registry, namespace: str, name: str, *, created: datetime, schedule: str, containers: list[Obj],
            volumes: list[Obj], last_schedule: datetime, last_success: datetime, labels: dict[str, str] | None = None,
            service_account: str = "default", owner: Obj | None = None) -> Obj:
    job_tmpl = template(labels or {"app": name}, containers, volumes, service_account=service_account)
    job_tmpl["spec"]["restartPolicy"] = "OnFailure"
    cj: Obj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta("CronJob", name, namespace=namespace, created=created, labels=labels, generation=1,
                         owner=owner),
        "spec": {
            "concurrencyPolicy": "Forbid",
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"backoffLimit": 1, "template": job_tmpl}},
            "schedule": schedule,
            "successfulJobsHistoryLimit": 3,
            "suspend": False,
        },
        "status": {"lastScheduleTime": ts(last_schedule), "lastSuccessfulTime": ts(last_success)},
    }
    reg.add("workloads", cj, last_success)
    return cj


def etcd_static_pod(reg: Registry, node: str, *, created: datetime) -> Obj:
    """kubeadm's static etcd pod (the mirror pod the kubelet reports): the cluster runs its own etcd, so SYS-002
    expects snapshot evidence; the CronJob's files on a PVC are none the auditor can verify."""
    node_obj = reg.find("Node", None, node)
    image = "registry.k8s.io/etcd:3.6.4-0"
    pod: Obj = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {**meta("Pod", f"etcd-{node}", namespace="kube-system", created=created,
                            labels={"component": "etcd", "tier": "control-plane"},
                            annotations={"kubernetes.io/config.source": "file",
                                         "kubeadm.kubernetes.io/etcd.advertise-client-urls":
                                             f"https://{NODES[node]['ip']}:2379"},
                            owner=node_obj, owner_block=False)},
        "spec": {
            "containers": [{
                "name": "etcd", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["etcd", f"--advertise-client-urls=https://{NODES[node]['ip']}:2379",
                            "--cert-file=/etc/kubernetes/pki/etcd/server.crt", "--client-cert-auth=true",
                            "--data-dir=/var/lib/etcd", "--key-file=/etc/kubernetes/pki/etcd/server.key",
                            f"--listen-client-urls=https://127.0.0.1:2379,https://{NODES[node]['ip']}:2379",
                            f"--name={node}", "--snapshot-count=10000",
                            "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"],
                "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}},
                "volumeMounts": [{"mountPath": "/var/lib/etcd", "name": "etcd-data"},
                                 {"mountPath": "/etc/kubernetes/pki/etcd", "name": "etcd-certs"}],
            }],
            "hostNetwork": True, "nodeName": node, "priority": 2000001000,
            "priorityClassName": "system-node-critical", "restartPolicy": "Always",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "tolerations": [{"effect": "NoExecute", "operator": "Exists"}],
            "volumes": [{"hostPath": {"path": "/etc/kubernetes/pki/etcd", "type": "DirectoryOrCreate"},
                         "name": "etcd-certs"},
                        {"hostPath": {"path": "/var/lib/etcd", "type": "DirectoryOrCreate"}, "name": "etcd-data"}],
        },
        "status": {
            "phase": "Running", "qosClass": "Burstable", "hostIP": NODES[node]["ip"], "podIP": NODES[node]["ip"],
            "startTime": ts(created),
            "conditions": [condition(t, "True", created + timedelta(seconds=8))
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": "etcd", "image": image, "imageID": image_id(image), "ready": True,
                                   "restartCount": 0, "started": True,
                                   "state": {"running": {"startedAt": ts(created + timedelta(seconds=2))}}}],
        },
    }
    reg.add("pods", pod, created)
    return pod


def build_workloads(reg: Registry) -> None:
    # --- kube-system ------------------------------------------------------------------------
    deployment(
        reg, "kube-system", "coredns", created=CLUSTER_BORN + timedelta(minutes=1),
        labels={"k8s-app": "kube-dns"}, selector={"k8s-app": "kube-dns"},
        containers=[container("coredns", "registry.k8s.io/coredns/coredns:v1.12.1", cpu="100m", memory="70Mi",
                              limits={"memory": "170Mi"}, args=["-conf", "/etc/coredns/Corefile"],
                              ports=[("dns", 53), ("metrics", 9153)],
                              mounts=[("config-volume", "/etc/coredns")])],
        volumes=[{"configMap": {"defaultMode": 420, "items": [{"key": "Corefile", "path": "Corefile"}],
                                "name": "coredns"}, "name": "config-volume"}],
        pods=[("node-a", at(2026, 11, 11, 9, 3, 2)), ("node-b", at(2026, 11, 11, 9, 3, 5))],
        service_account="coredns",
    )
    cronjob(
        reg, "kube-system", "etcd-snapshot", created=at(2025, 9, 15, 10, 0, 0), schedule="0 */12 * * *",
        containers=[container("etcdctl", "registry.k8s.io/etcd:3.6.4-0", cpu="50m", memory="64Mi",
                              command=["/bin/sh", "-c"],
                              args=["etcdctl snapshot save /backup/etcd-$(date +%Y%m%d%H%M).db"],
                              mounts=[("backup", "/backup")])],
        volumes=[pvc_volume("backup", "etcd-backup")],
        last_schedule=at(2026, 11, 20, 0, 0, 0), last_success=at(2026, 11, 20, 0, 0, 41),
    )
    etcd_static_pod(reg, "node-a", created=at(2026, 11, 11, 9, 1, 12))

    # --- storage provisioners -------------------------------------------------------------
    deployment(
        reg, "ceph-csi-rbd", "ceph-csi-rbd-provisioner", created=at(2025, 9, 14, 9, 2, 20),
        labels={"app": "ceph-csi-rbd", "component": "provisioner"},
        selector={"app": "ceph-csi-rbd", "component": "provisioner"},
        containers=[container("csi-rbdplugin", "quay.io/cephcsi/cephcsi:v3.15.0", cpu="50m", memory="128Mi",
                              args=["--type=rbd", "--controllerserver=true", "--drivername=rbd.csi.ceph.com"]),
                    container("csi-provisioner", "registry.k8s.io/sig-storage/csi-provisioner:v5.3.0", cpu="20m",
                              memory="64Mi"),
                    container("csi-snapshotter", "registry.k8s.io/sig-storage/csi-snapshotter:v8.3.0", cpu="20m",
                              memory="64Mi")],
        pods=[("node-b", at(2026, 9, 30, 14, 11, 2))], service_account="ceph-csi-rbd-provisioner",
    )
    daemonset(
        reg, "ceph-csi-rbd", "ceph-csi-rbd-nodeplugin", created=at(2025, 9, 14, 9, 2, 20),
        labels={"app": "ceph-csi-rbd", "component": "nodeplugin"},
        selector={"app": "ceph-csi-rbd", "component": "nodeplugin"},
        tmpl_labels={"app": "ceph-csi-rbd", "component": "nodeplugin"},
        containers=[container("csi-rbdplugin", "quay.io/cephcsi/cephcsi:v3.15.0", cpu="50m", memory="128Mi",
                              args=["--type=rbd", "--nodeserver=true", "--drivername=rbd.csi.ceph.com"],
                              mounts=[("plugin-dir", "/csi"), ("pods-mount-dir", "/var/lib/kubelet/pods")])],
        volumes=[{"hostPath": {"path": "/var/lib/kubelet/plugins/rbd.csi.ceph.com", "type": "DirectoryOrCreate"},
                  "name": "plugin-dir"},
                 {"hostPath": {"path": "/var/lib/kubelet/pods", "type": "DirectoryOrCreate"},
                  "name": "pods-mount-dir"}],
        pods=[PodPlan(f"ceph-csi-rbd-nodeplugin-{suffix('csi', n)}", n, started=at(2026, 9, 30, 14, 10, 40 + i))
              for i, n in enumerate(NODES)],
        service_account="ceph-csi-rbd-nodeplugin",
    )
    deployment(
        reg, "local-path-storage", "local-path-provisioner", created=at(2025, 9, 14, 9, 4, 40),
        containers=[container("local-path-provisioner", "rancher/local-path-provisioner:v0.0.32", cpu="10m",
                              memory="32Mi", command=["local-path-provisioner", "--debug", "start",
                                                      "--config", "/etc/config/config.json"],
                              mounts=[("config-volume", "/etc/config/")])],
        volumes=[{"configMap": {"defaultMode": 420, "name": "local-path-config"}, "name": "config-volume"}],
        pods=[("node-a", at(2026, 8, 4, 10, 21, 9))], service_account="local-path-provisioner-service-account",
    )
    deployment(
        reg, "nfs-provisioner", "nfs-subdir-external-provisioner", created=at(2025, 9, 14, 9, 6, 10),
        containers=[container("nfs-subdir-external-provisioner",
                              "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2", cpu="10m",
                              memory="32Mi", mounts=[("nfs-subdir-external-provisioner-root", "/persistentvolumes")],
                              env=[{"name": "PROVISIONER_NAME",
                                    "value": "cluster.local/nfs-subdir-external-provisioner"},
                                   {"name": "NFS_SERVER", "value": NFS_SERVER},
                                   {"name": "NFS_PATH", "value": NFS_BASE}])],
        volumes=[{"name": "nfs-subdir-external-provisioner-root",
                  "nfs": {"path": NFS_BASE, "server": NFS_SERVER}}],
        pods=[("node-c", at(2026, 6, 2, 7, 40, 51))], service_account="nfs-subdir-external-provisioner",
        strategy_recreate=True,
    )

    # --- velero ---------------------------------------------------------------------------
    velero_env: list[Obj] = [
        {"name": "VELERO_SCRATCH_DIR", "value": "/scratch"},
        {"name": "VELERO_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                "fieldPath": "metadata.namespace"}}},
        {"name": "LD_LIBRARY_PATH", "value": "/plugins"},
        {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/credentials/cloud"},
        {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/credentials/cloud"},
        {"name": "AZURE_CREDENTIALS_FILE", "value": "/credentials/cloud"},
        {"name": "ALIBABA_CLOUD_CREDENTIALS_FILE", "value": "/credentials/cloud"},
    ]
    creds_volume = {"name": "cloud-credentials", "secret": {"defaultMode": 420, "secretName": "cloud-credentials"}}
    deployment(
        reg, VELERO_NS, "velero", created=at(2025, 10, 2, 13, 41, 0),
        labels={"component": "velero"}, selector={"deploy": "velero"},
        tmpl_labels={"component": "velero", "deploy": "velero", "name": "velero"},
        pod_annotations={"prometheus.io/path": "/metrics", "prometheus.io/port": "8085",
                         "prometheus.io/scrape": "true"},
        containers=[container(
            "velero", VELERO_IMAGE, cpu="500m", memory="128Mi", limits={"cpu": "1", "memory": "512Mi"},
            command=["/velero"],
            args=["server", "--features=EnableCSI", "--uploader-type=kopia",
                  "--default-volumes-to-fs-backup=false", "--concurrent-backups=4"],
            ports=[("metrics", 8085)], env=velero_env,
            mounts=[("plugins", "/plugins"), ("scratch", "/scratch"), ("cloud-credentials", "/credentials")],
        )],
        init_containers=[container("velero-velero-plugin-for-aws", AWS_PLUGIN_IMAGE, cpu="100m", memory="64Mi",
                                   mounts=[("plugins", "/target")])],
        volumes=[{"emptyDir": {}, "name": "plugins"}, {"emptyDir": {}, "name": "scratch"}, creds_volume],
        pods=[("node-a", at(2026, 11, 11, 9, 14, 22))], service_account="velero",
        old_rs_image="velero/velero:v1.17.2", generation=4,
    )
    agent_env: list[Obj] = [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
        *velero_env,
    ]
    daemonset(
        reg, VELERO_NS, "node-agent", created=at(2025, 10, 2, 13, 41, 0),
        labels={"component": "velero", "name": "node-agent"}, selector={"name": "node-agent"},
        tmpl_labels={"component": "velero", "name": "node-agent", "role": "node-agent"},
        containers=[container(
            "node-agent", VELERO_IMAGE, cpu="500m", memory="512Mi", limits={"cpu": "1", "memory": "1Gi"},
            command=["/velero"], args=["node-agent", "server", "--features=EnableCSI"],
            ports=[("metrics", 8085)], env=agent_env,
            mounts=[("host-pods", "/host_pods"), ("host-plugins", "/var/lib/kubelet/plugins"),
                    ("scratch", "/scratch"), ("cloud-credentials", "/credentials")],
        )],
        volumes=[{"hostPath": {"path": "/var/lib/kubelet/pods", "type": ""}, "name": "host-pods"},
                 {"hostPath": {"path": "/var/lib/kubelet/plugins", "type": ""}, "name": "host-plugins"},
                 {"emptyDir": {}, "name": "scratch"}, creds_volume],
        pods=[
            PodPlan(f"node-agent-{suffix('agent', 'node-a')}", "node-a", started=at(2026, 11, 11, 9, 14, 30)),
            PodPlan(f"node-agent-{suffix('agent', 'node-b')}", "node-b", started=at(2026, 11, 11, 9, 14, 41)),
            PodPlan(f"node-agent-{suffix('agent', 'node-c')}", "node-c", started=at(2026, 11, 11, 9, 14, 52),
                    restarts=862, crashloop=True),
        ],
        service_account="velero", generation=4,
    )

    # --- other backup operators ---------------------------------------------------------------
    deployment(
        reg, "k8up-system", "k8up", created=at(2026, 2, 9, 10, 12, 30),
        labels={"app.kubernetes.io/instance": "k8up", "app.kubernetes.io/name": "k8up"},
        selector={"app.kubernetes.io/instance": "k8up", "app.kubernetes.io/name": "k8up"},
        containers=[container("k8up-operator", "ghcr.io/k8up-io/k8up:v2.15.0", cpu="20m", memory="128Mi",
                              limits={"memory": "256Mi"}, args=["operator"], ports=[("http", 8080)],
                              env=[{"name": "BACKUP_IMAGE", "value": "ghcr.io/k8up-io/k8up:v2.15.0"},
                                   {"name": "BACKUP_ANNOTATION", "value": "k8up.io/backup"}])],
        pods=[("node-b", at(2026, 10, 14, 8, 2, 19))], service_account="k8up",
    )
    deployment(
        reg, "kubestash", "kubestash-kubestash-operator", created=at(2026, 4, 21, 15, 31, 0),
        labels={"app.kubernetes.io/instance": "kubestash", "app.kubernetes.io/name": "kubestash-operator"},
        selector={"app.kubernetes.io/instance": "kubestash", "app.kubernetes.io/name": "kubestash-operator"},
        containers=[container("operator", "ghcr.io/kubestash/kubestash:v0.21.0", cpu="100m", memory="128Mi",
                              args=["operator", "--v=3"], ports=[("metrics", 8443)])],
        pods=[("node-c", at(2026, 9, 8, 12, 40, 0))], service_account="kubestash-kubestash-operator",
    )

    # --- monitoring ------------------------------------------------------------------------------
    statefulset(
        reg, "monitoring", "prometheus", created=at(2025, 9, 20, 11, 3, 30),
        labels={"app.kubernetes.io/name": "prometheus"},
        containers=[container("prometheus", "quay.io/prometheus/prometheus:v3.7.3", cpu="500m", memory="2Gi",
                              limits={"memory": "4Gi"}, args=["--storage.tsdb.path=/prometheus",
                                                              "--storage.tsdb.retention.time=15d"],
                              ports=[("web", 9090)], mounts=[("prometheus-db", "/prometheus")])],
        claim_templates=[("prometheus-db", "ceph-rbd", 50)],
        pods=[PodPlan("prometheus-0", "node-a", started=at(2026, 10, 27, 7, 12, 44))],
    )
    deployment(
        reg, "monitoring", "grafana", created=at(2025, 9, 20, 11, 6, 0),
        labels={"app.kubernetes.io/name": "grafana"}, selector={"app.kubernetes.io/name": "grafana"},
        containers=[container("grafana", "docker.io/grafana/grafana:12.2.1", cpu="100m", memory="256Mi",
                              ports=[("grafana", 3000)], mounts=[("storage", "/var/lib/grafana")])],
        volumes=[pvc_volume("storage", "grafana")],
        pods=[("node-b", at(2026, 10, 27, 7, 13, 2))], strategy_recreate=True,
    )

    # --- the scenario namespaces ------------------------------------------------------------
    # 1. shop: data-mover protected postgres, a label-excluded cache, an unbound PVC
    statefulset(
        reg, "shop", "postgres", created=at(2025, 10, 6, 9, 31, 10),
        labels={"app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "shop-db"},
        containers=[container("postgres", "docker.io/library/postgres:17.6", cpu="500m", memory="1Gi",
                              limits={"memory": "2Gi"}, ports=[("postgres", 5432)],
                              env=[{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                              mounts=[("data", "/var/lib/postgresql/data")])],
        claim_templates=[("data", "ceph-rbd", 20)],
        pods=[PodPlan("postgres-0", "node-a", started=at(2026, 10, 29, 3, 12, 8))],
    )
    deployment(
        reg, "shop", "redis", created=at(2025, 10, 6, 9, 35, 30),
        containers=[container("redis", "docker.io/library/redis:8.2.2", cpu="100m", memory="256Mi",
                              ports=[("redis", 6379)], args=["--appendonly", "yes"], mounts=[("cache", "/data")])],
        volumes=[pvc_volume("cache", "redis-cache")],
        pods=[("node-b", at(2026, 10, 29, 3, 14, 51))], strategy_recreate=True,
    )

    # 2. wiki: an FSB-annotated running pod and an unschedulable pod
    statefulset(
        reg, "wiki", "wiki-web", created=at(2025, 11, 3, 14, 5, 0),
        labels={"app": "wiki-web"},
        pod_annotations={"backup.velero.io/backup-volumes": "content"},
        containers=[container("wiki", "docker.io/requarks/wiki:2.5.308", cpu="200m", memory="512Mi",
                              ports=[("http", 3000)], mounts=[("content", "/wiki/data/content")])],
        volumes=[pvc_volume("content", "wiki-content")],
        pods=[PodPlan("wiki-web-0", "node-a", started=at(2026, 11, 2, 10, 44, 3),
                      annotations={"backup.velero.io/backup-volumes": "content"})],
    )
    statefulset(
        reg, "wiki", "wiki-attach", created=at(2025, 11, 3, 14, 5, 5),
        labels={"app": "wiki-attach"},
        containers=[container("attachments", "docker.io/library/nginx:1.29.3", cpu="250m", memory="48Gi",
                              mounts=[("attachments", "/usr/share/nginx/html/attachments")])],
        volumes=[pvc_volume("attachments", "wiki-attachments")],
        pods=[PodPlan("wiki-attach-0", None, phase="Pending", started=at(2026, 11, 14, 8, 30, 12),
                      unschedulable="0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are "
                      "available: 3 No preemption victims found for incoming pod.")],
    )

    # 3. billing (payments policy)
    deployment(
        reg, "billing", "ledger", created=at(2025, 10, 20, 8, 49, 0),
        containers=[container("ledger", "registry.acme.internal/finance/ledger:4.12.0", cpu="250m", memory="512Mi",
                              ports=[("http", 8080)], mounts=[("data", "/var/lib/ledger")])],
        volumes=[pvc_volume("data", "ledger-data")],
        pods=[("node-b", at(2026, 11, 3, 16, 2, 40))], strategy_recreate=True, generation=7,
    )
    # 13. billing-eu (payments policy), protected by k8up
    deployment(
        reg, "billing-eu", "ledger-eu", created=at(2026, 2, 9, 11, 20, 0),
        containers=[container("ledger", "registry.acme.internal/finance/ledger:4.12.0", cpu="250m", memory="512Mi",
                              ports=[("http", 8080)], mounts=[("data", "/var/lib/ledger")])],
        volumes=[pvc_volume("data", "eu-ledger")],
        pods=[("node-c", at(2026, 11, 3, 16, 5, 12))], strategy_recreate=True, generation=5,
    )

    # 4. analytics: FSB opt-in on a hostPath-backed PVC
    statefulset(
        reg, "analytics", "spark-worker", created=at(2026, 1, 12, 10, 8, 20),
        labels={"app": "spark-worker"},
        pod_annotations={"backup.velero.io/backup-volumes": "scratch"},
        containers=[container("spark-worker", "docker.io/apache/spark:4.0.1", cpu="2", memory="8Gi",
                              args=["/opt/spark/sbin/start-worker.sh", "spark://spark-master:7077"],
                              mounts=[("scratch", "/opt/spark/work-dir")])],
        volumes=[pvc_volume("scratch", "spark-scratch")],
        pods=[PodPlan("spark-worker-0", "node-b", started=at(2026, 11, 6, 22, 3, 51),
                      annotations={"backup.velero.io/backup-volumes": "scratch"})],
    )

    # 5. legacy, 6. staging, 7. reports, 8. media, 9. ml, 12. archive: one deployment each
    simple = [
        ("legacy", "old-crm", "registry.acme.internal/sales/crm:2.3.9", "crm-files", "/srv/crm/files", "node-c",
         at(2026, 9, 1, 6, 0, 12)),
        ("staging", "web", "registry.acme.internal/shop/web:2026.11.18-rc2", "staging-db", "/var/lib/web", "node-c",
         at(2026, 11, 18, 14, 21, 30)),
        ("reports", "report-server", "registry.acme.internal/finance/reports:1.8.2", "report-archive",
         "/srv/reports", "node-a", at(2026, 10, 12, 9, 11, 0)),
        ("media", "media-server", "registry.acme.internal/marketing/media:3.1.0", "media-library", "/srv/media",
         "node-c", at(2026, 11, 9, 13, 2, 44)),
        ("ml", "model-server", "registry.acme.internal/data/model-server:0.9.4", "models", "/models", "node-b",
         at(2026, 11, 12, 18, 40, 3)),
        ("archive", "archiver", "registry.acme.internal/it/archiver:1.2.0", "cold-storage", "/archive", "node-a",
         at(2026, 10, 1, 7, 0, 9)),
    ]
    for ns, name, image, claim, path, node, started in simple:
        deployment(
            reg, ns, name, created=VOLUMES[(ns, claim)].created - timedelta(seconds=5),
            containers=[container(name, image, cpu="100m", memory="256Mi", ports=[("http", 8080)],
                                  mounts=[("data", path)])],
            volumes=[pvc_volume("data", claim)],
            pods=[(node, started)], strategy_recreate=True,
        )

    # 10. search: a single-replica StatefulSet on a pre-created claim
    statefulset(
        reg, "search", "elasticsearch", created=at(2026, 6, 8, 8, 5, 50),
        labels={"app": "elasticsearch"},
        containers=[container("elasticsearch", "docker.elastic.co/elasticsearch/elasticsearch:9.2.1", cpu="1",
                              memory="4Gi", limits={"memory": "4Gi"}, ports=[("http", 9200), ("transport", 9300)],
                              env=[{"name": "discovery.type", "value": "single-node"}],
                              mounts=[("data", "/usr/share/elasticsearch/data")])],
        volumes=[pvc_volume("data", "es-data-0")],
        pods=[PodPlan("elasticsearch-0", "node-c", started=at(2026, 10, 30, 11, 15, 28))],
    )

    # 14. kubestash-demo: mongo, backed up by KubeStash
    statefulset(
        reg, "kubestash-demo", "mongo", created=at(2026, 4, 21, 16, 5, 20),
        labels={"app.kubernetes.io/name": "mongo"},
        containers=[container("mongo", "docker.io/library/mongo:8.0.15", cpu="250m", memory="1Gi",
                              ports=[("mongo", 27017)], mounts=[("datadir", "/data/db")])],
        claim_templates=[("datadir", "ceph-rbd", 10)],
        pods=[PodPlan("mongo-0", "node-b", started=at(2026, 11, 4, 9, 31, 17))],
    )


# --------------------------------------------------------------------------------------------
# RBAC, secrets, configmaps
# --------------------------------------------------------------------------------------------


def build_rbac(reg: Registry) -> None:
    for ns, (created, _, _) in NAMESPACES.items():
        reg.add("rbac", {"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": meta("ServiceAccount", "default", namespace=ns, created=created)})
    extra_sas = [
        ("kube-system", "coredns", CLUSTER_BORN),
        ("ceph-csi-rbd", "ceph-csi-rbd-provisioner", at(2025, 9, 14, 9, 2, 15)),
        ("ceph-csi-rbd", "ceph-csi-rbd-nodeplugin", at(2025, 9, 14, 9, 2, 15)),
        ("local-path-storage", "local-path-provisioner-service-account", at(2025, 9, 14, 9, 4, 38)),
        ("nfs-provisioner", "nfs-subdir-external-provisioner", at(2025, 9, 14, 9, 6, 5)),
        (VELERO_NS, "velero", at(2025, 10, 2, 13, 40, 10)),
        ("k8up-system", "k8up", at(2026, 2, 9, 10, 12, 0)),
        ("kubestash", "kubestash-kubestash-operator", at(2026, 4, 21, 15, 30, 30)),
    ]
    for ns, name, created in extra_sas:
        labels = {"component": "velero"} if ns == VELERO_NS else None
        reg.add("rbac", {"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": meta("ServiceAccount", name, namespace=ns, created=created, labels=labels)})

    def cluster_role(name: str, created: datetime, rules: list[Obj], labels: dict[str, str] | None = None,
                     annotations: dict[str, str] | None = None, aggregation: Obj | None = None) -> None:
        obj: Obj = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta("ClusterRole", name, created=created, labels=labels, annotations=annotations),
        }
        if aggregation:
            obj["aggregationRule"] = aggregation
        obj["rules"] = rules
        reg.add("rbac", obj)

    cluster_role(
        "cluster-admin", CLUSTER_BORN,
        [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}],
        labels={"kubernetes.io/bootstrapping": "rbac-defaults"},
        annotations={"rbac.authorization.kubernetes.io/autoupdate": "true"},
    )
    cluster_role("secret-reader", at(2026, 8, 19, 13, 2, 6),
                 [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
                 labels={"team": "platform"})
    backup_viewer_rules = [
        {"apiGroups": ["velero.io"], "resources": ["backups", "schedules", "restores", "backupstoragelocations"],
         "verbs": ["get", "list", "watch"]},
    ]
    cluster_role("ops-backup-viewer", at(2026, 3, 4, 10, 0, 0), backup_viewer_rules,
                 labels={"rbac.acme.io/aggregate-to-ops": "true"})
    node_viewer_rules = [{"apiGroups": [""], "resources": ["nodes", "persistentvolumes"],
                          "verbs": ["get", "list", "watch"]}]
    cluster_role("ops-node-viewer", at(2026, 3, 4, 10, 0, 0), node_viewer_rules,
                 labels={"rbac.acme.io/aggregate-to-ops": "true"})
    cluster_role(
        "ops-aggregate", at(2026, 3, 4, 10, 0, 1), backup_viewer_rules + node_viewer_rules,
        aggregation={"clusterRoleSelectors": [{"matchLabels": {"rbac.acme.io/aggregate-to-ops": "true"}}]},
    )
    cluster_role("k8up-manager", at(2026, 2, 9, 10, 12, 0),
                 [{"apiGroups": ["k8up.io"], "resources": ["*"], "verbs": ["*"]},
                  {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["*"]},
                  {"apiGroups": [""], "resources": ["persistentvolumeclaims", "pods"],
                   "verbs": ["get", "list", "watch"]}])

    def crb(name: str, role: str, subjects: list[Obj], created: datetime, labels: dict[str, str] | None = None,
            annotations: dict[str, str] | None = None) -> None:
        reg.add("rbac", {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta("ClusterRoleBinding", name, created=created, labels=labels, annotations=annotations),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects,
        })

    crb("cluster-admin", "cluster-admin",
        [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}], CLUSTER_BORN,
        labels={"kubernetes.io/bootstrapping": "rbac-defaults"},
        annotations={"rbac.authorization.kubernetes.io/autoupdate": "true"})
    # what `velero install` creates
    crb("velero", "cluster-admin", [{"kind": "ServiceAccount", "name": "velero", "namespace": VELERO_NS}],
        at(2025, 10, 2, 13, 40, 11), labels={"component": "velero"})
    crb("ops-team", "ops-aggregate", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                       "name": "acme:ops"}], at(2026, 3, 4, 10, 0, 2))
    crb("k8up", "k8up-manager", [{"kind": "ServiceAccount", "name": "k8up", "namespace": "k8up-system"}],
        at(2026, 2, 9, 10, 12, 1))
    crb("kubestash-kubestash-operator", "cluster-admin",
        [{"kind": "ServiceAccount", "name": "kubestash-kubestash-operator", "namespace": "kubestash"}],
        at(2026, 4, 21, 15, 30, 31))

    reg.add("rbac", {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta("Role", "backup-operator", namespace=VELERO_NS, created=at(2026, 1, 20, 9, 30, 0)),
        "rules": [
            {"apiGroups": ["velero.io"], "resources": ["backups", "restores"],
             "verbs": ["create", "get", "list", "watch"]},
            {"apiGroups": ["velero.io"], "resources": ["schedules"], "verbs": ["get", "list", "watch"]},
        ],
    })

    def rb(name: str, ns: str, role_kind: str, role: str, subjects: list[Obj], created: datetime) -> None:
        reg.add("rbac", {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta("RoleBinding", name, namespace=ns, created=created),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects,
        })

    rb("backup-operators", VELERO_NS, "Role", "backup-operator",
       [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "acme:sre"}], at(2026, 1, 20, 9, 30, 1))
    rb("dev-alice-secret-reader", VELERO_NS, "ClusterRole", "secret-reader",
       [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dev-alice"}], at(2026, 8, 19, 13, 2, 9))


FAKE_CA = (
    "-----BEGIN CERTIFICATE-----\n"
    + "\n".join(
        base64.b64encode(hashlib.sha512(f"demo-ca-{i}".encode()).digest()[:48]).decode() for i in range(6)
    )
    + "\n-----END CERTIFICATE-----\n"
)

DAILY_APPS_POLICY = """\
version: v1
volumePolicies:
# wiki-attach keeps its data on the old attachment server's volume; it was to be migrated first.
- conditions:
    pvcLabels:
      app: wiki-attach
  action:
    type: skip
# media-library is snapshotted every 6h by the media-csi schedule.
- conditions:
    pvcLabels:
      app: media
  action:
    type: skip
- conditions:
    storageClass:
    - nfs-client
  action:
    type: fs-backup
"""


# broken-cron's volume policy, written with `storageClass` as a string, not a list: Velero's strict decoder
# rejects it, so every backup of the schedule would end FailedValidation even with a valid cron (COV-006).
BROKEN_CRON_POLICY = """version: v1
volumePolicies:
- conditions:
    storageClass: local-path
  action:
    type: skip
"""


def build_configmaps(reg: Registry) -> None:
    add_kube_root_ca(reg, ((ns, created) for ns, (created, _, _) in NAMESPACES.items()))
    reg.add("configmaps", {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("ConfigMap", "broken-cron-policy", namespace=VELERO_NS, created=at(2026, 9, 24, 17, 44, 52),
                         labels={"acme.io/owner": "platform"}),
        "data": {"policy.yaml": BROKEN_CRON_POLICY},
    }, ago(seconds=1))  # re-applied by the platform's GitOps sync just before the scan
    reg.add("configmaps", {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("ConfigMap", "daily-apps-policy", namespace=VELERO_NS, created=at(2026, 3, 2, 13, 5, 40),
                         labels={"acme.io/owner": "platform"}),
        "data": {"policy.yaml": DAILY_APPS_POLICY},
    }, at(2026, 3, 2, 13, 5, 40))
    reg.add("configmaps", {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("ConfigMap", "node-agent-config", namespace=VELERO_NS, created=at(2025, 10, 2, 13, 41, 0),
                         labels={"component": "velero"}),
        "data": {"node-agent-config.json": json.dumps(
            {"loadConcurrency": {"globalConfig": 2}, "podResources": {"cpuRequest": "500m", "memoryRequest": "1Gi"}},
            indent=2, sort_keys=True)},
    })


def build_plain_text_credentials(reg: Registry) -> None:
    """The platform team's bucket mirror job reads an rclone config with the Velero key pasted in (CRD-006).
    Added last, so that every other object keeps its resourceVersion."""
    reg.add("configmaps", {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("ConfigMap", "bucket-mirror-rclone", namespace=VELERO_NS, created=at(2026, 5, 11, 8, 20, 0),
                         labels={"acme.io/owner": "platform"}),
        "data": {"rclone.conf": "[velero-s3]\ntype = s3\nprovider = AWS\nregion = eu-west-1\n"
                                "access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                                "secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"},
    }, at(2026, 5, 11, 8, 20, 0))


# `velero install --secret-file`: a long-lived static AWS key (AWS's documentation example). demo-staging
# was installed from the same file, so both clusters hold the same key.
CLOUD_CREDENTIALS = ("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                     "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")


def add_secret(reg: Registry, ns: str, name: str, data: dict[str, str], created: datetime,
               labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
               stype: str = "Opaque") -> None:
    reg.add("secrets", {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta("Secret", name, namespace=ns, created=created, labels=labels, annotations=annotations),
        "data": {k: b64(v) for k, v in data.items()},
        "type": stype,
    })


def add_kube_root_ca(reg: Registry, namespaces: Iterable[tuple[str, datetime]]) -> None:
    """The CA bundle ConfigMap the root-ca-cert-publisher puts in every namespace."""
    for ns, created in namespaces:
        reg.add("configmaps", {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("ConfigMap", "kube-root-ca.crt", namespace=ns, created=created,
                             annotations={"kubernetes.io/description": "Contains a CA bundle that can be used to "
                                          "verify the kube-apiserver when using internal endpoints such as the "
                                          "internal service IP or kubernetes.default.svc. No other usage is "
                                          "guaranteed across distributions of Kubernetes clusters."}),
            "data": {"ca.crt": FAKE_CA},
        })


def build_secrets(reg: Registry) -> None:
    def secret(ns: str, name: str, data: dict[str, str], created: datetime, labels: dict[str, str] | None = None,
               annotations: dict[str, str] | None = None, stype: str = "Opaque") -> None:
        add_secret(reg, ns, name, data, created, labels, annotations, stype)

    secret(VELERO_NS, "cloud-credentials", {"cloud": CLOUD_CREDENTIALS}, at(2025, 10, 2, 13, 40, 12),
           labels={"component": "velero"})
    # created by the Velero server on first use (pkg/repository/keys): the static default
    secret(VELERO_NS, "velero-repo-credentials", {"repository-password": "static-passw0rd"},
           at(2025, 10, 2, 13, 41, 30))
    secret("ceph-csi-rbd", "csi-rbd-secret",
           {"userID": "kubernetes", "userKey": "AQD" + sha("ceph-key")[:37] + "=="}, at(2025, 9, 14, 9, 2, 12))
    secret("billing-eu", "eu-backup-repo", {"password": "k8up-" + sha("k8up-repo")[:24]},
           at(2026, 2, 9, 11, 30, 0))
    secret("billing-eu", "eu-backup-s3",
           {"username": "AKIA" + sha("k8up-s3-user")[:16].upper(), "password": sha("k8up-s3-pass")[:40]},
           at(2026, 2, 9, 11, 30, 0))
    secret("kubestash-demo", "encrypt-secret", {"RESTIC_PASSWORD": "ks-" + sha("ks-restic")[:28]},
           at(2026, 4, 21, 16, 10, 0))
    secret("kubestash-demo", "s3-secret",
           {"AWS_ACCESS_KEY_ID": "AKIA" + sha("ks-s3-id")[:16].upper(), "AWS_SECRET_ACCESS_KEY": sha("ks-s3")[:40]},
           at(2026, 4, 21, 16, 10, 0))
    secret("shop", "postgres-auth", {"POSTGRES_PASSWORD": sha("pg")[:20], "POSTGRES_USER": "shop"},
           at(2025, 10, 6, 9, 30, 40))


# --------------------------------------------------------------------------------------------
# Velero
# --------------------------------------------------------------------------------------------

DEFAULT_BSL_SPEC = {
    "config": {"region": REGION},
    "default": True,
    "objectStorage": {"bucket": BUCKET, "prefix": PREFIX},
    "provider": "aws",
}


@dataclass
class Schedule:
    name: str
    cron: str
    created: datetime
    template: Obj
    labels: dict[str, str] = field(default_factory=dict)
    paused: bool = False
    phase: str = "Enabled"
    validation_errors: list[str] = field(default_factory=list)
    last_backup: datetime | None = None
    generation: int = 1
    obj: Obj = field(default_factory=dict)


@dataclass
class VolRec:
    """How one PVC fared in one backup."""

    ns: str
    pvc: str
    method: str  # datamover | csi | fsb | skipped
    ok: bool = True
    skipped_reason: str = ""
    pod: str = ""
    pod_volume: str = ""


@dataclass
class BackupPlan:
    schedule: Schedule
    created: datetime
    phase: str
    duration: timedelta
    volumes: list[VolRec] = field(default_factory=list)
    warnings: list[tuple[str | None, str]] = field(default_factory=list)  # (namespace|None, message)
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    failure_reason: str = ""
    catalog: bool = True
    ttl_hours: int | None = None  # override of the template's ttl (ttl changed later)
    csi_override: tuple[int, int] | None = None  # (attempted, completed) when the status lies
    progress: tuple[int, int] | None = None
    start_delay: timedelta = timedelta(seconds=2)


SCHEDULES: dict[str, Schedule] = {}
BACKUP_PLANS: list[BackupPlan] = []


def backup_template(**spec: Any) -> Obj:
    """A Schedule template as `velero schedule create` writes it."""
    out: Obj = {"csiSnapshotTimeout": "0s", "hooks": {}, "itemOperationTimeout": "0s", "metadata": {}}
    out.update(spec)
    return out


def define_schedules() -> None:
    def add(s: Schedule) -> None:
        SCHEDULES[s.name] = s

    add(Schedule(
        "daily-apps", "0 2 * * *", at(2026, 3, 2, 13, 6, 2),
        backup_template(includedNamespaces=["shop", "wiki", "media"], snapshotMoveData=True,
                        ttl=go_duration(720), resourcePolicy={"kind": "configmap", "name": "daily-apps-policy"}),
        labels={"acme.io/owner": "platform"}, generation=3,
    ))
    add(Schedule(
        "wiki-fsb", "30 3 * * *", at(2026, 5, 18, 10, 22, 41),
        backup_template(includedNamespaces=["wiki"], defaultVolumesToFsBackup=True, ttl=go_duration(720)),
        labels={"acme.io/owner": "it"},
    ))
    add(Schedule(
        "billing-hourly", "0 * * * *", at(2026, 4, 7, 9, 1, 33),
        backup_template(includedNamespaces=["billing"], snapshotMoveData=True, ttl=go_duration(720)),
        labels={"acme.io/owner": "finance"},
    ))
    add(Schedule(
        "analytics-daily", "0 1 * * *", at(2026, 1, 12, 11, 40, 0),
        backup_template(includedNamespaces=["analytics"], snapshotVolumes=False, ttl=go_duration(720)),
    ))
    add(Schedule(
        "media-csi", "0 */6 * * *", at(2026, 3, 2, 13, 20, 19),
        backup_template(includedNamespaces=["media"], snapshotMoveData=False, ttl=go_duration(720)),
    ))
    add(Schedule(
        "ml-6h", "@every 6h", at(2026, 5, 11, 10, 0, 7),
        backup_template(includedNamespaces=["ml"], snapshotMoveData=True, ttl=go_duration(720)),
    ))
    add(Schedule(
        "search-nightly", "CRON_TZ=Europe/Berlin 0 3 * * *", at(2026, 6, 8, 9, 0, 0),
        backup_template(includedNamespaces=["search"], ttl=go_duration(72)),
    ))
    add(Schedule(
        "broken-cron", "61 * * * *", at(2026, 9, 24, 17, 45, 10),
        backup_template(includedNamespaces=["*"], includeClusterResources=True, snapshotVolumes=False,
                        ttl=go_duration(168), resourcePolicy={"kind": "configmap", "name": "broken-cron-policy"}),
        phase="FailedValidation",
        validation_errors=["invalid schedule: end of range (61) above maximum (59): 61"],
    ))
    add(Schedule(
        "reports-weekly", "0 4 * * 0", at(2025, 11, 17, 11, 0, 0),
        backup_template(includedNamespaces=["reports"], ttl=go_duration(720)),
        paused=True, last_backup=at(2026, 10, 4, 4, 0, 14), generation=2,
    ))
    add(Schedule(
        "archive-daily", "0 5 * * *", at(2026, 7, 1, 8, 30, 0),
        backup_template(includedNamespaces=["archive"], ttl=go_duration(720)),
    ))
    add(Schedule(
        "cluster-weekly", "0 0 * * 0", at(2025, 10, 2, 14, 0, 0),
        backup_template(
            includedNamespaces=["*"],
            # every namespace with its own schedule, plus legacy (its schedule was retired in OPS-1184)
            excludedNamespaces=["kube-system", "shop", "wiki", "media", "billing", "analytics", "ml", "search",
                                "archive", "reports", "legacy"],
            includeClusterResources=False, snapshotVolumes=True, ttl=go_duration(2160),
        ),
        generation=6,
    ))


def offset_seconds(*seed: object) -> int:
    """The schedule controller resyncs every minute: names carry a few seconds after the cron tick."""
    return det_int(1, 55, "tick", *seed)


def run(schedule: str, when: datetime) -> datetime:
    return when + timedelta(seconds=offset_seconds(schedule, ts(when)))


SKIP_POLICY = "any: skipped due to resource policy ;volumeSnapshot: not satisfy the criteria for VolumePolicy or " \
              "the legacy snapshot way;"
SKIP_NOT_SNAPSHOT = "volumeSnapshot: not satisfy the criteria for VolumePolicy or the legacy snapshot way;"


def plan_backups() -> None:
    s = SCHEDULES

    # daily-apps: shop postgres moved by the data mover, wiki-content by FSB (policy), the rest skipped
    def daily_apps_vols() -> list[VolRec]:
        return [
            VolRec("media", "media-library", "skipped", skipped_reason=SKIP_POLICY),
            VolRec("shop", "data-postgres-0", "datamover"),
            VolRec("wiki", "wiki-attachments", "skipped", skipped_reason=SKIP_POLICY),
            VolRec("wiki", "wiki-content", "fsb", pod="wiki-web-0", pod_volume="content"),
        ]

    # kept from before the ttl was lowered from 2160h to 720h (2026-10-11): the restore drill used it
    BACKUP_PLANS.append(BackupPlan(s["daily-apps"], run("daily-apps", at(2026, 10, 10, 2)), "Completed",
                                   timedelta(minutes=4, seconds=41), daily_apps_vols(), ttl_hours=2160))
    for day in range(16, 21):
        BACKUP_PLANS.append(BackupPlan(
            s["daily-apps"], run("daily-apps", at(2026, 11, day, 2)), "Completed",
            timedelta(minutes=4, seconds=20 + day), daily_apps_vols(),
        ))

    # wiki-fsb: opt-out FSB; wiki-attach-0 is not scheduled, so its volume gets neither FSB nor a snapshot
    attach_reason = (
        "podvolume: encountered a problem with backing up the PVC of pod wiki/wiki-attach-0: pod is not "
        "scheduled, name=wiki-attach-0, namespace=wiki, phase=Pending;" + SKIP_NOT_SNAPSHOT
    )
    attach_warning = (
        "wiki",
        " name: /wiki-attach-0 message: /Skip pod volume attachments error: /pod is not scheduled, "
        "name=wiki-attach-0, namespace=wiki, phase=Pending",
    )
    for day in range(17, 21):
        BACKUP_PLANS.append(BackupPlan(
            s["wiki-fsb"], run("wiki-fsb", at(2026, 11, day, 3, 30)), "Completed",
            timedelta(minutes=1, seconds=30 + day),
            [VolRec("wiki", "wiki-attachments", "skipped", skipped_reason=attach_reason),
             VolRec("wiki", "wiki-content", "fsb", pod="wiki-web-0", pod_volume="content")],
            warnings=[attach_warning],
        ))

    # billing-hourly: last Completed at 06:00, every run since has Failed
    BACKUP_PLANS.append(BackupPlan(s["billing-hourly"], run("billing-hourly", at(2026, 11, 20, 6)), "Completed",
                                   timedelta(minutes=2, seconds=12), [VolRec("billing", "ledger-data", "datamover")]))
    for hour in range(7, 12):
        created = run("billing-hourly", at(2026, 11, 20, hour))
        name = f"billing-hourly-{created.strftime('%Y%m%d%H%M%S')}"
        BACKUP_PLANS.append(BackupPlan(
            s["billing-hourly"], created, "Failed", timedelta(seconds=31 + hour),
            failure_reason=(
                "error checking if backup already exists in object storage: rpc error: code = Unknown desc = "
                f"operation error S3: HeadObject, https response error StatusCode: 503, RequestID: "
                f"{sha('req', name)[:16].upper()}, HostID: {b64(sha('host', name)[:30])}, api error SlowDown: "
                "Please reduce your request rate."
            ),
            catalog=False,
        ))

    # analytics-daily: Completed, but the hostPath-backed PVC was skipped (warning only)
    for day in range(17, 21):
        BACKUP_PLANS.append(BackupPlan(
            s["analytics-daily"], run("analytics-daily", at(2026, 11, day, 1)), "Completed",
            timedelta(seconds=20 + day),
            [VolRec("analytics", "spark-scratch", "skipped", skipped_reason=SKIP_NOT_SNAPSHOT)],
            warnings=[("analytics", " message: /Volume scratch in pod analytics/spark-worker-0 is a hostPath "
                       "volume which is not supported for pod volume backup, skipping")],
        ))

    # media-csi: CSI snapshot, not moved off the Ceph cluster
    for when in (at(2026, 11, 19, 12), at(2026, 11, 19, 18), at(2026, 11, 20, 0), at(2026, 11, 20, 6)):
        BACKUP_PLANS.append(BackupPlan(s["media-csi"], run("media-csi", when), "Completed",
                                       timedelta(minutes=1, seconds=4 + when.hour),
                                       [VolRec("media", "media-library", "csi")]))

    # ml-6h: @every 6h; the newest run is stuck InProgress and blocks every later run
    ml_start = at(2026, 11, 17, 12, 0, 7)
    for i in range(4):
        BACKUP_PLANS.append(BackupPlan(s["ml-6h"], ml_start + timedelta(hours=6 * i, seconds=i), "Completed",
                                       timedelta(minutes=6, seconds=10 + i), [VolRec("ml", "models", "datamover")]))
    BACKUP_PLANS.append(BackupPlan(s["ml-6h"], at(2026, 11, 18, 12, 0, 11), "InProgress", timedelta(0),
                                   [VolRec("ml", "models", "datamover")], catalog=False, progress=(41, 17)))

    # search-nightly: 03:00 Europe/Berlin = 02:00Z in November; ttl 72h keeps only three
    for day in (18, 19):
        BACKUP_PLANS.append(BackupPlan(s["search-nightly"], run("search-nightly", at(2026, 11, day, 2)),
                                       "Completed", timedelta(minutes=2, seconds=day),
                                       [VolRec("search", "es-data-0", "csi")]))
    search_new = run("search-nightly", at(2026, 11, 20, 2))
    search_vs = f"velero-es-data-0-{suffix('vs', 'search-nightly', ts(search_new))}"
    BACKUP_PLANS.append(BackupPlan(
        s["search-nightly"], search_new, "PartiallyFailed", timedelta(minutes=10, seconds=21),
        [VolRec("search", "es-data-0", "csi", ok=False)],
        errors=[("search", f" resource: /persistentvolumeclaims name: /es-data-0 message: /Fail to wait "
                 f"VolumeSnapshot turned to ReadyToUse error: /timed out waiting for VolumeSnapshot "
                 f"search/{search_vs} to be ready: context deadline exceeded")],
    ))

    # archive-daily: Completed, but no catalog files and the counters contradict the phase
    for day in range(17, 21):
        BACKUP_PLANS.append(BackupPlan(
            s["archive-daily"], run("archive-daily", at(2026, 11, day, 5)), "Completed",
            timedelta(minutes=1, seconds=2 + day), [VolRec("archive", "cold-storage", "csi")], catalog=False,
            csi_override=(1, 0) if day == 20 else None,
        ))

    # cluster-weekly: Sundays 00:00Z
    for when in (at(2026, 10, 25), at(2026, 11, 1), at(2026, 11, 8), at(2026, 11, 15)):
        BACKUP_PLANS.append(BackupPlan(
            s["cluster-weekly"], run("cluster-weekly", when), "Completed",
            timedelta(minutes=3, seconds=20 + when.day),
            [VolRec("billing-eu", "eu-ledger", "csi"),
             VolRec("kubestash-demo", "datadir-mongo-0", "csi"),
             VolRec("monitoring", "grafana", "skipped",
                    skipped_reason="csiSnapshot: skipped b/c it's not a CSI volume;"),
             VolRec("monitoring", "prometheus-db-prometheus-0", "csi")],
        ))

    for sched in SCHEDULES.values():
        runs = [p.created for p in BACKUP_PLANS if p.schedule is sched]
        if runs:
            sched.last_backup = max(runs)


def build_velero(reg: Registry) -> tuple[list[Obj], dict[str, dict[str, bytes]], dict[str, list[Obj]]]:
    """Velero CRs, the bucket catalog (backup name -> file name -> bytes) and each backup's PodVolumeBackups."""
    catalog: dict[str, dict[str, bytes]] = {}
    catalog_pvbs: dict[str, list[Obj]] = {}

    reg.add("velero", {
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": meta("BackupStorageLocation", "default", namespace=VELERO_NS, created=at(2025, 10, 2, 13, 41, 2),
                         labels={"component": "velero"}, generation=1),
        "spec": DEFAULT_BSL_SPEC,
        "status": {"lastSyncedTime": ts(ago(seconds=23)), "lastValidationTime": ts(ago(seconds=37)),
                   "phase": "Available"},
    }, ago(seconds=23))
    reg.add("velero", {
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": meta("BackupStorageLocation", "secondary", namespace=VELERO_NS, created=at(2026, 6, 15, 9, 0, 0),
                         generation=2),
        "spec": {
            "accessMode": "ReadOnly",
            "config": {"insecureSkipTLSVerify": "true", "region": "minio", "s3ForcePathStyle": "true",
                       "s3Url": "http://minio.backup.svc:9000"},
            "objectStorage": {"bucket": "velero-dr", "prefix": PREFIX},
            "provider": "aws",
        },
        "status": {
            "lastValidationTime": ts(ago(seconds=41)),
            "message": 'BackupStorageLocation "secondary" is unavailable: rpc error: code = Unknown desc = '
                       "operation error S3: ListObjectsV2, exceeded maximum attempts, 3, https response error "
                       'StatusCode: 0, RequestID: , HostID: , request send failed, Get "http://minio.backup.svc:9000/'
                       'velero-dr?delimiter=%2F&list-type=2&prefix=demo-prod%2F": dial tcp: lookup '
                       "minio.backup.svc on 10.96.0.10:53: no such host",
            "phase": "Unavailable",
        },
    }, ago(seconds=41))
    reg.add("velero", {
        "apiVersion": "velero.io/v1",
        "kind": "VolumeSnapshotLocation",
        "metadata": meta("VolumeSnapshotLocation", "aws-default", namespace=VELERO_NS,
                         created=at(2025, 10, 2, 13, 41, 2), labels={"component": "velero"}, generation=1),
        "spec": {"config": {"region": REGION}, "provider": "aws"},
    })

    for sched in SCHEDULES.values():
        spec: Obj = {"schedule": sched.cron, "template": sched.template, "useOwnerReferencesInBackup": False}
        if sched.paused:
            spec["paused"] = True
        sched_status: Obj = {"phase": sched.phase}
        if sched.last_backup:
            sched_status["lastBackup"] = ts(sched.last_backup)
        if sched.validation_errors:
            sched_status["validationErrors"] = sched.validation_errors
        sched.obj = reg.add("velero", {
            "apiVersion": "velero.io/v1",
            "kind": "Schedule",
            "metadata": meta("Schedule", sched.name, namespace=VELERO_NS, created=sched.created,
                             labels=sched.labels or None, generation=sched.generation),
            "spec": spec,
            "status": sched_status,
        }, max(sched.last_backup or sched.created, sched.created))

    staging_excluded = [ns for ns, (_, labels, _) in NAMESPACES.items()
                        if labels.get("velero.io/exclude-from-backup") == "true"]
    backups = []
    pvbs: list[Obj] = []
    dus: list[Obj] = []
    for plan in sorted(BACKUP_PLANS, key=lambda p: (p.schedule.name, p.created)):
        sched = plan.schedule
        name = f"{sched.name}-{plan.created.strftime('%Y%m%d%H%M%S')}"
        tmpl = sched.template
        ttl_hours = plan.ttl_hours or int(tmpl["ttl"].split("h")[0])
        start = plan.created + plan.start_delay
        done = start + plan.duration if plan.phase != "InProgress" else None

        # the effective spec, as prepareBackupRequest patches it
        spec = {k: v for k, v in tmpl.items() if k not in ("metadata",)}
        spec["metadata"] = {}
        spec["csiSnapshotTimeout"] = "10m0s"
        spec["itemOperationTimeout"] = "4h0m0s"
        spec["ttl"] = go_duration(ttl_hours)
        spec.setdefault("defaultVolumesToFsBackup", False)
        spec.setdefault("snapshotMoveData", False)
        spec["storageLocation"] = "default"
        spec["volumeSnapshotLocations"] = ["aws-default"]
        spec["volumeGroupSnapshotLabelKey"] = "velero.io/volume-group"
        spec["excludedNamespaces"] = list(tmpl.get("excludedNamespaces", [])) + staging_excluded
        if "includeClusterResources" in tmpl:
            spec["excludedResources"] = ["volumesnapshots.snapshot.storage.k8s.io",
                                         "volumesnapshotcontents.snapshot.storage.k8s.io"]
        else:
            spec["excludedClusterScopedResources"] = ["volumesnapshotcontents.snapshot.storage.k8s.io"]
            spec["excludedNamespaceScopedResources"] = ["volumesnapshots.snapshot.storage.k8s.io"]

        labels = {**sched.labels, "velero.io/schedule-name": sched.name,
                  "velero.io/storage-location": "default"}
        annotations = {
            "velero.io/resource-timeout": "10m0s",
            "velero.io/source-cluster-k8s-gitversion": K8S_VERSION,
            "velero.io/source-cluster-k8s-major-version": "1",
            "velero.io/source-cluster-k8s-minor-version": "34",
        }
        backup_uid = make_uid("Backup", VELERO_NS, name)
        backup_meta = meta("Backup", name, namespace=VELERO_NS, created=plan.created, labels=labels,
                           annotations=annotations, generation=5 if plan.phase != "InProgress" else 3, uid=backup_uid)
        backup: Obj = {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": backup_meta, "spec": spec}

        # volumes
        csi_attempted = csi_completed = 0
        ops_attempted = ops_completed = ops_failed = 0
        volume_info: list[Obj] = []
        plan_pvbs: list[Obj] = []
        clock = start + timedelta(seconds=9)
        for rec in plan.volumes:
            vol = VOLUMES[(rec.ns, rec.pvc)]
            assert vol.pv is not None
            pv_info = {"reclaimPolicy": "Delete", "labels": vol.pv["metadata"].get("labels")}
            used = vol.used_bytes + det_int(0, 50 * MIB, "grow", name, rec.pvc)
            if rec.method == "skipped":
                volume_info.append({
                    "pvcName": rec.pvc, "pvcNamespace": rec.ns, "pvName": vol.pv_name,
                    "snapshotDataMoved": False, "preserveLocalSnapshot": False, "skipped": True,
                    "skippedReason": rec.skipped_reason, "pvInfo": pv_info,
                })
                continue
            if plan.phase == "InProgress":
                continue
            if rec.method == "csi":
                csi_attempted += 1
                ops_attempted += 1
                vs_name = f"velero-{rec.pvc}-{suffix('vs', sched.name, ts(plan.created))}"
                vs_time = clock
                ready_time = vs_time + timedelta(seconds=det_int(8, 50, "ready", name))
                op_id = f"{rec.ns}/{vs_name}/{ts(vs_time)}"
                info: Obj = {
                    "pvcName": rec.pvc, "pvcNamespace": rec.ns, "pvName": vol.pv_name,
                    "backupMethod": "CSISnapshot", "snapshotDataMoved": False, "preserveLocalSnapshot": True,
                    "skipped": False, "startTimestamp": ts(vs_time),
                }
                if rec.ok:
                    csi_completed += 1
                    ops_completed += 1
                    info["completionTimestamp"] = ts(ready_time)
                    info["result"] = "succeeded"
                else:
                    ops_failed += 1
                    info["completionTimestamp"] = ts(vs_time + timedelta(minutes=10))
                    info["result"] = "failed"
                info["csiSnapshotInfo"] = {
                    "snapshotHandle": f"{CEPH_CLUSTER_ID}-{sha('snap', name, rec.pvc)[:8]}"
                    if rec.ok else "",
                    "size": vol.size_gi * GIB,
                    "driver": RBD_DRIVER,
                    "vscName": f"snapcontent-{uuid.UUID(sha('vsc', name, rec.pvc)[:32])}",
                    "operationID": op_id,
                    "ReadyToUse": rec.ok,
                }
                info["pvInfo"] = pv_info
                volume_info.append(info)
                clock = ready_time + timedelta(seconds=3)
            elif rec.method == "datamover":
                csi_attempted += 1
                csi_completed += 1
                ops_attempted += 1
                ops_completed += 1
                du_name = f"{name}-{suffix('du', name, rec.pvc)}"
                vs_name = f"velero-{rec.pvc}-{suffix('vs', sched.name, ts(plan.created))}"
                op_id = velero_label_value(f"du-{backup_uid}.{vol.pvc_uid}")
                accepted = clock + timedelta(seconds=6)
                du_start = accepted + timedelta(seconds=det_int(5, 20, "dus", name))
                du_done = du_start + plan.duration - timedelta(seconds=45)
                node = "node-a" if det_int(0, 1, "node", name) == 0 else "node-b"
                incr = det_int(20 * MIB, 900 * MIB, "incr", name)
                snapshot_id = sha("kopia", name, rec.pvc)[:32]
                dus.append(reg.add("velero", {
                    "apiVersion": "velero.io/v2alpha1",
                    "kind": "DataUpload",
                    "metadata": meta(
                        "DataUpload", du_name, namespace=VELERO_NS, created=clock, generate_name=f"{name}-",
                        labels={"velero.io/async-operation-id": op_id,
                                "velero.io/backup-name": velero_label_value(name),
                                "velero.io/backup-uid": backup_uid,
                                "velero.io/pvc-uid": vol.pvc_uid},
                        owner={"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": backup_meta},
                        owner_block=False, generation=8,
                    ),
                    "spec": {
                        "backupStorageLocation": "default",
                        "csiSnapshot": {"driver": RBD_DRIVER, "snapshotClass": "ceph-rbd-snap",
                                        "storageClass": vol.storage_class, "volumeSnapshot": vs_name},
                        "operationTimeout": "10m0s",
                        "snapshotType": "CSI",
                        "sourceNamespace": rec.ns,
                        "sourcePVC": rec.pvc,
                    },
                    "status": {
                        "acceptedByNode": node,
                        "acceptedTimestamp": ts(accepted),
                        "completionTimestamp": ts(du_done),
                        "incrementalBytes": incr,
                        "node": node,
                        "nodeOS": "linux",
                        "path": f"/{vol.pvc_uid}",
                        "phase": "Completed",
                        "progress": {"bytesDone": used, "totalBytes": used},
                        "snapshotID": snapshot_id,
                        "startTimestamp": ts(du_start),
                    },
                }, du_done))
                volume_info.append({
                    "pvcName": rec.pvc, "pvcNamespace": rec.ns, "pvName": vol.pv_name,
                    "backupMethod": "CSISnapshot", "snapshotDataMoved": True, "preserveLocalSnapshot": False,
                    "skipped": False, "startTimestamp": ts(du_start), "completionTimestamp": ts(du_done),
                    "result": "succeeded",
                    "csiSnapshotInfo": {"snapshotHandle": "unknown", "size": 0, "driver": RBD_DRIVER,
                                        "vscName": "unknown", "operationID": "unknown", "ReadyToUse": None},
                    "snapshotDataMovementInfo": {
                        "dataMover": "velero", "uploaderType": "kopia", "retainedSnapshot": vs_name,
                        "snapshotHandle": snapshot_id, "operationID": op_id, "size": used,
                        "incrementalSize": incr, "Phase": "Completed",
                    },
                    "pvInfo": pv_info,
                })
                clock = du_done + timedelta(seconds=2)
            elif rec.method == "fsb":
                pod = PODS[(rec.ns, rec.pod)]
                pvb_name = f"{name}-{suffix('pvb', name, rec.pvc)}"
                pvb_start = clock + timedelta(seconds=3)
                pvb_done = pvb_start + timedelta(seconds=det_int(20, 70, "pvbd", name))
                incr = det_int(1 * MIB, 120 * MIB, "pvbi", name)
                snapshot_id = sha("kopia-pvb", name, rec.pvc)[:32]
                node = pod["spec"]["nodeName"]
                pvb = reg.add("velero", {
                    "apiVersion": "velero.io/v1",
                    "kind": "PodVolumeBackup",
                    "metadata": meta(
                        "PodVolumeBackup", pvb_name, namespace=VELERO_NS, created=clock, generate_name=f"{name}-",
                        labels={"velero.io/backup-name": velero_label_value(name),
                                "velero.io/backup-uid": backup_uid,
                                "velero.io/pvc-uid": vol.pvc_uid},
                        annotations={"velero.io/pvc-name": rec.pvc},
                        owner={"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": backup_meta},
                        owner_block=False, generation=6,
                    ),
                    "spec": {
                        "backupStorageLocation": "default",
                        "node": node,
                        "pod": {"kind": "Pod", "name": rec.pod, "namespace": rec.ns,
                                "uid": pod["metadata"]["uid"]},
                        "repoIdentifier": "",
                        "tags": {"backup": name, "backup-uid": backup_uid, "ns": rec.ns, "pod": rec.pod,
                                 "pod-uid": pod["metadata"]["uid"], "pvc-uid": vol.pvc_uid,
                                 "volume": rec.pod_volume},
                        "uploaderType": "kopia",
                        "volume": rec.pod_volume,
                    },
                    "status": {
                        "acceptedTimestamp": ts(clock + timedelta(seconds=1)),
                        "completionTimestamp": ts(pvb_done),
                        "incrementalBytes": incr,
                        "path": f"/host_pods/{pod['metadata']['uid']}/volumes/kubernetes.io~nfs/{vol.pv_name}",
                        "phase": "Completed",
                        "progress": {"bytesDone": used, "totalBytes": used},
                        "snapshotID": snapshot_id,
                        "startTimestamp": ts(pvb_start),
                    },
                }, pvb_done)
                pvbs.append(pvb)
                plan_pvbs.append(pvb)
                volume_info.append({
                    "pvcName": rec.pvc, "pvcNamespace": rec.ns, "pvName": vol.pv_name,
                    "backupMethod": "PodVolumeBackup", "snapshotDataMoved": False, "preserveLocalSnapshot": False,
                    "skipped": False, "startTimestamp": ts(pvb_start), "completionTimestamp": ts(pvb_done),
                    "result": "succeeded",
                    "pvbInfo": {"snapshotHandle": snapshot_id, "size": used, "incrementalSize": incr,
                                "uploaderType": "kopia", "volumeName": rec.pod_volume, "podName": rec.pod,
                                "podNamespace": rec.ns, "nodeName": node, "Phase": "Completed"},
                    "pvInfo": pv_info,
                })
                clock = pvb_done + timedelta(seconds=2)
            else:  # pragma: no cover - plan typo
                raise ValueError(rec.method)

        # Velero writes skipped PVs first, then native, CSI, pod volume and data-mover entries
        rank = {"": 0, "CSISnapshot": 2, "PodVolumeBackup": 3}
        volume_info.sort(key=lambda vi: (rank[vi.get("backupMethod", "")] + 2 * vi["snapshotDataMoved"],))
        if done is not None:
            done = max(done, clock + timedelta(seconds=det_int(4, 9, "fin", name)))
        status: Obj = {"expiration": ts(start + timedelta(hours=ttl_hours)), "formatVersion": "1.1.0",
                       "phase": plan.phase, "startTimestamp": ts(start), "version": 1}
        if done:
            status["completionTimestamp"] = ts(done)
        if plan.phase == "Failed":
            status["failureReason"] = plan.failure_reason
        else:
            items = plan.progress or _item_count(reg, spec, len([v for v in plan.volumes if v.method == "csi"]))
            status["progress"] = {"itemsBackedUp": items[1], "totalItems": items[0]}
            if plan.phase != "InProgress":
                if plan.csi_override:
                    csi_attempted, csi_completed = plan.csi_override
                    ops_attempted, ops_completed = plan.csi_override
                for key, value in (
                    ("csiVolumeSnapshotsAttempted", csi_attempted),
                    ("csiVolumeSnapshotsCompleted", csi_completed),
                    ("backupItemOperationsAttempted", ops_attempted),
                    ("backupItemOperationsCompleted", ops_completed),
                    ("backupItemOperationsFailed", ops_failed),
                    ("errors", len(plan.errors)),
                    ("warnings", len(plan.warnings)),
                ):
                    if value:  # the Go struct has omitempty on every counter
                        status[key] = value
                status["hookStatus"] = {}
        backup["status"] = status
        reg.add("velero", backup, done or start)
        backups.append(backup)

        if plan.catalog and plan.phase in ("Completed", "PartiallyFailed"):
            catalog[name] = {
                "velero-backup.json": b"",  # filled after resourceVersions are assigned
                f"{name}-volumeinfo.json.gz": gz_json(volume_info),
                f"{name}-results.gz": gz_json({"errors": _result(plan.errors), "warnings": _result(plan.warnings)}),
                f"{name}-podvolumebackups.json.gz": b"",  # filled after resourceVersions are assigned
            }
            catalog_pvbs[name] = plan_pvbs

    # BackupRepositories: one per (workload namespace, BSL, type), shared by FSB and the data mover
    repos = [
        ("billing", at(2026, 4, 7, 10, 0, 40), ago(minutes=38), "Ready", None),
        ("ml", at(2026, 5, 11, 10, 6, 2), at(2026, 11, 11, 6, 2, 11), "Ready",
         "error to run maintenance job: job ml-default-kopia-maintain-job-"
         f"{suffix('mj')}: pod is OOMKilled"),
        ("shop", at(2026, 3, 3, 2, 1, 5), ago(minutes=51), "Ready", None),
        ("wiki", at(2026, 3, 3, 2, 2, 31), ago(minutes=44), "Ready", None),
    ]
    for ns, created, last_maint, phase, failure in repos:
        name = f"{ns}-default-kopia"
        recent = []
        for i in range(3):
            started = ago(hours=i + 1, minutes=2) if failure else last_maint - timedelta(hours=i)
            entry: Obj = {"completeTimestamp": ts(started + timedelta(seconds=48)),
                          "result": "Succeeded" if not failure else "Failed",
                          "startTimestamp": ts(started)}
            if failure:
                entry["message"] = failure
            recent.append(entry)
        recent.sort(key=lambda e: e["startTimestamp"])
        reg.add("velero", {
            "apiVersion": "velero.io/v1",
            "kind": "BackupRepository",
            "metadata": meta("BackupRepository", name, namespace=VELERO_NS, created=created,
                             labels={"velero.io/repository-type": "kopia", "velero.io/storage-location": "default",
                                     "velero.io/volume-namespace": ns}, generation=2),
            "spec": {
                "backupStorageLocation": "default",
                "maintenanceFrequency": "1h0m0s",
                "repositoryType": "kopia",
                "resticIdentifier": f"s3:s3-{REGION}.amazonaws.com/{BUCKET}/{PREFIX}/restic/{ns}",
                "volumeNamespace": ns,
            },
            "status": {"lastMaintenanceTime": ts(last_maint + timedelta(seconds=48)), "phase": phase,
                       "recentMaintenance": recent},
        }, max(datetime.strptime(e["completeTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
               for e in recent))

    # restore evidence: a drill 40 days before DEMO_AS_OF
    drill_backup = next(b for b in backups if b["metadata"]["name"].startswith("daily-apps-20261010"))
    drill_start = ago(days=40, minutes=26)
    reg.add("velero", {
        "apiVersion": "velero.io/v1",
        "kind": "Restore",
        "metadata": meta("Restore", "restore-drill-shop-2026-10", namespace=VELERO_NS, created=drill_start,
                         labels={"acme.io/drill": "quarterly"}, generation=6),
        "spec": {
            "backupName": drill_backup["metadata"]["name"],
            "excludedResources": ["nodes", "events", "events.events.k8s.io", "backups.velero.io",
                                  "restores.velero.io", "resticrepositories.velero.io",
                                  "csinodes.storage.k8s.io", "volumeattachments.storage.k8s.io",
                                  "backuprepositories.velero.io"],
            "hooks": {},
            "includedNamespaces": ["shop"],
            "itemOperationTimeout": "4h0m0s",
            "namespaceMapping": {"shop": "shop-drill"},
            "restorePVs": True,
            "uploaderConfig": {},
        },
        "status": {
            "completionTimestamp": ts(ago(days=40)),
            "hookStatus": {},
            "phase": "Completed",
            "progress": {"itemsRestored": 38, "totalItems": 38},
            "restoreItemOperationsAttempted": 1,
            "restoreItemOperationsCompleted": 1,
            "startTimestamp": ts(drill_start + timedelta(seconds=1)),
            "warnings": 2,
        },
    }, ago(days=40))
    return backups, catalog, catalog_pvbs


def _item_count(reg: Registry, spec: Obj, csi_snapshots: int) -> tuple[int, int]:
    """Roughly what Velero would count: the namespaced objects in scope, plus PVs and CSI objects."""
    included = spec.get("includedNamespaces", ["*"])
    excluded = set(spec.get("excludedNamespaces", []))
    namespaces = [ns for ns in NAMESPACES if (included == ["*"] or ns in included) and ns not in excluded]
    count = len(namespaces) + 6 * len(namespaces)  # Namespace objects, plus events/services/endpoints/leases
    for obj, _ in reg.all():
        ns = obj["metadata"].get("namespace")
        if ns in namespaces and obj["apiVersion"] in ("v1", "apps/v1", "batch/v1",
                                                      "rbac.authorization.k8s.io/v1"):
            count += 1
            if obj["kind"] == "PersistentVolumeClaim" and obj["status"]["phase"] == "Bound":
                count += 1  # its PV, pulled in as an additional item
    count += 3 * csi_snapshots  # VolumeSnapshot, VolumeSnapshotContent, VolumeSnapshotClass
    return count, count


def _result(entries: list[tuple[str | None, str]]) -> Obj:
    out: Obj = {}
    for ns, msg in entries:
        if ns is None:
            out.setdefault("velero", []).append(msg)
        else:
            out.setdefault("namespaces", {}).setdefault(ns, []).append(msg)
    return out


def gz_json(value: Any) -> bytes:
    """gzip'd compact JSON with a trailing newline, as Go's json.Encoder writes it; mtime=0 for determinism."""
    raw = (json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# CSI snapshots outside Velero
# --------------------------------------------------------------------------------------------


def build_snapshots(reg: Registry) -> None:
    vol = VOLUMES[("media", "media-library")]
    created = ago(days=2)
    vs_name = "media-library-manual"
    vs_uid = make_uid("VolumeSnapshot", "media", vs_name)
    vsc_name = f"snapcontent-{vs_uid}"
    handle = f"0001-0024-{CEPH_CLUSTER_ID}-0000000000000002-{uuid.UUID(sha('manual-snap')[:32])}"
    ready_at = created + timedelta(seconds=4)
    reg.add("snapshots", {
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshot",
        "metadata": meta("VolumeSnapshot", vs_name, namespace="media", created=created,
                         labels={"app": "media", "acme.io/reason": "pre-migration"},
                         finalizers=["snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection",
                                     "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection"],
                         generation=1, uid=vs_uid),
        "spec": {"source": {"persistentVolumeClaimName": vol.name}, "volumeSnapshotClassName": "ceph-rbd-snap"},
        "status": {"boundVolumeSnapshotContentName": vsc_name, "creationTime": ts(created + timedelta(seconds=1)),
                   "readyToUse": True, "restoreSize": quantity_gi(vol.size_gi)},
    }, ready_at)
    assert vol.pv is not None
    reg.add("snapshots", {
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshotContent",
        "metadata": meta("VolumeSnapshotContent", vsc_name, created=created + timedelta(seconds=1),
                         finalizers=["snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection"],
                         generation=1),
        "spec": {
            "deletionPolicy": "Retain",
            "driver": RBD_DRIVER,
            "source": {"volumeHandle": vol.pv["spec"]["csi"]["volumeHandle"]},
            "sourceVolumeMode": "Filesystem",
            "volumeSnapshotClassName": "ceph-rbd-snap",
            "volumeSnapshotRef": {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                                  "name": vs_name, "namespace": "media", "resourceVersion": "0", "uid": vs_uid},
        },
        "status": {
            "creationTime": int((created + timedelta(seconds=1)).timestamp()) * 1_000_000_000 + 418_223_561,
            "readyToUse": True,
            "restoreSize": vol.size_gi * GIB,
            "snapshotHandle": handle,
        },
    }, ready_at)


# --------------------------------------------------------------------------------------------
# k8up and KubeStash
# --------------------------------------------------------------------------------------------


def build_k8up(reg: Registry) -> None:
    ns = "billing-eu"
    backend = {
        "repoPasswordSecretRef": {"key": "password", "name": "eu-backup-repo"},
        "s3": {
            "accessKeyIDSecretRef": {"key": "username", "name": "eu-backup-s3"},
            "bucket": "acme-k8up-billing-eu",
            "endpoint": "https://s3.eu-central-1.amazonaws.com",
            "secretAccessKeySecretRef": {"key": "password", "name": "eu-backup-s3"},
        },
    }
    repository = "s3:https://s3.eu-central-1.amazonaws.com/acme-k8up-billing-eu"
    created = at(2026, 2, 9, 11, 31, 0)
    sched = reg.add("k8up", {
        "apiVersion": "k8up.io/v1",
        "kind": "Schedule",
        "metadata": meta("Schedule", "eu-backup", namespace=ns, created=created, generation=2,
                         finalizers=["k8up.io/schedule"], labels={"acme.io/owner": "finance"}),
        "spec": {
            "backend": backend,
            "backup": {"failedJobsHistoryLimit": 2, "schedule": "*/30 * * * *", "successfulJobsHistoryLimit": 4},
            "check": {"schedule": "0 3 * * 1"},
            "prune": {"retention": {"keepDaily": 30, "keepLast": 48}, "schedule": "0 1 * * 0"},
        },
        "status": {"conditions": [{"lastTransitionTime": ts(at(2026, 10, 14, 8, 2, 40)), "message": "",
                                   "observedGeneration": 2, "reason": "Ready", "status": "True",
                                   "type": "Ready"}]},
    }, at(2026, 10, 14, 8, 2, 40))
    snapshots = []
    for i, when in enumerate([at(2026, 11, 20, 10, 0), at(2026, 11, 20, 10, 30), at(2026, 11, 20, 11, 0),
                              at(2026, 11, 20, 11, 30)]):
        b_created = when + timedelta(seconds=1)
        b_name = f"eu-backup-backup-{suffix('k8up', ts(when))}"
        started = b_created + timedelta(seconds=2)
        finished = when + timedelta(minutes=10) if i == 3 else when + timedelta(minutes=8, seconds=3 * i + 11)
        reg.add("k8up", {
            "apiVersion": "k8up.io/v1",
            "kind": "Backup",
            "metadata": meta("Backup", b_name, namespace=ns, created=b_created,
                             labels={"k8up.io/schedule-name": "eu-backup"}, owner=sched, generation=1),
            "spec": {"backend": backend, "failedJobsHistoryLimit": 2, "resources": {},
                     "successfulJobsHistoryLimit": 4},
            "status": {
                "conditions": [
                    {"lastTransitionTime": ts(started), "message": "no container definitions found",
                     "observedGeneration": 1, "reason": "NoPreBackupPodsFound", "status": "True",
                     "type": "PreBackupPodReady"},
                    {"lastTransitionTime": ts(finished), "message": "the job 'billing-eu/backup-" + b_name
                     + "' ended", "observedGeneration": 1, "reason": "Finished", "status": "False",
                     "type": "Progressing"},
                    {"lastTransitionTime": ts(finished), "message": "the job 'billing-eu/backup-" + b_name
                     + "' ended successfully", "observedGeneration": 1, "reason": "Succeeded", "status": "True",
                     "type": "Completed"},
                    {"lastTransitionTime": ts(finished), "message": "Deleted 1 resources", "observedGeneration": 1,
                     "reason": "Succeeded", "status": "True", "type": "Scrubbed"},
                ],
                "finished": True,
                "started": True,
            },
        }, finished)
        snapshots.append(finished - timedelta(seconds=30))
    for d in (17, 18, 19):
        snapshots.insert(0, at(2026, 11, d, 23, 38, 12))
    for when in snapshots:
        snap_id = sha("restic", ts(when))
        reg.add("k8up", {
            "apiVersion": "k8up.io/v1",
            "kind": "Snapshot",
            "metadata": meta("Snapshot", snap_id[:8], namespace=ns, created=when + timedelta(seconds=40),
                             generation=1),
            "spec": {"date": ts(when), "id": snap_id, "paths": ["/data/eu-ledger"], "repository": repository},
        })


def build_kubestash(reg: Registry) -> None:
    ns = "kubestash-demo"
    created = at(2026, 4, 21, 16, 12, 0)
    bc = reg.add("kubestash", {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupConfiguration",
        "metadata": meta("BackupConfiguration", "mongo-backup", namespace=ns, created=created, generation=1,
                         finalizers=["kubestash.com/cleanup"]),
        "spec": {
            "backends": [{"name": "s3-backend", "retentionPolicy": {"name": "demo-retention", "namespace": ns},
                          "storageRef": {"name": "s3-storage", "namespace": ns}}],
            "sessions": [{
                "addon": {"name": "workload-addon", "tasks": [{"name": "logical-backup"}]},
                "name": "daily",
                "repositories": [{"backend": "s3-backend", "directory": "/demo-prod/mongo",
                                  "encryptionSecret": {"name": "encrypt-secret", "namespace": ns},
                                  "name": "mongo-repo"}],
                "scheduler": {"jobTemplate": {"backoffLimit": 1}, "schedule": "0 9 * * *"},
                "sessionHistoryLimit": 4,
            }],
            "target": {"apiGroup": "apps", "kind": "StatefulSet", "name": "mongo", "namespace": ns},
        },
        "status": {
            "backends": [{"name": "s3-backend", "ready": True,
                          "retentionPolicy": {"found": True, "ref": {"name": "demo-retention", "namespace": ns}},
                          "storage": {"phase": "Ready", "ref": {"name": "s3-storage", "namespace": ns}}}],
            "conditions": [
                {"lastTransitionTime": ts(created + timedelta(seconds=5)), "message": "Validation has been passed "
                 "successfully.", "reason": "ResourceValidationPassed", "status": "True", "type": "ValidationPassed"},
                {"lastTransitionTime": ts(created + timedelta(seconds=9)), "message": "Initial backup has been "
                 "triggered successfully.", "reason": "SuccessfullyTriggeredInitialBackup", "status": "True",
                 "type": "InitialBackupTriggered"},
            ],
            "phase": "Ready",
            "repositories": [{"name": "mongo-repo", "phase": "Ready"}],
            "sessions": [{"conditions": [{"lastTransitionTime": ts(created + timedelta(seconds=7)),
                                          "message": "Scheduler has been ensured successfully.",
                                          "reason": "SchedulerEnsured", "status": "True",
                                          "type": "SchedulerEnsured"}],
                          "name": "daily"}],
            "targetFound": True,
        },
    }, created + timedelta(seconds=9))
    cronjob(reg, ns, "trigger-mongo-backup-daily", created=created + timedelta(seconds=7), schedule="0 9 * * *",
            containers=[container("kubestash", "ghcr.io/kubestash/kubestash:v0.21.0", cpu="10m", memory="32Mi",
                                  args=["create-backupsession", "--invoker-name=mongo-backup",
                                        "--invoker-kind=BackupConfiguration", "--target-session=daily"])],
            volumes=[], last_schedule=at(2026, 11, 20, 9, 0, 0), last_success=at(2026, 11, 20, 9, 0, 6),
            labels={"kubestash.com/invoker-kind": "BackupConfiguration",
                    "kubestash.com/invoker-name": "mongo-backup", "kubestash.com/invoker-namespace": ns},
            service_account="kubestash-kubestash-operator", owner=bc)
    recent = []
    for day in (17, 18, 19, 20):
        when = at(2026, 11, day, 9, 0, 2)
        unix = int(when.timestamp())
        session = f"mongo-backup-daily-{unix}"
        snapshot = f"mongo-repo-mongo-backup-daily-{unix}"
        duration = timedelta(minutes=4, seconds=10 + day)
        reg.add("kubestash", {
            "apiVersion": "core.kubestash.com/v1alpha1",
            "kind": "BackupSession",
            "metadata": meta("BackupSession", session, namespace=ns, created=when,
                             labels={"kubestash.com/invoker-kind": "BackupConfiguration",
                                     "kubestash.com/invoker-name": "mongo-backup",
                                     "kubestash.com/session-name": "daily"},
                             owner=bc, generation=1),
            "spec": {"invoker": {"apiGroup": "core.kubestash.com", "kind": "BackupConfiguration",
                                 "name": "mongo-backup"}, "session": "daily"},
            "status": {
                "conditions": [
                    {"lastTransitionTime": ts(when + timedelta(seconds=2)), "message": "Snapshots have been ensured "
                     "successfully.", "reason": "SuccessfullyEnsuredSnapshots", "status": "True",
                     "type": "SnapshotsEnsured"},
                    {"lastTransitionTime": ts(when + timedelta(seconds=3)), "message": "Backup Executor has been "
                     "ensured successfully.", "reason": "SuccessfullyEnsuredBackupExecutor", "status": "True",
                     "type": "BackupExecutorEnsured"},
                    {"lastTransitionTime": ts(when + duration), "message": "Successfully cleaned up backup history",
                     "reason": "SuccessfullyCleanedSessionHistory", "status": "True",
                     "type": "SessionHistoryCleaned"},
                ],
                "duration": f"{int(duration.total_seconds()) // 60}m{int(duration.total_seconds()) % 60}s",
                "phase": "Succeeded",
                "retentionPolicy": [{"phase": "Applied", "ref": {"name": "demo-retention", "namespace": ns},
                                     "repository": "mongo-repo"}],
                "snapshots": [{"appRef": {"apiGroup": "apps", "kind": "StatefulSet", "name": "mongo",
                                          "namespace": ns}, "name": snapshot, "phase": "Succeeded",
                               "repository": "mongo-repo"}],
                "totalSnapshots": 1,
            },
        }, when + duration)
        recent.append({"name": snapshot, "phase": "Succeeded", "session": "daily",
                       "size": f"{612 + day} MiB", "snapshotTime": ts(when + duration)})
    last = at(2026, 11, 20, 9, 0, 2) + timedelta(minutes=4, seconds=30)
    reg.add("kubestash", {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Repository",
        "metadata": meta("Repository", "mongo-repo", namespace=ns, created=created + timedelta(seconds=3),
                         labels={"kubestash.com/invoker-kind": "BackupConfiguration",
                                 "kubestash.com/invoker-name": "mongo-backup",
                                 "kubestash.com/invoker-namespace": ns}, generation=1,
                         finalizers=["kubestash.com/cleanup"]),
        "spec": {
            "appRef": {"apiGroup": "apps", "kind": "StatefulSet", "name": "mongo", "namespace": ns},
            "deletionPolicy": "Delete",
            "encryptionSecret": {"name": "encrypt-secret", "namespace": ns},
            "path": "/demo-prod/mongo",
            "storageRef": {"name": "s3-storage", "namespace": ns},
        },
        "status": {
            "componentPaths": ["repository/v1/daily/dump"],
            "conditions": [{"lastTransitionTime": ts(created + timedelta(seconds=40)), "message": "Repository "
                            "has been initialized successfully.", "reason": "RepositoryInitializationSucceeded",
                            "status": "True", "type": "RepositoryInitialized"}],
            "integrity": True,
            "lastBackupTime": ts(last),
            "phase": "Ready",
            "recentSnapshots": list(reversed(recent)),
            "size": "2.436 GiB",
            "snapshotCount": 4,
        },
    }, last)


# --------------------------------------------------------------------------------------------
# demo-staging: a small EKS cluster installed from demo-prod's Velero files
# --------------------------------------------------------------------------------------------

STAGING_K8S_VERSION = "v1.34.2-eks-3025e55"
STAGING_BORN = at(2026, 5, 18, 9, 41, 7)
STAGING_VELERO = at(2026, 6, 2, 10, 14, 30)  # velero install, from prod's credentials-velero file
STAGING_PREFIX = STAGING_NAME
# CHG-2291: the storage team made the location read-only for the bucket replication cut-over
STAGING_READ_ONLY = at(2026, 11, 17, 16, 42, 10)
AUDITOR_SUBJECT = "system:serviceaccount:backup-auditor:backup-auditor"
ECR = "602401143452.dkr.ecr.eu-west-1.amazonaws.com"
EBS_IMAGE = "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.52.1"

STAGING_NODES: dict[str, Obj] = {
    "ip-10-30-11-214.eu-west-1.compute.internal": {"ip": "10.30.11.214", "zone": "eu-west-1a", "zone_id": "euw1-az3",
                                                   "idx": 0, "pod_net": "10.30.11"},
    "ip-10-30-12-187.eu-west-1.compute.internal": {"ip": "10.30.12.187", "zone": "eu-west-1b", "zone_id": "euw1-az1",
                                                   "idx": 1, "pod_net": "10.30.12"},
}
STG_A, STG_B = STAGING_NODES

# name -> (created, extra labels)
STAGING_NAMESPACES: dict[str, tuple[datetime, dict[str, str]]] = {
    "default": (STAGING_BORN, {}),
    "kube-system": (STAGING_BORN, {}),
    "kube-public": (STAGING_BORN, {}),
    "kube-node-lease": (STAGING_BORN, {}),
    VELERO_NS: (at(2026, 6, 2, 10, 14, 22), {"component": "velero"}),
    "backup-auditor": (at(2026, 9, 29, 14, 3, 51), {}),
    "shop": (at(2026, 6, 3, 9, 10, 4), {"team": "commerce"}),
    "ci": (at(2026, 6, 15, 11, 22, 40), {"team": "platform"}),
    "registry": (at(2026, 7, 6, 8, 30, 12), {"team": "platform"}),
}

# The ci build cache is excluded from backups by label, and says why on the object itself.
BUILD_CACHE_EXEMPTION = {
    "backup-auditor.io/exempt": "COV-001",
    "backup-auditor.io/exempt-reason": "BuildKit layer cache: the next CI run rebuilds it, nothing to restore",
    "backup-auditor.io/exempt-owner": "platform-ci@acme.example",
    "backup-auditor.io/exempt-expires": "2027-05-31",
}


def build_staging_cluster(reg: Registry) -> None:
    """Nodes, namespaces, storage, volumes, RBAC, secrets and ConfigMaps of demo-staging."""
    for name, info in STAGING_NODES.items():
        instance = "i-0" + sha("instance", name)[:16]
        created = at(2026, 11, 2, 6, 15, 41) + timedelta(seconds=37 * info["idx"])  # the last node group rollout
        reg.add("nodes", {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": meta("Node", name, created=created, labels={
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/instance-type": "m6i.xlarge",
                "beta.kubernetes.io/os": "linux",
                "eks.amazonaws.com/capacityType": "ON_DEMAND",
                "eks.amazonaws.com/nodegroup": "staging-general",
                "eks.amazonaws.com/nodegroup-image": "ami-0" + sha("ami", "2026-11")[:16],
                "failure-domain.beta.kubernetes.io/region": REGION,
                "failure-domain.beta.kubernetes.io/zone": info["zone"],
                "k8s.io/cloud-provider-aws": sha("cloud-provider", STAGING_NAME)[:32],
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "m6i.xlarge",
                "topology.ebs.csi.aws.com/zone": info["zone"],
                "topology.k8s.aws/zone-id": info["zone_id"],
                "topology.kubernetes.io/region": REGION,
                "topology.kubernetes.io/zone": info["zone"],
            }, annotations={
                "alpha.kubernetes.io/provided-node-ip": info["ip"],
                "csi.volume.kubernetes.io/nodeid": json.dumps({EBS_DRIVER: instance}, separators=(",", ":")),
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            }),
            "spec": {"providerID": f"aws:///{info['zone']}/{instance}"},
            "status": {
                "addresses": [
                    {"address": info["ip"], "type": "InternalIP"},
                    {"address": name, "type": "InternalDNS"},
                    {"address": name, "type": "Hostname"},
                ],
                "allocatable": {"cpu": "3920m", "ephemeral-storage": "76224326324", "hugepages-1Gi": "0",
                                "hugepages-2Mi": "0", "memory": "15147676Ki", "pods": "58"},
                "capacity": {"cpu": "4", "ephemeral-storage": "83873772Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                             "memory": "15944348Ki", "pods": "58"},
                "conditions": kubelet_conditions(ago(seconds=22 + 9 * info["idx"]), created + timedelta(seconds=25)),
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": node_info(name, "6.12.46-66.121.amzn2023.x86_64", STAGING_K8S_VERSION,
                                      "Amazon Linux 2023.9.20251027"),
            },
        }, created + timedelta(seconds=25))

    for name, (created, labels) in STAGING_NAMESPACES.items():
        reg.add("namespaces", {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": meta("Namespace", name, created=created,
                             labels={"kubernetes.io/metadata.name": name, **labels}),
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        })

    reg.add("storage", {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": meta("StorageClass", "gp3", created=at(2026, 5, 18, 10, 2, 33),
                         annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "allowVolumeExpansion": True,
        "parameters": {"csi.storage.k8s.io/fstype": "ext4", "encrypted": "true", "type": "gp3"},
        "provisioner": EBS_DRIVER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    })
    reg.add("storage", {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIDriver",
        "metadata": meta("CSIDriver", EBS_DRIVER, created=at(2026, 5, 18, 9, 58, 12),
                         labels={"app.kubernetes.io/component": "csi-driver",
                                 "app.kubernetes.io/managed-by": "EKS",
                                 "app.kubernetes.io/name": "aws-ebs-csi-driver"}),
        "spec": {"attachRequired": True, "fsGroupPolicy": "File", "podInfoOnMount": False,
                 "requiresRepublish": False, "seLinuxMount": False, "storageCapacity": False,
                 "volumeLifecycleModes": ["Persistent"]},
    })
    reg.add("storage", {
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshotClass",
        "metadata": meta("VolumeSnapshotClass", "ebs-snap", created=at(2026, 6, 2, 10, 20, 3),
                         labels={"velero.io/csi-volumesnapshot-class": "true"}),
        "deletionPolicy": "Delete",
        "driver": EBS_DRIVER,
    })

    for v in [
        Volume("shop", "data-postgres-0", "gp3", 20, 6_174_015_488, at(2026, 6, 3, 9, 12, 30),
               labels={"app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "shop-db"}, node=STG_A),
        Volume("ci", "build-cache", "gp3", 50, 38_117_834_752, at(2026, 6, 15, 11, 30, 2),
               labels={"app": "buildkitd", "velero.io/exclude-from-backup": "true"},
               annotations=BUILD_CACHE_EXEMPTION, node=STG_B),
        Volume("registry", "registry-data", "gp3", 100, 41_231_686_042, at(2026, 7, 6, 8, 34, 51),
               labels={"app": "registry"}, node=STG_B),
    ]:
        add_volume(reg, v)

    for ns, (created, _) in STAGING_NAMESPACES.items():
        reg.add("rbac", {"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": meta("ServiceAccount", "default", namespace=ns, created=created)})
    for ns, name, created, sa_labels, notes in [
        ("kube-system", "coredns", STAGING_BORN, {"eks.amazonaws.com/component": "coredns"}, None),
        ("kube-system", "ebs-csi-controller-sa", at(2026, 5, 18, 9, 58, 10),
         {"app.kubernetes.io/component": "csi-driver", "app.kubernetes.io/name": "aws-ebs-csi-driver"},
         # the EBS driver uses IRSA; Velero, installed from prod's files, does not
         {"eks.amazonaws.com/role-arn": "arn:aws:iam::210987654321:role/demo-staging-ebs-csi"}),
        ("kube-system", "ebs-csi-node-sa", at(2026, 5, 18, 9, 58, 10),
         {"app.kubernetes.io/component": "csi-driver", "app.kubernetes.io/name": "aws-ebs-csi-driver"}, None),
        (VELERO_NS, "velero", at(2026, 6, 2, 10, 14, 33), {"component": "velero"}, None),
        ("backup-auditor", "backup-auditor", at(2026, 9, 29, 14, 3, 52), None, None),
    ]:
        reg.add("rbac", {"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": meta("ServiceAccount", name, namespace=ns, created=created, labels=sa_labels,
                                          annotations=notes)})

    def cluster_role(name: str, created: datetime, rules: list[Obj], labels: dict[str, str] | None = None) -> None:
        reg.add("rbac", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                         "metadata": meta("ClusterRole", name, created=created, labels=labels), "rules": rules})

    def crb(name: str, role: str, subjects: list[Obj], created: datetime, labels: dict[str, str] | None = None,
            annotations: dict[str, str] | None = None) -> None:
        reg.add("rbac", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                         "metadata": meta("ClusterRoleBinding", name, created=created, labels=labels,
                                          annotations=annotations),
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                         "subjects": subjects})

    cluster_role("cluster-admin", STAGING_BORN,
                 [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}],
                 labels={"kubernetes.io/bootstrapping": "rbac-defaults"})
    cluster_role("ebs-external-provisioner-role", at(2026, 5, 18, 9, 58, 10), [
        {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "watch", "create", "patch",
                                                                           "delete"]},
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "list", "watch", "update"]},
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "csinodes"], "verbs": ["get", "list",
                                                                                               "watch"]},
        {"apiGroups": ["snapshot.storage.k8s.io"], "resources": ["volumesnapshots", "volumesnapshotcontents"],
         "verbs": ["get", "list"]},
    ], labels={"app.kubernetes.io/name": "aws-ebs-csi-driver"})
    # the auditor's read-only role, trimmed by hand: rolebindings were dropped with the secrets rule
    cluster_role("backup-auditor", at(2026, 9, 29, 14, 3, 51), [
        {"apiGroups": [""], "resources": ["namespaces", "nodes", "persistentvolumes", "persistentvolumeclaims", "pods",
                                          "serviceaccounts", "secrets", "configmaps"], "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"], "verbs": ["get", "list"]},
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["get", "list"]},
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "csidrivers"], "verbs": ["get", "list"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "clusterroles", "clusterrolebindings"],
         "verbs": ["get", "list"]},
        {"apiGroups": ["velero.io", "snapshot.storage.k8s.io"], "resources": ["*"], "verbs": ["get", "list"]},
    ])
    crb("cluster-admin", "cluster-admin",
        [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}], STAGING_BORN,
        labels={"kubernetes.io/bootstrapping": "rbac-defaults"})
    crb("velero", "cluster-admin", [{"kind": "ServiceAccount", "name": "velero", "namespace": VELERO_NS}],
        at(2026, 6, 2, 10, 14, 34), labels={"component": "velero"})
    crb("ebs-csi-provisioner-binding", "ebs-external-provisioner-role",
        [{"kind": "ServiceAccount", "name": "ebs-csi-controller-sa", "namespace": "kube-system"}],
        at(2026, 5, 18, 9, 58, 11))
    # listing Secrets (even metadata only) needs `list secrets`, which also reads values: say so, on the binding
    crb("backup-auditor", "backup-auditor",
        [{"kind": "ServiceAccount", "name": "backup-auditor", "namespace": "backup-auditor"}],
        at(2026, 9, 29, 14, 3, 52), annotations={
            "backup-auditor.io/exempt": "CRD-004",
            "backup-auditor.io/exempt-reason": "the auditor lists Secrets and fingerprints the backup credentials "
                                               "(keyed HMAC, values never stored)",
            "backup-auditor.io/exempt-owner": "security@acme.example",
            "backup-auditor.io/exempt-expires": "2027-09-30",
        })
    # visible (roles can be listed), but not who it is bound to: the rolebindings list is forbidden
    reg.add("rbac", {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta("Role", "backup-operator", namespace=VELERO_NS, created=at(2026, 6, 2, 11, 5, 0)),
        "rules": [{"apiGroups": ["velero.io"], "resources": ["backups", "restores"],
                   "verbs": ["create", "get", "list", "watch"]},
                  {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    })

    add_secret(reg, VELERO_NS, "cloud-credentials", {"cloud": CLOUD_CREDENTIALS}, at(2026, 6, 2, 10, 14, 31),
               labels={"component": "velero"})
    # created before `velero install`, so the server kept it instead of writing static-passw0rd
    add_secret(reg, VELERO_NS, "velero-repo-credentials",
               {"repository-password": "stg-" + sha("staging-repo-password")[:28]}, at(2026, 6, 2, 10, 11, 5))
    add_secret(reg, "shop", "postgres-auth", {"POSTGRES_PASSWORD": sha("stg-pg")[:20], "POSTGRES_USER": "shop"},
               at(2026, 6, 3, 9, 10, 30))
    add_kube_root_ca(reg, ((ns, created) for ns, (created, _) in STAGING_NAMESPACES.items()))


def build_staging_workloads(reg: Registry) -> None:
    deployment(
        reg, "kube-system", "coredns", created=STAGING_BORN + timedelta(minutes=2),
        labels={"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"},
        selector={"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"},
        containers=[container("coredns", f"{ECR}/eks/coredns:v1.12.4-eksbuild.1", cpu="100m", memory="70Mi",
                              limits={"memory": "170Mi"}, args=["-conf", "/etc/coredns/Corefile"],
                              ports=[("dns", 53), ("metrics", 9153)], mounts=[("config-volume", "/etc/coredns")])],
        volumes=[{"configMap": {"defaultMode": 420, "items": [{"key": "Corefile", "path": "Corefile"}],
                                "name": "coredns"}, "name": "config-volume"}],
        pods=[(STG_A, at(2026, 11, 2, 6, 17, 2)), (STG_B, at(2026, 11, 2, 6, 17, 40))],
        service_account="coredns", generation=3,
    )
    deployment(
        reg, "kube-system", "ebs-csi-controller", created=at(2026, 5, 18, 9, 58, 12),
        labels={"app": "ebs-csi-controller", "app.kubernetes.io/component": "csi-driver",
                "app.kubernetes.io/name": "aws-ebs-csi-driver"},
        selector={"app": "ebs-csi-controller", "app.kubernetes.io/name": "aws-ebs-csi-driver"},
        containers=[container("ebs-plugin", EBS_IMAGE, cpu="10m", memory="40Mi", limits={"memory": "256Mi"},
                              args=["controller", "--endpoint=$(CSI_ENDPOINT)", "--batching=true",
                                    "--logging-format=text", "--v=2"]),
                    container("csi-provisioner", f"{ECR}/eks/csi-provisioner:v5.3.0-eksbuild.4", cpu="10m",
                              memory="40Mi", args=["--timeout=60s", "--csi-address=$(ADDRESS)", "--v=2",
                                                   "--feature-gates=Topology=true", "--extra-create-metadata",
                                                   "--leader-election=true", "--default-fstype=ext4"]),
                    container("csi-snapshotter", f"{ECR}/eks/csi-snapshotter:v8.3.0-eksbuild.4", cpu="10m",
                              memory="40Mi", args=["--csi-address=$(ADDRESS)", "--leader-election=true",
                                                   "--extra-create-metadata"])],
        pods=[(STG_B, at(2026, 11, 2, 6, 18, 11))], service_account="ebs-csi-controller-sa", generation=6,
    )
    daemonset(
        reg, "kube-system", "ebs-csi-node", created=at(2026, 5, 18, 9, 58, 12),
        labels={"app.kubernetes.io/component": "csi-driver", "app.kubernetes.io/name": "aws-ebs-csi-driver"},
        selector={"app": "ebs-csi-node", "app.kubernetes.io/name": "aws-ebs-csi-driver"},
        tmpl_labels={"app": "ebs-csi-node", "app.kubernetes.io/component": "csi-driver",
                     "app.kubernetes.io/name": "aws-ebs-csi-driver"},
        containers=[container("ebs-plugin", EBS_IMAGE, cpu="10m", memory="40Mi", limits={"memory": "256Mi"},
                              args=["node", "--endpoint=$(CSI_ENDPOINT)", "--csi-mount-point-prefix=/var/lib/kubelet"
                                    "/plugins/kubernetes.io/csi/ebs.csi.aws.com/", "--logging-format=text", "--v=2"],
                              mounts=[("kubelet-dir", "/var/lib/kubelet"), ("plugin-dir", "/csi")])],
        volumes=[{"hostPath": {"path": "/var/lib/kubelet", "type": "Directory"}, "name": "kubelet-dir"},
                 {"hostPath": {"path": "/var/lib/kubelet/plugins/ebs.csi.aws.com/", "type": "DirectoryOrCreate"},
                  "name": "plugin-dir"}],
        pods=[PodPlan(f"ebs-csi-node-{suffix('ebs-node', n)}", n, started=at(2026, 11, 2, 6, 16, 5 + 37 * i))
              for i, n in enumerate(STAGING_NODES)],
        service_account="ebs-csi-node-sa", generation=6,
    )

    # Velero as `velero install --features=EnableCSI` leaves it: no node-agent (no --use-node-agent)
    velero_env: list[Obj] = [
        {"name": "VELERO_SCRATCH_DIR", "value": "/scratch"},
        {"name": "VELERO_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                "fieldPath": "metadata.namespace"}}},
        {"name": "LD_LIBRARY_PATH", "value": "/plugins"},
        {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/credentials/cloud"},
        {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/credentials/cloud"},
        {"name": "AZURE_CREDENTIALS_FILE", "value": "/credentials/cloud"},
        {"name": "ALIBABA_CLOUD_CREDENTIALS_FILE", "value": "/credentials/cloud"},
    ]
    deployment(
        reg, VELERO_NS, "velero", created=at(2026, 6, 2, 10, 14, 35),
        labels={"component": "velero"}, selector={"deploy": "velero"},
        tmpl_labels={"component": "velero", "deploy": "velero", "name": "velero"},
        pod_annotations={"prometheus.io/path": "/metrics", "prometheus.io/port": "8085",
                         "prometheus.io/scrape": "true"},
        containers=[container(
            "velero", VELERO_IMAGE, cpu="500m", memory="128Mi", limits={"cpu": "1", "memory": "512Mi"},
            command=["/velero"], args=["server", "--features=EnableCSI", "--uploader-type=kopia"],
            ports=[("metrics", 8085)], env=velero_env,
            mounts=[("plugins", "/plugins"), ("scratch", "/scratch"), ("cloud-credentials", "/credentials")],
        )],
        init_containers=[container("velero-velero-plugin-for-aws", AWS_PLUGIN_IMAGE, cpu="100m", memory="64Mi",
                                   mounts=[("plugins", "/target")])],
        volumes=[{"emptyDir": {}, "name": "plugins"}, {"emptyDir": {}, "name": "scratch"},
                 {"name": "cloud-credentials", "secret": {"defaultMode": 420, "secretName": "cloud-credentials"}}],
        pods=[(STG_A, at(2026, 11, 2, 6, 18, 40))], service_account="velero", generation=2,
    )

    statefulset(
        reg, "shop", "postgres", created=at(2026, 6, 3, 9, 12, 28),
        labels={"app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "shop-db"},
        containers=[container("postgres", "docker.io/library/postgres:17.6", cpu="250m", memory="512Mi",
                              ports=[("postgres", 5432)],
                              env=[{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                              mounts=[("data", "/var/lib/postgresql/data")])],
        claim_templates=[("data", "gp3", 20)],
        pods=[PodPlan("postgres-0", STG_A, started=at(2026, 11, 2, 6, 19, 3))],
    )
    deployment(
        reg, "ci", "buildkitd", created=at(2026, 6, 15, 11, 29, 55),
        containers=[container("buildkitd", "docker.io/moby/buildkit:v0.25.2", cpu="1", memory="2Gi",
                              args=["--addr", "tcp://0.0.0.0:1234", "--oci-worker-gc-keepstorage", "40000"],
                              ports=[("buildkit", 1234)], mounts=[("cache", "/var/lib/buildkit")])],
        volumes=[pvc_volume("cache", "build-cache")],
        pods=[(STG_B, at(2026, 11, 2, 6, 19, 31))], strategy_recreate=True, generation=4,
    )
    deployment(
        reg, "registry", "registry", created=at(2026, 7, 6, 8, 34, 45),
        containers=[container("registry", "docker.io/library/registry:3.0.0", cpu="100m", memory="256Mi",
                              ports=[("http", 5000)], mounts=[("data", "/var/lib/registry")])],
        volumes=[pvc_volume("data", "registry-data")],
        pods=[(STG_B, at(2026, 11, 2, 6, 19, 52))], strategy_recreate=True, generation=2,
    )


def staging_backup(reg: Registry, sched: Schedule, created: datetime, phase: str, *,
                   duration: timedelta = timedelta(0), validation_error: str = "", volumes: int = 0,
                   gc_failure: bool = False) -> datetime:
    """One scheduled Backup of demo-staging, as the backup controller leaves it; returns its last write."""
    name = f"{sched.name}-{created.strftime('%Y%m%d%H%M%S')}"
    tmpl = sched.template
    ttl_hours = int(tmpl["ttl"].split("h")[0])
    spec = {k: v for k, v in tmpl.items() if k != "metadata"}
    spec.update({"metadata": {}, "csiSnapshotTimeout": "10m0s", "itemOperationTimeout": "4h0m0s",
                 "ttl": go_duration(ttl_hours), "volumeGroupSnapshotLabelKey": "velero.io/volume-group",
                 "excludedClusterScopedResources": ["volumesnapshotcontents.snapshot.storage.k8s.io"],
                 "excludedNamespaceScopedResources": ["volumesnapshots.snapshot.storage.k8s.io"]})
    spec.setdefault("defaultVolumesToFsBackup", False)
    spec.setdefault("snapshotMoveData", False)
    spec.setdefault("storageLocation", "default")  # no storageLocation: the BSL marked default
    labels = {**sched.labels, "velero.io/schedule-name": sched.name,
              "velero.io/storage-location": spec["storageLocation"]}
    touched = created + timedelta(seconds=1)
    if gc_failure:  # expired, but the garbage collector skips backups on a read-only location
        labels["velero.io/gc-failure"] = "BSLReadOnly"
        touched = created + timedelta(hours=ttl_hours, minutes=det_int(2, 58, "gc", name))
    annotations = {
        "velero.io/resource-timeout": "10m0s",
        "velero.io/source-cluster-k8s-gitversion": STAGING_K8S_VERSION,
        "velero.io/source-cluster-k8s-major-version": "1",
        "velero.io/source-cluster-k8s-minor-version": "34",
    }
    processed = created + timedelta(seconds=1)  # the controller picks it up, validates it, starts it
    status: Obj = {"expiration": ts(processed + timedelta(hours=ttl_hours)), "formatVersion": "1.1.0",
                   "phase": phase, "version": 1}
    if phase == "FailedValidation":
        status["validationErrors"] = [validation_error]
    else:
        start = processed
        done = start + duration
        items = 41 + 3 * volumes
        status.update({
            "backupItemOperationsAttempted": volumes, "backupItemOperationsCompleted": volumes,
            "completionTimestamp": ts(done), "csiVolumeSnapshotsAttempted": volumes,
            "csiVolumeSnapshotsCompleted": volumes, "hookStatus": {},
            "progress": {"itemsBackedUp": items, "totalItems": items}, "startTimestamp": ts(start),
        })
        touched = max(touched, done)
    reg.add("velero", {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": meta("Backup", name, namespace=VELERO_NS, created=created, labels=labels,
                         annotations=annotations, generation=5 if phase != "FailedValidation" else 2),
        "spec": spec,
        "status": status,
    }, touched)
    return created


def build_staging_velero(reg: Registry) -> None:
    reg.add("velero", {
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": meta("BackupStorageLocation", "default", namespace=VELERO_NS, created=at(2026, 6, 2, 10, 14, 36),
                         labels={"component": "velero"}, generation=2,
                         annotations={"acme.io/change": "CHG-2291: read-only during the bucket replication "
                                                        "cut-over; set back to ReadWrite afterwards"}),
        "spec": {"accessMode": "ReadOnly", "config": {"region": REGION}, "default": True,
                 "objectStorage": {"bucket": BUCKET, "prefix": STAGING_PREFIX}, "provider": "aws"},
        "status": {"lastSyncedTime": ts(ago(seconds=48)), "lastValidationTime": ts(ago(seconds=48)),
                   "phase": "Available"},
    }, ago(seconds=48))

    nightly = Schedule(
        "nightly", "0 1 * * *", at(2026, 6, 2, 10, 31, 12),
        backup_template(includedNamespaces=["shop"], ttl=go_duration(168)), labels={"acme.io/owner": "platform"},
    )
    # DR-88: a weekly copy to the DR site's location `offsite`, which the storage team never created
    offsite = Schedule(
        "weekly-offsite", "0 3 * * 6", at(2026, 10, 22, 15, 4, 27),
        backup_template(includedNamespaces=["*"], excludedNamespaces=["kube-system"], snapshotMoveData=True,
                        storageLocation="offsite", ttl=go_duration(2160)),
        labels={"acme.io/owner": "platform", "acme.io/ticket": "DR-88"},
    )
    read_only = ("backup can't be created because backup storage location default is currently in read-only "
                 "mode")
    missing = ("an existing backup storage location wasn't specified at backup creation time and the default "
               "'offsite' wasn't found. Please address this issue (see `velero backup-location -h` for options) and "
               "create a new backup. Error: backupstoragelocations.velero.io \"offsite\" not found")
    gc_period = timedelta(hours=1)  # --garbage-collection-frequency
    for day in range(10, 21):
        created = run(nightly.name, at(2026, 11, day, 1))
        expires = created + timedelta(seconds=1, hours=168)
        if created > STAGING_READ_ONLY:
            nightly.last_backup = staging_backup(reg, nightly, created, "FailedValidation", validation_error=read_only)
        elif expires + gc_period < STAGING_READ_ONLY:
            continue  # expired and garbage-collected while the location was still writable
        else:
            nightly.last_backup = staging_backup(
                reg, nightly, created, "Completed", duration=timedelta(seconds=38 + day), volumes=1,
                gc_failure=expires < DEMO_AS_OF)
    for when in (at(2026, 10, 24, 3), at(2026, 10, 31, 3), at(2026, 11, 7, 3), at(2026, 11, 14, 3)):
        offsite.last_backup = staging_backup(reg, offsite, run(offsite.name, when), "FailedValidation",
                                             validation_error=missing)
    for sched in (nightly, offsite):
        assert sched.last_backup is not None
        reg.add("velero", {
            "apiVersion": "velero.io/v1",
            "kind": "Schedule",
            "metadata": meta("Schedule", sched.name, namespace=VELERO_NS, created=sched.created,
                             labels=sched.labels, generation=1),
            "spec": {"schedule": sched.cron, "template": sched.template, "useOwnerReferencesInBackup": False},
            "status": {"lastBackup": ts(sched.last_backup), "phase": "Enabled"},
        }, sched.last_backup)


def build_staging() -> dict[str, bytes]:
    """demo-staging: its cluster files and manifest (no bucket catalog: nobody copied its prefix)."""
    reset()
    Current.use(STAGING_NAME, STAGING_NODES)
    reg = Registry()
    build_staging_cluster(reg)
    build_staging_workloads(reg)
    build_staging_velero(reg)
    out = cluster_files(reg, STAGING_NAME, 5_730_000)  # a younger, smaller cluster
    gap = {
        "resource": "rolebindings.rbac.authorization.k8s.io",
        "namespace": None,
        "reason": "forbidden",
        "message": STAGING_ROLEBINDINGS_FORBIDDEN,
    }
    out[f"clusters/{STAGING_NAME}/{MANIFEST}"] = manifest(
        STAGING_NAME, STAGING_K8S_VERSION, ago(minutes=1, seconds=41.207715), [gap])
    return out


#: What the API server answered the auditor's list of rolebindings in demo-staging.
STAGING_ROLEBINDINGS_FORBIDDEN = (
    f'rolebindings.rbac.authorization.k8s.io is forbidden: User "{AUDITOR_SUBJECT}" cannot list resource '
    '"rolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope'
)


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------

GROUP_ORDER = {
    "namespaces": ["Namespace"],
    "nodes": ["Node"],
    "storage": ["StorageClass", "CSIDriver", "VolumeSnapshotClass"],
    "pvs": ["PersistentVolume"],
    "pvcs": ["PersistentVolumeClaim"],
    "pods": ["Pod"],
    "workloads": ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "CronJob"],
    "rbac": ["ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"],
    "secrets": ["Secret"],
    "configmaps": ["ConfigMap"],
    "velero": ["BackupStorageLocation", "VolumeSnapshotLocation", "Schedule", "Backup", "PodVolumeBackup",
               "DataUpload", "BackupRepository", "Restore"],
    "snapshots": ["VolumeSnapshot", "VolumeSnapshotContent"],
    "k8up": ["Schedule", "Backup", "Snapshot"],
    "kubestash": ["BackupConfiguration", "BackupSession", "Repository"],
}


def kubectl_json(value: Any) -> bytes:
    """kubectl -o json: 4-space indent, keys sorted (it marshals unstructured maps), trailing newline."""
    return (json.dumps(value, indent=4, sort_keys=True, ensure_ascii=False) + "\n").encode()


def manifest(cluster: str, server_version: str, collected_at: datetime, gaps: list[Obj]) -> bytes:
    """``.auditor-snapshot.json`` as ``auditor snapshot`` writes it (orjson, 2-space indent, no newline)."""
    return json.dumps({"cluster": cluster, "server_version": server_version,
                       "collected_at": collected_at.isoformat(), "tool_version": AUDITOR_VERSION,
                       "gaps": gaps}, indent=2, ensure_ascii=False).encode()


def cluster_files(reg: Registry, cluster: str, etcd_revision: int) -> dict[str, bytes]:
    """Assign resourceVersions (from about ``etcd_revision``), fix the references that carry one, and
    write one List per kind group."""
    reg.assign_resource_versions(etcd_revision)
    for obj, _ in reg.all():
        if obj["kind"] == "PersistentVolume":
            ref = obj["spec"]["claimRef"]
            pvc = reg.find("PersistentVolumeClaim", ref["namespace"], ref["name"])
            ref["resourceVersion"] = str(int(pvc["metadata"]["resourceVersion"]) - 2)
        if obj["kind"] == "VolumeSnapshotContent":
            ref = obj["spec"]["volumeSnapshotRef"]
            vs = reg.find("VolumeSnapshot", ref["namespace"], ref["name"])
            ref["resourceVersion"] = str(int(vs["metadata"]["resourceVersion"]) - 1)

    out: dict[str, bytes] = {}
    for group, kinds in GROUP_ORDER.items():
        items = [obj for obj, _ in reg.files.get(group, [])]
        if not items:
            continue
        items.sort(key=lambda o: (kinds.index(o["kind"]), o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        out[f"clusters/{cluster}/{group}.json"] = kubectl_json(
            {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
        )
    return out


def reset() -> None:
    VOLUMES.clear()
    PODS.clear()
    SCHEDULES.clear()
    BACKUP_PLANS.clear()


def build_prod() -> dict[str, bytes]:
    """demo-prod: the cluster files, its manifest, and the bucket catalog of its default location."""
    reset()
    Current.use(CLUSTER_NAME, NODES)
    reg = Registry()
    build_nodes(reg)
    build_namespaces(reg)
    build_storage(reg)
    build_volumes(reg)
    build_workloads(reg)
    build_rbac(reg)
    build_secrets(reg)
    build_configmaps(reg)
    define_schedules()
    plan_backups()
    backups, catalog, catalog_pvbs = build_velero(reg)
    build_snapshots(reg)
    build_k8up(reg)
    build_kubestash(reg)
    build_plain_text_credentials(reg)
    out = cluster_files(reg, CLUSTER_NAME, 18_400_000)
    out[f"clusters/{CLUSTER_NAME}/{MANIFEST}"] = manifest(
        CLUSTER_NAME, K8S_VERSION, ago(minutes=3, seconds=12.418342), [])

    by_name = {b["metadata"]["name"]: b for b in backups}
    for name, files in catalog.items():
        files["velero-backup.json"] = kubectl_json(by_name[name])
        # Go encodes a nil slice as null: backups without pod volume backups store "null"
        files[f"{name}-podvolumebackups.json.gz"] = gz_json(catalog_pvbs[name] or None)
        for fname, data in files.items():
            out[f"catalog/backups/{name}/{fname}"] = data
    return out


def build() -> dict[str, bytes]:
    """Build the whole demo and return {relative path: bytes}."""
    out = build_prod()
    out.update(build_staging())
    out["as_of.txt"] = (ts(DEMO_AS_OF) + "\n").encode()
    return out


def write(out_dir: Path, files: dict[str, bytes]) -> None:
    for sub in ("clusters", "catalog"):
        if (out_dir / sub).exists():
            shutil.rmtree(out_dir / sub)
    for rel, data in sorted(files.items()):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="demo root (default: auditor/demo)")
    args = parser.parse_args(argv)
    files = build()
    write(args.out, files)
    total = sum(len(b) for b in files.values())
    print(f"wrote {len(files)} files, {total / 1024:.0f} KiB, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
