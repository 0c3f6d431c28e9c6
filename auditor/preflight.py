"""The restore preflight's I/O: read the backup (bucket catalog, else the source cluster), read the target
(a dump or a live context, as a scan does), and evaluate ``auditor.analyse.preflight``.

The catalog is the source of truth when given: ``velero-backup.json``, ``<b>-resource-list.json.gz``,
``<b>-volumeinfo.json.gz``, ``<b>-podvolumebackups.json.gz``, ``<b>-itemoperations.json.gz`` and, when the
copy holds it, the PVCs inside ``<b>.tar.gz``. The source cluster still says what the catalog cannot (its
BackupStorageLocation's provider/bucket/prefix, its Velero version, the PVCs' storage classes).
"""

from __future__ import annotations

import difflib
import gzip
import tarfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from auditor.analyse.preflight import BackupFacts, BackupVolume, PreflightReport, TargetFacts
from auditor.analyse.preflight_scope import evaluate
from auditor.analyse.velero_server import velero_servers
from auditor.collect.catalog import read_catalog
from auditor.collect.clusters import kubeconfig_targets
from auditor.collect.dump import read_dump
from auditor.collect.heap import gc_paused
from auditor.collect.live import LiveSource
from auditor.collect.served import read_served_dump, read_served_live
from auditor.errors import ApiStatusError, InputError
from auditor.model.inventory import Inventory
from auditor.model.tools import velero
from auditor.model.tools.velero import CatalogBackup, VeleroCatalog, VolumeInfo

RESTORE_HOOK_ANNOTATIONS = ("init.hook.restore.velero.io/container-image", "post.hook.restore.velero.io/command")
METHOD_OF = {"PodVolumeBackup": "fs-backup", "NativeSnapshot": "native-snapshot", "CSISnapshot": "csi-snapshot"}


@dataclass(frozen=True)
class Cluster:
    """A cluster as read for the preflight: its inventory, and (targets) its served resources."""

    name: str
    inventory: Inventory
    served: Any = None
    served_error: str | None = None


def read_cluster(snapshot: Path | None, context: str | None, kubeconfig: str | None, *,
                 discovery: bool = False) -> Cluster:
    """A dump directory or a kubeconfig context; unreachable is :class:`ClusterAccessError` naming it."""
    if snapshot is not None:
        with gc_paused():
            inventory = read_dump(snapshot)
        return Cluster(inventory.cluster, inventory, read_served_dump(snapshot) if discovery else None,
                       None if not discovery or (snapshot / ".auditor-api-resources.json").is_file() else
                       f"the dump {snapshot} records no served API resources (.auditor-api-resources.json)")
    targets = kubeconfig_targets(kubeconfig, (context,) if context else (), False)
    target = targets[0]
    source = LiveSource(target.api_client, target.name)
    inventory = source.collect()  # unreachable: ClusterAccessError naming the context (exit 1)
    served, error = None, None
    if discovery:
        try:
            served = read_served_live(source)
        except ApiStatusError as exc:
            error = f"the target's API discovery failed: {exc.message}"
    return Cluster(target.name, inventory, served, error)


def nearest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.8)
    if not close:  # the same schedule's backups, newest last
        prefix = name.rsplit("-", 1)[0]
        close = sorted(c for c in candidates if c.startswith(prefix))[-5:]
    return f"; nearest: {', '.join(close)}" if close else ""


def backup_facts(namespace: str, name: str, source: Cluster, catalog_dir: Path | None) -> BackupFacts:
    """The backup's facts from the catalog when one is given, else from the source cluster's objects."""
    inv = source.inventory
    if catalog_dir is not None:
        catalog = read_catalog(catalog_dir)
        entry = catalog.backups.get(name)
        if entry is None or entry.backup is None:
            looked = Path(catalog.location) / "backups" / name / "velero-backup.json"
            why = "is not readable" if entry is not None else "does not exist"
            raise InputError(f"backup {name} is not in the catalog: {looked} {why}"
                             + nearest(name, sorted(catalog.backups)))
        return _from_catalog(namespace, name, catalog, entry, inv)
    backup = inv.backup_by_key.get((namespace, name))
    if backup is None:
        names = sorted(b.meta.name for b in inv.backups if (b.meta.namespace or "") == namespace)
        raise InputError(f"no Backup {namespace}/{name} in cluster {inv.cluster}" + nearest(name, names),
                         obj=f"Backup {namespace}/{name}")
    return _from_cluster(namespace, backup, inv, source.name)


def _gz(path: Path) -> Any:
    return orjson.loads(gzip.decompress(path.read_bytes()))


def _optional_gz(path: Path, notes: list[str]) -> Any:
    if not path.is_file():
        return None
    try:
        return _gz(path)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, orjson.JSONDecodeError) as exc:
        notes.append(f"{path}: unreadable ({exc})")
        return None


def _tar_claims(path: Path, notes: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """PVCs and PVs inside the backup tarball: ``resources/persistentvolumeclaims/namespaces/NS/NAME.json``."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if not path.is_file():
        return out
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                parts = member.name.lstrip("./").split("/")
                if member.isfile() and len(parts) >= 4 and parts[0] == "resources" and parts[-1].endswith(".json") \
                        and parts[1] in ("persistentvolumeclaims", "persistentvolumes"):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        obj = orjson.loads(handle.read())
                        ns = parts[-2] if parts[1] == "persistentvolumeclaims" else ""
                        out[(parts[1] + ":" + ns, parts[-1][:-5])] = obj
    except (OSError, EOFError, tarfile.TarError, zlib.error, orjson.JSONDecodeError) as exc:
        notes.append(f"{path}: unreadable ({exc})")
    return out


def _raw_volume_info(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    try:
        items = _gz(path)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, orjson.JSONDecodeError):
        return {}
    if not isinstance(items, list):
        return {}
    return {(str(i.get("pvcNamespace") or ""), str(i.get("pvcName"))): i for i in items if isinstance(i, dict)}


def _claim_facts(ns: str, pvc: str, pv: str | None, inv: Inventory,
                 tar: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Storage class, access modes, volume mode (and PV reclaim policy) of a claim: the tarball, else the source."""
    raw = tar.get((f"persistentvolumeclaims:{ns}", pvc))
    if isinstance(raw, dict) and isinstance(raw.get("spec") or {}, dict):
        spec = raw.get("spec") or {}
        return {"storage_class": spec.get("storageClassName"), "access_modes": tuple(spec.get("accessModes") or ()),
                "volume_mode": spec.get("volumeMode") or "Filesystem", "pv": spec.get("volumeName") or pv}
    claim = inv.pvc_by_key.get((ns, pvc))
    volume = inv.pv_by_name.get(pv or (claim.volume_name if claim else "") or "")
    if claim is None:
        return {"storage_class": volume.storage_class if volume else None, "pv": pv,
                "volume_mode": volume.volume_mode if volume else None}
    return {"storage_class": claim.storage_class or (volume.storage_class if volume else None),
            "access_modes": claim.access_modes, "volume_mode": claim.volume_mode or "Filesystem",
            "pv": pv or claim.volume_name, "csi_driver": volume.source.csi_driver if volume else None,
            "reclaim_policy": volume.reclaim_policy if volume else None}


def _from_catalog(namespace: str, name: str, catalog: VeleroCatalog, entry: CatalogBackup,
                  inv: Inventory) -> BackupFacts:
    assert entry.backup is not None
    directory = Path(catalog.location) / "backups" / name
    notes = [f"{u}" for u in entry.unreadable]
    tar = _tar_claims(directory / f"{name}.tar.gz", notes)
    raw_info = _raw_volume_info(directory / f"{name}-volumeinfo.json.gz")
    volumes = []
    if entry.volume_info is not None:
        for vi in entry.volume_info:
            if vi.skipped:
                continue
            volumes.append(_catalog_volume(vi, raw_info.get((vi.pvc_namespace, vi.pvc_name), {}), inv, tar))
    elif entry.pod_volume_backups is not None:
        volumes += _pvb_volumes(entry.pod_volume_backups, inv, tar)
    resources = _optional_gz(directory / f"{name}-resource-list.json.gz", notes)
    operations = _optional_gz(directory / f"{name}-itemoperations.json.gz", notes)
    raw_backup = orjson.loads((directory / "velero-backup.json").read_bytes())
    spec = raw_backup.get("spec") if isinstance(raw_backup, dict) else None
    hooks_spec = spec.get("hooks") if isinstance(spec, dict) else None
    hooks = hooks_spec.get("resources") if isinstance(hooks_spec, dict) else None
    hooks = hooks if isinstance(hooks, list) else []
    native = entry.backup.snapshots_attempted if entry.volume_info is None else 0
    return _facts(namespace, name, f"catalog:{catalog.location}", "catalog", entry.backup, inv, tuple(volumes),
                  volumes_known=entry.volume_info is not None or entry.pod_volume_backups is not None,
                  native_unlisted=native, resource_list=_resource_list(resources, directory, name),
                  item_actions=_item_actions(operations), failed_items=entry.error_lines, backup_hooks=len(hooks),
                  notes=tuple(notes))


def _catalog_volume(vi: VolumeInfo, raw: dict[str, Any], inv: Inventory,
                    tar: dict[tuple[str, str], dict[str, Any]]) -> BackupVolume:
    method = METHOD_OF.get(vi.method or "")
    if method == "csi-snapshot" and vi.data_moved:
        method = "data-mover"
    claim = _claim_facts(vi.pvc_namespace, vi.pvc_name, vi.pv_name, inv, tar)
    csi, pv_info = raw.get("csiSnapshotInfo"), raw.get("pvInfo")
    driver = (csi.get("driver") if isinstance(csi, dict) else None) or claim.get("csi_driver")
    reclaim = (pv_info.get("reclaimPolicy") if isinstance(pv_info, dict) else None) or claim.get("reclaim_policy")
    return BackupVolume(namespace=vi.pvc_namespace, pvc=vi.pvc_name, method=method, pv=claim.get("pv"),
                        storage_class=claim.get("storage_class"), access_modes=claim.get("access_modes", ()),
                        volume_mode=claim.get("volume_mode"), csi_driver=driver, reclaim_policy=reclaim,
                        failed=vi.result == "failed")


def _pvb_volumes(pvbs: tuple[velero.PodVolumeBackup, ...], inv: Inventory,
                 tar: dict[tuple[str, str], dict[str, Any]]) -> list[BackupVolume]:
    out = []
    for p in pvbs:
        if not p.pvc_name or not p.pod_namespace:
            continue
        claim = _claim_facts(p.pod_namespace, p.pvc_name, None, inv, tar)
        out.append(BackupVolume(p.pod_namespace, p.pvc_name, "fs-backup", pv=claim.get("pv"),
                                storage_class=claim.get("storage_class"), access_modes=claim.get("access_modes", ()),
                                volume_mode=claim.get("volume_mode"), failed=p.phase == "Failed"))
    return out


def _from_cluster(namespace: str, backup: velero.Backup, inv: Inventory, cluster: str) -> BackupFacts:
    """Without a catalog: PodVolumeBackups, DataUploads and the VolumeSnapshots Velero labelled for it."""
    key = (namespace, backup.meta.name)
    volumes = _pvb_volumes(inv.pvbs_by_backup.get(key, ()), inv, {})
    for du in inv.data_uploads_by_backup.get(key, ()):
        if du.source_namespace and du.source_pvc:
            c = _claim_facts(du.source_namespace, du.source_pvc, None, inv, {})
            volumes.append(BackupVolume(du.source_namespace, du.source_pvc, "data-mover", pv=c.get("pv"),
                                        storage_class=c.get("storage_class"), access_modes=c.get("access_modes", ()),
                                        volume_mode=c.get("volume_mode"), csi_driver=c.get("csi_driver"),
                                        failed=du.phase == "Failed"))
    for vs in inv.volume_snapshots:
        if vs.meta.labels.get("velero.io/backup-name") == backup.meta.name and vs.source_pvc and vs.meta.namespace:
            c = _claim_facts(vs.meta.namespace, vs.source_pvc, None, inv, {})
            volumes.append(BackupVolume(vs.meta.namespace, vs.source_pvc, "csi-snapshot", pv=c.get("pv"),
                                        storage_class=c.get("storage_class"), access_modes=c.get("access_modes", ()),
                                        volume_mode=c.get("volume_mode"), csi_driver=c.get("csi_driver"),
                                        failed=vs.error is not None))
    notes = ("read from the source cluster's objects (no --velero-catalog): the resource list and native "
             "snapshots' volumes are in the bucket only",)
    return _facts(namespace, backup.meta.name, f"cluster:{cluster}", "cluster", backup, inv, tuple(volumes),
                  volumes_known=inv.gap_for("podvolumebackups.velero.io") is None
                  and inv.gap_for("datauploads.velero.io") is None,
                  native_unlisted=backup.snapshots_attempted, resource_list=None, item_actions=None,
                  failed_items={}, backup_hooks=0, notes=notes)


def _facts(namespace: str, name: str, source: str, truth: str, backup: velero.Backup, inv: Inventory,
           volumes: tuple[BackupVolume, ...], *, volumes_known: bool, native_unlisted: int,
           resource_list: dict[str, tuple[str, ...]] | None, item_actions: tuple[str, ...] | None,
           failed_items: dict[str, tuple[str, ...]], backup_hooks: int, notes: tuple[str, ...]) -> BackupFacts:
    """What only the source cluster knows: its BSL and VSLs, its Velero version, restore hooks on its pods."""
    location_name = backup.spec.storage_location or "default"
    location = next((b for b in inv.bsls if b.meta.name == location_name and b.meta.namespace == namespace), None)
    wanted = backup.spec.volume_snapshot_locations
    vsls = tuple(v for v in inv.vsls if v.meta.namespace == namespace and (not wanted or v.meta.name in wanted))
    server = velero_servers(inv).get(namespace)
    image = next((i for i in server.deployment.images if "velero" in i), None) if server and server.deployment else None
    backed_up = {v.namespace for v in volumes} | set(backup.spec.included_namespaces)
    if resource_list is not None:
        backed_up |= {i.split("/", 1)[0] for items in resource_list.values() for i in items if "/" in i}
    hooks = tuple(f"{p.meta.namespace}/{p.meta.name}: {a}" for p in inv.pods if p.meta.namespace in backed_up
                  for a in RESTORE_HOOK_ANNOTATIONS if a in p.meta.annotations)
    return BackupFacts(namespace=namespace, name=name, source=source, source_of_truth=truth, backup=backup,
                       location=location, volumes=tuple(sorted(volumes, key=lambda v: (v.namespace, v.pvc))),
                       volumes_known=volumes_known, native_snapshots_unlisted=native_unlisted,
                       resource_list=resource_list, item_actions=item_actions, snapshot_locations=vsls,
                       failed_items=failed_items, source_velero_image=image, restore_hooks=hooks,
                       backup_hooks=backup_hooks, notes=notes)


def _resource_list(raw: Any, directory: Path, name: str) -> dict[str, tuple[str, ...]] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise InputError("expected an object of lists", file=str(directory / f"{name}-resource-list.json.gz"))
    return {str(k): tuple(str(x) for x in v) for k, v in raw.items()}


def _item_actions(raw: Any) -> tuple[str, ...] | None:
    if not isinstance(raw, list):
        return None
    names = {str((op.get("spec") or {}).get("backupItemAction") or "") for op in raw if isinstance(op, dict)}
    return tuple(sorted(n for n in names if n))


def run_preflight(backup: str, source: Cluster, catalog_dir: Path | None, target: Cluster, as_of: datetime,
                  namespace_mapping: dict[str, str], storage_class_mapping: dict[str, str]) -> PreflightReport:
    namespace, sep, name = backup.partition("/")
    if not sep or not namespace or not name:
        raise InputError(f"--backup {backup!r}: expected NAMESPACE/NAME (e.g. velero/daily-20261120020000)")
    facts = backup_facts(namespace, name, source, catalog_dir)
    return evaluate(facts, TargetFacts(target.inventory, target.served, target.served_error), as_of,
                    target_name=target.name, namespace_mapping=namespace_mapping,
                    storage_class_mapping_flags=storage_class_mapping)
