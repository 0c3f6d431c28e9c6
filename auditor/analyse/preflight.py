"""Restore preflight: will this Velero backup restore into that cluster? (pure: no I/O, no clock).

The backup's facts (:class:`BackupFacts`, read from the bucket catalog or the source cluster by
``auditor/preflight_io.py``) are held against the target's inventory and discovery. Every check yields
blockers, warnings, or *unknown* where the target could not be read: unknown is never ready. The codes
are documented in ``docs/preflight.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from auditor.analyse.velero_server import VeleroServer, velero_servers
from auditor.model import records as r
from auditor.model.inventory import Inventory
from auditor.model.served import ServedResources
from auditor.model.tools import velero

SCHEMA_VERSION = "1"
BLOCKER, WARNING, UNKNOWN = "blocker", "warning", "unknown"
METHODS = ("csi-snapshot", "data-mover", "fs-backup", "native-snapshot")
CHANGE_SC_CONFIG = "change-storage-class-config"
CHANGE_SC_LABEL = "velero.io/change-storage-class"

#: Provisioners whose volumes cannot be ReadWriteMany / Block: only what is documented by their drivers.
NO_RWX = frozenset({"ebs.csi.aws.com", "kubernetes.io/aws-ebs", "pd.csi.storage.gke.io", "kubernetes.io/gce-pd",
                    "disk.csi.azure.com", "kubernetes.io/azure-disk", "rancher.io/local-path"})
NO_BLOCK = frozenset({"rancher.io/local-path", "nfs.csi.k8s.io", "cephfs.csi.ceph.com", "efs.csi.aws.com",
                      "file.csi.azure.com", "k8s-sigs.io/nfs-subdir-external-provisioner"})
#: Object-store / snapshotter providers served by a plugin image of this name (Velero has none built in).
PROVIDER_PLUGINS = {"aws": "velero-plugin-for-aws", "velero.io/aws": "velero-plugin-for-aws",
                    "azure": "velero-plugin-for-microsoft-azure",
                    "velero.io/azure": "velero-plugin-for-microsoft-azure",
                    "gcp": "velero-plugin-for-gcp", "velero.io/gcp": "velero-plugin-for-gcp"}
CSI_BUILTIN_SINCE = (1, 14)  # the CSI plugin was merged into Velero 1.14


@dataclass(frozen=True)
class BackupVolume:
    """One volume of the backup, with how it was backed up and what its claim asked for."""

    namespace: str
    pvc: str
    method: str | None  # one of METHODS; None: not known
    pv: str | None = None
    storage_class: str | None = None
    access_modes: tuple[str, ...] = ()
    volume_mode: str | None = None
    csi_driver: str | None = None
    reclaim_policy: str | None = None
    failed: bool = False


@dataclass(frozen=True)
class BackupFacts:
    """The backup as the source of truth sees it (``source_of_truth``: ``catalog`` or ``cluster``)."""

    namespace: str
    name: str
    source: str  # where it was read: "catalog:DIR" or "cluster:NAME"
    source_of_truth: str
    backup: velero.Backup
    location: velero.BackupStorageLocation | None  # the source's BSL the backup was written to
    volumes: tuple[BackupVolume, ...] = ()
    volumes_known: bool = True  # False: the volume list could not be read
    native_snapshots_unlisted: int = 0  # native snapshots whose volumes are not named (no volume info)
    resource_list: dict[str, tuple[str, ...]] | None = None  # "group/version/Kind" -> ["ns/name" | "name"]
    item_actions: tuple[str, ...] | None = None  # BackupItemAction names of the item operations
    snapshot_locations: tuple[velero.VolumeSnapshotLocation, ...] = ()  # the source's VSLs the backup used
    failed_items: dict[str, tuple[str, ...]] = field(default_factory=dict)  # namespace -> error lines
    source_velero_image: str | None = None
    restore_hooks: tuple[str, ...] = ()  # "ns/pod: annotation" of restore hooks on the backed-up pods
    backup_hooks: int = 0  # hook resources in the backup spec
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Issue:
    code: str
    severity: str  # blocker | warning | unknown
    kind: str
    namespace: str | None
    name: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "kind": self.kind, "namespace": self.namespace, "name": self.name,
                "message": self.message}


@dataclass(frozen=True)
class VolumeVerdict:
    volume: BackupVolume
    target_namespace: str
    target_storage_class: str | None
    restorable: bool | None  # None: unknown
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        v = self.volume
        return {"namespace": v.namespace, "pvc": v.pvc, "method": v.method, "storage_class": v.storage_class,
                "target_namespace": self.target_namespace, "target_storage_class": self.target_storage_class,
                "restorable": self.restorable, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class PreflightReport:
    backup: str
    source: str
    source_of_truth: str
    target: str
    issues: tuple[Issue, ...]
    volumes: tuple[VolumeVerdict, ...]
    storage_class_mapping: dict[str, str]
    namespace_mapping: dict[str, str]
    notes: tuple[str, ...] = ()

    def of(self, severity: str) -> list[Issue]:
        return [i for i in self.issues if i.severity == severity]

    @property
    def ready(self) -> bool:
        """Ready only when nothing blocks and nothing is unknown (unknown is never ready)."""
        return not self.of(BLOCKER) and not self.of(UNKNOWN)

    def document(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "backup": self.backup, "source": self.source,
                "source_of_truth": self.source_of_truth, "target": self.target, "ready": self.ready,
                "blockers": [i.as_dict() for i in self.of(BLOCKER)],
                "warnings": [i.as_dict() for i in self.of(WARNING)],
                "unknown": [i.as_dict() for i in self.of(UNKNOWN)],
                "volumes": [v.as_dict() for v in self.volumes],
                "mappings": {"namespaces": self.namespace_mapping, "storage_classes": self.storage_class_mapping},
                "notes": list(self.notes)}


@dataclass(frozen=True)
class TargetFacts:
    inventory: Inventory
    served: ServedResources | None  # None: discovery not recorded / not readable
    served_error: str | None = None


# --- helpers -------------------------------------------------------------------------------------


def parse_gvk(key: str) -> tuple[str, str, str]:
    """``apps/v1/Deployment`` → (apps, v1, Deployment); ``v1/Namespace`` → ("", v1, Namespace)."""
    parts = key.split("/")
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return "/".join(parts[:-2]), parts[-2], parts[-1]


def image_version(image: str | None) -> tuple[int, ...] | None:
    """``velero/velero:v1.18.1`` → (1, 18, 1); None when the tag is not a version (a digest, ``latest``)."""
    if not image or ":" not in image.rsplit("/", 1)[-1]:
        return None
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?", image.rsplit(":", 1)[1])
    return tuple(int(x) for x in match.groups(default="0")) if match else None


def storage_class_mapping(inv: Inventory, velero_ns: str | None, flags: Mapping[str, str]) -> dict[str, str]:
    """Velero's ``change-storage-class-config`` ConfigMap in the target (by name or by its label), then the
    flags on top (a flag wins for the same class)."""
    mapping: dict[str, str] = {}
    for cm in inv.config_maps:
        if cm.meta.namespace == velero_ns and (
                cm.meta.name == CHANGE_SC_CONFIG or cm.meta.labels.get(CHANGE_SC_LABEL) == "RestoreItemAction"):
            mapping.update(cm.data)
    mapping.update(flags)
    return mapping


def _target_velero(inv: Inventory) -> VeleroServer | None:
    servers = [s for s in velero_servers(inv).values() if s.deployment is not None]
    return next((s for s in servers if s.running), servers[0] if servers else None)


def _velero_image(server: VeleroServer | None) -> str | None:
    if server is None or server.deployment is None:
        return None
    return next((i for i in server.deployment.images if "velero" in i.rsplit("/", 1)[-1]),
                server.deployment.images[0] if server.deployment.images else None)


class _Checks:
    """One evaluation: collects issues; each ``check_*`` adds its own code's issues."""

    def __init__(self, facts: BackupFacts, target: TargetFacts, as_of: datetime, ns_map: Mapping[str, str],
                 sc_flags: Mapping[str, str]) -> None:
        self.facts, self.target, self.inv, self.as_of = facts, target, target.inventory, as_of
        self.ns_map = dict(ns_map)
        self.server = _target_velero(self.inv)
        self.velero_ns = self.server.namespace if self.server else (
            self.inv.backup_namespaces[0] if self.inv.backup_namespaces else facts.namespace)
        self.sc_map = storage_class_mapping(self.inv, self.velero_ns, sc_flags)
        self.issues: list[Issue] = []

    def add(self, code: str, severity: str, kind: str, namespace: str | None, name: str | None, message: str) -> None:
        self.issues.append(Issue(code, severity, kind, namespace, name, message))

    def gap(self, *resources: str) -> str | None:
        """The message of the first target gap that hides one of ``resources``."""
        for res in resources:
            g = self.inv.gap_for(res)
            if g is not None:
                return f"the target's {res} could not be read ({g.reason}: {g.message})"
        return None

    # --- visibility and state ------------------------------------------------------------------

    def check_location(self) -> None:
        loc = self.facts.location
        name = self.facts.backup.spec.storage_location or "default"
        if loc is None:
            self.add("PF-001", UNKNOWN, "BackupStorageLocation", self.facts.namespace, name,
                     f"the source's BackupStorageLocation {name!r} is not known, so where the backup lives is unknown")
            return
        if (why := self.gap("backupstoragelocations.velero.io")) is not None:
            self.add("PF-001", UNKNOWN, "BackupStorageLocation", self.velero_ns, name, why)
            return
        where = f"{loc.provider}:{loc.bucket}/{(loc.prefix or '').strip('/')}"
        same = [b for b in self.inv.bsls if (b.provider or "").removeprefix("velero.io/")
                == (loc.provider or "").removeprefix("velero.io/") and b.bucket == loc.bucket
                and (b.prefix or "").strip("/") == (loc.prefix or "").strip("/")]
        if not same:
            self.add("PF-001", BLOCKER, "BackupStorageLocation", self.velero_ns, name,
                     f"no BackupStorageLocation in the target points at {where}: the backup is not visible there")
            return
        if not any(b.phase == "Available" for b in same):
            b = same[0]
            self.add("PF-002", BLOCKER, "BackupStorageLocation", b.meta.namespace, b.meta.name,
                     f"BackupStorageLocation {b.meta.name} points at {where} but is {b.phase or 'not validated'}"
                     + (f" ({b.message})" if b.message else ""))

    def check_state(self) -> None:
        b, ns, name = self.facts.backup, self.facts.namespace, self.facts.name
        if b.phase not in ("Completed", "PartiallyFailed"):
            self.add("PF-003", BLOCKER, "Backup", ns, name,
                     f"the backup is {b.phase or 'without a phase'}, not Completed or PartiallyFailed"
                     + (f": {b.failure_reason}" if b.failure_reason else ""))
        elif b.phase == "PartiallyFailed":
            failed = "; ".join(f"{k or '(cluster)'}: {len(v)} error(s), e.g. {v[0]}"
                               for k, v in sorted(self.facts.failed_items.items()) if v)
            self.add("PF-003", WARNING, "Backup", ns, name,
                     f"the backup PartiallyFailed with {b.errors} error(s)" + (f" ({failed})" if failed else
                                                                               ": its items that failed are missing"))
        if b.meta.deleting or b.phase == "Deleting":
            self.add("PF-004", BLOCKER, "Backup", ns, name, "the backup is being deleted")
        elif b.expiration is not None and b.expiration <= self.as_of:
            self.add("PF-004", BLOCKER, "Backup", ns, name,
                     f"the backup expired at {b.expiration.isoformat()}: garbage collection deletes it")

    # --- volumes -------------------------------------------------------------------------------

    def volume_verdicts(self) -> list[VolumeVerdict]:
        if not self.facts.volumes_known:
            self.add("PF-010", UNKNOWN, "Backup", self.facts.namespace, self.facts.name,
                     "the backup's volumes could not be read, so their restore is unknown")
        if self.facts.native_snapshots_unlisted:
            self.add("PF-013", UNKNOWN, "Backup", self.facts.namespace, self.facts.name,
                     f"{self.facts.native_snapshots_unlisted} native snapshot(s) whose volumes are not named "
                     "without the catalog's volume info (--velero-catalog)")
        return [self.volume(v) for v in self.facts.volumes]

    def volume(self, v: BackupVolume) -> VolumeVerdict:
        ns = self.ns_map.get(v.namespace, v.namespace)
        blockers: list[str] = []
        unknown: list[str] = []
        target_sc = self.sc_map.get(v.storage_class, v.storage_class) if v.storage_class else None
        sc = None
        if v.failed:
            blockers.append("its backup failed: there is no data to restore")
            self.add("PF-015", BLOCKER, "PersistentVolumeClaim", v.namespace, v.pvc,
                     f"the backup of {v.namespace}/{v.pvc} failed: there is no data to restore")
        if v.storage_class is None:
            unknown.append("its storage class is not known")
        elif (why := self.gap("storageclasses.storage.k8s.io")) is not None or (
                v.storage_class not in self.sc_map and (why := self.gap("configmaps")) is not None):
            unknown.append(why)
        elif (sc := self.inv.storage_class_by_name.get(target_sc or "")) is None:
            mapped = f" (mapped from {v.storage_class})" if target_sc != v.storage_class else ""
            blockers.append(f"StorageClass {target_sc}{mapped} does not exist in the target")
            self.add("PF-010", BLOCKER, "StorageClass", None, target_sc,
                     f"StorageClass {target_sc}{mapped} does not exist in the target; {v.namespace}/{v.pvc} needs it "
                     "(map it with --storage-class-mapping or Velero's change-storage-class-config)")
        method_reasons = {"csi-snapshot": self.csi_reasons, "data-mover": self.agent_reasons,
                          "fs-backup": self.agent_reasons, "native-snapshot": self.native_reasons}
        if v.method is None:
            unknown.append("how it was backed up is not known")
        else:
            b, u = method_reasons[v.method](v, sc)
            blockers += b
            unknown += u
        if sc is not None:
            blockers += self.mode_reasons(v, sc)
        for reason in unknown:
            self.add("PF-010", UNKNOWN, "PersistentVolumeClaim", v.namespace, v.pvc, reason)
        restorable = False if blockers else (None if unknown else True)
        return VolumeVerdict(v, ns, target_sc, restorable, tuple(blockers + unknown))

    def csi_reasons(self, v: BackupVolume, sc: r.StorageClass | None) -> tuple[list[str], list[str]]:
        driver = v.csi_driver or (sc.provisioner if sc else None)
        if driver is None:
            return [], ["the CSI driver of its snapshot is not known"]
        if (why := self.gap("volumesnapshotclasses.snapshot.storage.k8s.io", "csidrivers.storage.k8s.io")):
            return [], [why]
        out = []
        if sc is not None and sc.provisioner != driver:
            out.append(f"its snapshot is of CSI driver {driver}, but StorageClass {sc.meta.name} provisions with "
                       f"{sc.provisioner}")
            self.add("PF-011", BLOCKER, "StorageClass", None, sc.meta.name, f"{v.namespace}/{v.pvc}: " + out[-1])
        if not any(d.meta.name == driver for d in self.inv.csi_drivers) and not any(
                s.provisioner == driver for s in self.inv.storage_classes):
            out.append(f"the target has no CSI driver {driver}")
            self.add("PF-011", BLOCKER, "CSIDriver", None, driver,
                     f"the target has no CSI driver {driver} for the snapshot of {v.namespace}/{v.pvc}")
        if not self.inv.snapshot_classes_by_driver.get(driver):
            out.append(f"the target has no VolumeSnapshotClass for {driver}")
            self.add("PF-011", BLOCKER, "VolumeSnapshotClass", None, driver,
                     f"the target has no VolumeSnapshotClass for driver {driver} "
                     f"(needed to restore the snapshot of {v.namespace}/{v.pvc})")
        return out, []

    def agent_reasons(self, v: BackupVolume, sc: r.StorageClass | None) -> tuple[list[str], list[str]]:
        if (why := self.gap("daemonsets.apps", "pods")) is not None:
            return [], [why]
        agent = self.server.node_agent if self.server else None
        what = "file-system backup" if v.method == "fs-backup" else "data-mover"
        if agent is None or not (agent.ready or 0):
            state = "no node-agent DaemonSet" if agent is None else "a node-agent DaemonSet with no ready pod"
            self.add("PF-012", BLOCKER, "DaemonSet", self.velero_ns, agent.meta.name if agent else "node-agent",
                     f"{v.namespace}/{v.pvc} needs node-agent for its {what} restore; the target has {state}")
            return [f"the target has {state} for its {what} restore"], []
        return [], []

    def native_reasons(self, v: BackupVolume, sc: r.StorageClass | None) -> tuple[list[str], list[str]]:
        if (why := self.gap("volumesnapshotlocations.velero.io")) is not None:
            return [], [why]
        wanted = self.facts.snapshot_locations
        if not wanted:
            return [], ["the backup's VolumeSnapshotLocation is not known"]
        out = []
        for vsl in wanted:
            same = [t for t in self.inv.vsls if t.provider == vsl.provider]
            region = vsl.config.get("region")
            if not same:
                out.append(f"the target has no VolumeSnapshotLocation of provider {vsl.provider}")
            elif region and not any(t.config.get("region") == region for t in same):
                out.append(f"the target's VolumeSnapshotLocations of {vsl.provider} are not in region {region}")
            else:
                continue
            self.add("PF-013", BLOCKER, "VolumeSnapshotLocation", self.velero_ns, vsl.meta.name,
                     f"{v.namespace}/{v.pvc}: {out[-1]} (its native snapshot lives there)")
        return out, []

    def mode_reasons(self, v: BackupVolume, sc: r.StorageClass) -> list[str]:
        out = []
        if "ReadWriteMany" in v.access_modes and sc.provisioner in NO_RWX:
            out.append(f"ReadWriteMany is not supported by {sc.provisioner} (StorageClass {sc.meta.name})")
        if v.volume_mode == "Block" and sc.provisioner in NO_BLOCK:
            out.append(f"volumeMode Block is not supported by {sc.provisioner} (StorageClass {sc.meta.name})")
        if v.volume_mode == "Block" and v.method == "fs-backup":
            out.append("file-system backup cannot restore a Block volume")
        for reason in out:
            self.add("PF-014", BLOCKER, "StorageClass", None, sc.meta.name, f"{v.namespace}/{v.pvc}: {reason}")
        return out

    def check_agent_coverage(self) -> None:
        """Node-agent on fewer nodes than are Ready: pods scheduled there cannot be restored (warning)."""
        agent = self.server.node_agent if self.server else None
        if agent is None or not agent.ready or self.gap("daemonsets.apps", "pods", "nodes") or not any(
                v.method in ("fs-backup", "data-mover") for v in self.facts.volumes):
            return
        ready_nodes = {n.meta.name for n in self.inv.nodes if n.ready}
        missing = sorted(ready_nodes - (self.server.node_agent_nodes if self.server else frozenset()))
        if missing:
            self.add("PF-012", WARNING, "DaemonSet", agent.meta.namespace, agent.meta.name,
                     f"node-agent is not running on {len(missing)} Ready node(s) ({', '.join(missing[:5])}): "
                     "restored pods scheduled there wait for it")
