"""Where the executor reads a Schedule: a live cluster (GET) or a dump (the raw object, as written)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.collect.builder import InventoryBuilder
from auditor.collect.dump import add_object, dump_files, iter_objects
from auditor.collect.live import LiveSource
from auditor.errors import ApiStatusError, InputError


def schedule_from_dump(root: Path, namespace: str, name: str) -> dict[str, Any]:
    for path in dump_files(Path(root)):
        if path.name.startswith("."):
            continue
        for _, obj in iter_objects(path):
            if isinstance(obj, dict) and obj.get("kind") == "Schedule" and \
                    str(obj.get("apiVersion", "")).startswith("velero.io/"):
                meta = obj.get("metadata") or {}
                if meta.get("namespace") == namespace and meta.get("name") == name:
                    return obj
    raise InputError(f"no Velero Schedule {namespace}/{name} in the dump", file=str(root))


def schedule_from_cluster(api: Any, namespace: str, name: str) -> dict[str, Any]:
    source = LiveSource(api, "executor")
    try:
        obj = source.get_json(f"/apis/velero.io/v1/namespaces/{namespace}/schedules/{name}")
    except ApiStatusError as exc:
        raise InputError(f"cannot read Velero Schedule {namespace}/{name}: {exc.message}") from None
    if not isinstance(obj, dict):
        raise InputError(f"Velero Schedule {namespace}/{name}: unexpected answer")
    return obj


def snapshot_inventory(api: Any, namespace: str, pvc: str) -> Any:
    """Just what choosing a VolumeSnapshotClass (and the PVC's policy) needs, read live: the PVC, its Namespace
    (listed by name: the auditor's role lists namespaces), StorageClasses, snapshot classes."""
    source = LiveSource(api, "executor")
    builder = InventoryBuilder("executor", "live")
    try:
        claim = source.get_json(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{pvc}")
        namespaces = source.get_json("/api/v1/namespaces", [("fieldSelector", f"metadata.name={namespace}")])
        classes = source.get_json("/apis/storage.k8s.io/v1/storageclasses")
        snapshot_classes = source.get_json("/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses")
    except ApiStatusError as exc:
        raise InputError(f"cannot read what snapshotting {namespace}/{pvc} needs: {exc.message}") from None
    claim.setdefault("apiVersion", "v1")
    claim.setdefault("kind", "PersistentVolumeClaim")
    add_object(builder, claim, "live")
    for doc, api_version, kind in ((namespaces, "v1", "Namespace"), (classes, "storage.k8s.io/v1", "StorageClass"),
                                   (snapshot_classes, "snapshot.storage.k8s.io/v1", "VolumeSnapshotClass")):
        for item in doc.get("items") or []:
            add_object(builder, {"apiVersion": api_version, "kind": kind, **item}, "live")
    return builder.build()


def drill_inputs_from_dump(root: Path, namespace: str, schedule: str) -> tuple[list[dict[str, Any]],
                                                                                 list[dict[str, Any]]]:
    """What planning a restore drill reads, from a dump: the schedule's Backups and the Namespaces."""
    backups, namespaces = [], []
    for path in dump_files(Path(root)):
        if path.name.startswith("."):
            continue
        for _, obj in iter_objects(path):
            if not isinstance(obj, dict):
                continue
            meta = obj.get("metadata") or {}
            if obj.get("kind") == "Namespace":
                namespaces.append(obj)
            elif obj.get("kind") == "Backup" and str(obj.get("apiVersion", "")).startswith("velero.io/") and \
                    meta.get("namespace") == namespace and \
                    (meta.get("labels") or {}).get("velero.io/schedule-name") == schedule:
                backups.append(obj)
    return backups, namespaces
