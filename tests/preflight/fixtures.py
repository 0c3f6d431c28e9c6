"""A source cluster, its bucket catalog and a target cluster, as files (real-shaped JSON), for the preflight."""

from __future__ import annotations

import copy
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import factories as f

BACKUP = "shop-daily-20261120020000"
SHOP_PV = "pvc-0c6a3a4e-6d0f-4a55-9f57-1d0a4a1f0001"


def api_resource_list(group_version: str, *resources: tuple[str, str, bool]) -> dict[str, Any]:
    """As ``kubectl get --raw /apis/<group>/<version>`` prints it."""
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [{"name": plural, "singularName": plural[:-1], "namespaced": namespaced, "kind": kind,
                           "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                          for plural, kind, namespaced in resources]}


def served_documents(*, widgets_versions: tuple[str, ...] = ("v1",)) -> list[dict[str, Any]]:
    docs = [
        api_resource_list("v1", ("namespaces", "Namespace", False), ("pods", "Pod", True),
                          ("persistentvolumeclaims", "PersistentVolumeClaim", True),
                          ("persistentvolumes", "PersistentVolume", False), ("configmaps", "ConfigMap", True),
                          ("services", "Service", True), ("pods/log", "Pod", True)),
        api_resource_list("apps/v1", ("deployments", "Deployment", True), ("statefulsets", "StatefulSet", True)),
        api_resource_list("rbac.authorization.k8s.io/v1", ("clusterroles", "ClusterRole", False)),
    ]
    docs += [api_resource_list(f"example.com/{v}", ("widgets", "Widget", True)) for v in widgets_versions]
    groups = [{"name": "example.com", "versions": [{"groupVersion": f"example.com/{v}", "version": v}
                                                    for v in widgets_versions],
               "preferredVersion": {"groupVersion": f"example.com/{widgets_versions[0]}",
                                    "version": widgets_versions[0]}}] if widgets_versions else []
    return [{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}, *docs]


def shop_objects() -> list[dict[str, Any]]:
    """The shop namespace: one Deployment's pod mounting a ceph-rbd claim."""
    return [f.namespace("shop"), f.pvc("data", "shop", volume=SHOP_PV), f.pv(SHOP_PV, "shop", "data"),
            f.pod("web-0", "shop", {"data": "data"})]


def backup_object(**status: Any) -> dict[str, Any]:
    return f.backup(BACKUP, schedule_name="shop-daily", hours_ago=10, includedNamespaces=["shop"],
                    status=status or None)


def volume_info(method: str = "CSISnapshot", *, data_moved: bool = False, result: str = "succeeded",
                driver: str = "rbd.csi.ceph.com") -> list[dict[str, Any]]:
    """As Velero writes ``<b>-volumeinfo.json.gz`` (``internal/volume/volumes_information.go``)."""
    item: dict[str, Any] = {"pvcName": "data", "pvcNamespace": "shop", "pvName": SHOP_PV, "backupMethod": method,
                            "snapshotDataMoved": data_moved, "skipped": False, "result": result,
                            "startTimestamp": f.ts(10), "completionTimestamp": f.ts(9.9),
                            "pvInfo": {"reclaimPolicy": "Delete", "labels": None}}
    if method == "CSISnapshot":
        item["csiSnapshotInfo"] = {"snapshotHandle": "h-1", "size": 10737418240, "driver": driver,
                                   "vscName": "snapcontent-1", "ReadyToUse": True}
    if method == "NativeSnapshot":
        item["nativeSnapshotInfo"] = {"snapshotHandle": "snap-0abc", "volumeType": "gp3", "volumeAZ": "eu-west-1a"}
    return [item]


def resource_list() -> dict[str, list[str]]:
    return {"v1/Namespace": ["shop"], "v1/PersistentVolumeClaim": ["shop/data"], "v1/PersistentVolume": [SHOP_PV],
            "v1/Pod": ["shop/web-0"], "apps/v1/Deployment": ["shop/web"], "example.com/v1/Widget": ["shop/w1"]}


@dataclass
class Scenario:
    """Edit the lists, then :meth:`write` the three directories."""

    source: list[dict[str, Any]] = field(default_factory=lambda: [*f.base_cluster(), *shop_objects()])
    target: list[dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(f.base_cluster()))
    backup: dict[str, Any] = field(default_factory=backup_object)
    volume_info: list[dict[str, Any]] | None = field(default_factory=volume_info)
    resource_list: dict[str, list[str]] | None = field(default_factory=resource_list)
    item_operations: list[dict[str, Any]] | None = None
    served: list[dict[str, Any]] | None = field(default_factory=served_documents)
    target_manifest_gaps: list[dict[str, Any]] = field(default_factory=list)

    def write(self, root: Path) -> tuple[Path, Path, Path]:
        src, cat, dst = root / "source", root / "catalog", root / "target"
        _write_list(src / "objects.json", [*self.source, self.backup])
        (src / ".auditor-snapshot.json").write_text(json.dumps({"cluster": "prod", "gaps": []}))
        folder = cat / "backups" / BACKUP
        folder.mkdir(parents=True)
        (folder / "velero-backup.json").write_text(json.dumps(self.backup))
        for suffix, data in (("volumeinfo", self.volume_info), ("resource-list", self.resource_list),
                             ("itemoperations", self.item_operations)):
            if data is not None:
                (folder / f"{BACKUP}-{suffix}.json.gz").write_bytes(gzip.compress(json.dumps(data).encode()))
        _write_list(dst / "objects.json", self.target)
        (dst / ".auditor-snapshot.json").write_text(json.dumps({"cluster": "dr", "gaps": self.target_manifest_gaps}))
        if self.served is not None:
            (dst / ".auditor-api-resources.json").write_text(json.dumps(
                {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": self.served}))
        return src, cat, dst


def _write_list(path: Path, items: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                                "items": items}))


def replace(objects: list[dict[str, Any]], kind: str, name: str, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``objects`` with the object of that kind and name replaced (or removed when ``new`` is None)."""
    out = [o for o in objects if not (o["kind"] == kind and o["metadata"]["name"] == name)]
    return out + ([new] if new is not None else [])


def velero_with_plugins(image: str = "velero/velero:v1.18.1",
                        plugins: tuple[str, ...] = ("velero/velero-plugin-for-aws:v1.14.1",)) -> dict[str, Any]:
    dep = f.velero_deployment()
    spec = dep["spec"]["template"]["spec"]
    spec["containers"][0]["image"] = image
    spec["initContainers"] = [{"name": p.rsplit("/", 1)[-1].split(":")[0], "image": p,
                               "volumeMounts": [{"name": "plugins", "mountPath": "/target"}]} for p in plugins]
    return dep


def default_scenario() -> Scenario:
    s = Scenario()
    s.source = replace(s.source, "Deployment", "velero", velero_with_plugins())
    s.target = replace(s.target, "Deployment", "velero", velero_with_plugins())
    return s
