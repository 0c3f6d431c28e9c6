"""Which data path a Velero backup spec would use for one PVC, with Velero's exact rules.

Order of decisions (docs:resource-filtering "VolumePolicy priority"): include/exclude filters →
volume policy → file-system-backup annotations → ``snapshotVolumes``. References in comments are
paths in vmware-tanzu/velero (see shared/reference/velero.md §2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import msgspec

from auditor.analyse.resource_policy import (
    PolicyError,
    ResourcePolicies,
    VolumePolicy,
    decode_policies,
    match_action,
    pvc_facts,
)
from auditor.analyse.velero_server import DEFAULT_TTL, VeleroServer
from auditor.model import records as r
from auditor.model.globs import GLOB_CHARS, includes_excludes, velero_any_glob
from auditor.model.inventory import Inventory
from auditor.model.tools import csi, velero

EXCLUDE_LABEL = "velero.io/exclude-from-backup"
FSB_INCLUDE_ANNOTATION = "backup.velero.io/backup-volumes"
FSB_EXCLUDE_ANNOTATION = "backup.velero.io/backup-volumes-excludes"
PVC_CLASS_ANNOTATION = "velero.io/csi-volumesnapshot-class"
BACKUP_CLASS_ANNOTATION_PREFIX = "velero.io/csi-volumesnapshot-class_"
CLASS_LABEL = "velero.io/csi-volumesnapshot-class"
DEFAULT_CLASS_ANNOTATION = "snapshot.storage.kubernetes.io/is-default-class"

#: Pod volume types file-system backup never takes (podvolume ``shouldIncludeVolumeInBackup``).
FSB_NEVER = frozenset({"hostPath", "secret", "configMap", "projected", "downwardAPI"})

#: Native VolumeSnapshotter plugins and the volumes they recognise: in-tree type and CSI drivers.
NATIVE_SNAPSHOTTERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "aws": (frozenset({"awsElasticBlockStore"}), frozenset({"ebs.csi.aws.com"})),
    "gcp": (frozenset({"gcePersistentDisk"}), frozenset({"pd.csi.storage.gke.io"})),
    "azure": (frozenset({"azureDisk"}), frozenset({"disk.csi.azure.com"})),
    "vsphere": (frozenset({"vsphereVolume"}), frozenset({"csi.vsphere.vmware.com"})),
}

_ALIASES = {
    "pod": "pods", "po": "pods", "pods": "pods",
    "pvc": "persistentvolumeclaims", "persistentvolumeclaim": "persistentvolumeclaims",
    "persistentvolumeclaims": "persistentvolumeclaims",
    "pv": "persistentvolumes", "persistentvolume": "persistentvolumes", "persistentvolumes": "persistentvolumes",
}


def _norm(names: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for name in names:
        base = name.lower().removesuffix(".v1").removesuffix(".core")
        out.append(_ALIASES.get(base, base))
    return tuple(out)


def resource_included(spec: velero.BackupSpec, plural: str) -> bool:
    """Is a namespaced resource type (pods, persistentvolumeclaims) in the backup?"""
    if spec.included_namespace_scoped or spec.excluded_namespace_scoped:
        return includes_excludes(_norm(spec.included_namespace_scoped), _norm(spec.excluded_namespace_scoped), plural)
    return includes_excludes(_norm(spec.included_resources), _norm(spec.excluded_resources), plural)


def pv_included(spec: velero.BackupSpec) -> bool:
    """Is the PV item backed up? ``includeClusterResources: false`` or excluding PVs stops native snapshots."""
    if spec.include_cluster_resources is False:
        return False
    if spec.included_cluster_scoped or spec.excluded_cluster_scoped:
        return includes_excludes((), _norm(spec.excluded_cluster_scoped), "persistentvolumes")
    return includes_excludes(_norm(spec.included_resources), _norm(spec.excluded_resources), "persistentvolumes")


def includes_cluster_resources(spec: velero.BackupSpec) -> bool:
    """Does the backup carry cluster-scoped resources (CRDs, ClusterRoles, StorageClasses...)?"""
    if spec.include_cluster_resources is not None:
        return spec.include_cluster_resources
    if spec.included_cluster_scoped:
        return True
    # nil: Velero includes cluster-scoped resources only when backing up all namespaces
    return not spec.included_namespaces or "*" in spec.included_namespaces


def selected(spec: velero.BackupSpec, labels: dict[str, str]) -> bool:
    """labelSelector / orLabelSelectors (ORed); no selector selects everything."""
    if spec.label_selector is None and not spec.or_label_selectors:
        return True
    if spec.label_selector is not None and spec.label_selector.matches(labels):
        return True
    return any(s.matches(labels) for s in spec.or_label_selectors)


#: The kinds whose scope a policy's includeExcludePolicy can change here; a name in the other scope's list
#: is dropped by Velero (its discovery mapping returns "" for the wrong scope).
NAMESPACE_SCOPED = frozenset({"pods", "persistentvolumeclaims"})
CLUSTER_SCOPED = frozenset({"persistentvolumes"})


def uses_old_filters(spec: velero.BackupSpec) -> bool:
    """collections.UseOldResourceFilters: includedResources/excludedResources/includeClusterResources set."""
    return spec.include_cluster_resources is not None or bool(spec.included_resources or spec.excluded_resources)


def _combine(includes: tuple[str, ...], excludes: tuple[str, ...], policy_includes: tuple[str, ...],
             policy_excludes: tuple[str, ...], wrong_scope: frozenset[str],
             ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    inc, exc = list(_norm(includes)), list(_norm(excludes))
    for target, items in ((exc, policy_excludes), (inc, policy_includes)):
        for item in _norm(items):
            if item not in wrong_scope and not velero_any_glob(inc, item) and not velero_any_glob(exc, item):
                target.append(item)
    return tuple(inc), tuple(exc)


@dataclass(frozen=True)
class PolicyProblem:
    """Why a spec's resource policy fails Velero's validation: the ConfigMap, its data key and field."""

    configmap: str  # namespace/name
    key: str | None
    field: str | None
    message: str


@lru_cache(maxsize=1024)
def _csv(value: str | None) -> frozenset[str]:
    """An annotation's comma-separated names; cached: the pods of one workload repeat the same value."""
    return frozenset(v.strip() for v in (value or "").split(",") if v.strip())


def fsb_legacy(pod: r.Pod, volume: str, default_fs: bool) -> bool:
    """``shouldPerformFSBackupLegacy``: opt-in annotation, or opt-out minus the excludes annotation."""
    if default_fs:
        return volume not in _csv(pod.meta.annotations.get(FSB_EXCLUDE_ANNOTATION))
    return volume in _csv(pod.meta.annotations.get(FSB_INCLUDE_ANNOTATION))


class Capture(msgspec.Struct, frozen=True, gc=False):
    """What one backup spec does with one PVC: in scope or not, and by which data paths. A frozen
    ``msgspec.Struct`` (hashable, cheap to make): one per enabled schedule and volume."""

    in_scope: bool
    methods: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    needs_node_agent: bool = False  # a data path it wants runs on the node-agent (FSB, data movement)

    @property
    def captured(self) -> bool:
        return bool(self.methods)


@dataclass(frozen=True)
class SpecContext:
    """A backup spec plus where it runs: the Velero namespace and that server's settings."""

    spec: velero.BackupSpec
    velero_namespace: str
    server: VeleroServer | None
    subject: str  # "schedule velero/daily" or "backup velero/x", for the reasons' sentences

    @property
    def default_fs(self) -> bool:
        """backup_controller.go prepareBackupRequest: a true ``defaultVolumesToRestic`` overwrites
        ``defaultVolumesToFsBackup`` (even an explicit false); unset falls back to the server's flag."""
        s = self.spec
        if s.default_volumes_to_restic:
            return True
        if s.default_volumes_to_fs_backup is not None:
            return s.default_volumes_to_fs_backup
        return bool(self.server and self.server.default_fs_backup)

    @property
    def move_data(self) -> bool:
        if self.spec.snapshot_move_data is not None:
            return self.spec.snapshot_move_data
        return bool(self.server and self.server.default_snapshot_move_data)

    @property
    def ttl(self) -> float:
        if self.spec.ttl_seconds:
            return self.spec.ttl_seconds
        return self.server.default_ttl if self.server else DEFAULT_TTL


class VeleroPlanner:
    """Answers "what would this spec do with this PVC?" over one inventory, with cached lookups."""

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        self._decoded: dict[tuple[str, str], ResourcePolicies | PolicyProblem] = {}
        self._scoped: dict[int, velero.BackupSpec] = {}
        self._csi_problems: dict[tuple[str, str | None, str | None], str | None] = {}
        self._namespace_reasons: dict[tuple[tuple[str, ...], tuple[str, ...], str, str], str | None] = {}

    @cached_property
    def label_excluded_namespaces(self) -> frozenset[str]:
        return frozenset(n.meta.name for n in self.inv.namespaces if n.meta.labels.get(EXCLUDE_LABEL) == "true")

    def namespace_included(self, ctx: SpecContext, namespace: str) -> str | None:
        """None when the namespace is in the spec's scope, else the reason it is not (answered once per
        spec scope and namespace: every PVC of the namespace asks)."""
        key = (ctx.spec.included_namespaces, ctx.spec.excluded_namespaces, ctx.subject, namespace)
        if key in self._namespace_reasons:
            return self._namespace_reasons[key]
        reason = None
        if namespace in self.label_excluded_namespaces:
            reason = f"namespace {namespace} carries {EXCLUDE_LABEL}=true"
        elif not includes_excludes(ctx.spec.included_namespaces, ctx.spec.excluded_namespaces, namespace):
            reason = f"{ctx.subject} does not include namespace {namespace}"
        self._namespace_reasons[key] = reason
        return reason

    def namespaces_in_scope(self, ctx: SpecContext, namespaces: Iterable[str]) -> list[str]:
        """The namespaces a spec includes. A spec that names its namespaces (no wildcard, no glob) is
        answered by lookups, not by testing every namespace of the cluster against it."""
        known = list(namespaces)
        includes = ctx.spec.included_namespaces
        if includes and "*" not in includes and not any(GLOB_CHARS.intersection(p) for p in includes):
            present = set(known)
            known = [ns for ns in dict.fromkeys(includes) if ns in present]
        return [ns for ns in known if self.namespace_included(ctx, ns) is None]

    def _decode(self, namespace: str, name: str) -> ResourcePolicies | PolicyProblem:
        key = (namespace, name)
        if key not in self._decoded:
            cm = self.inv.config_map_by_key.get(key)
            result: ResourcePolicies | PolicyProblem
            if cm is None:
                result = PolicyProblem(f"{namespace}/{name}", None, None,
                                       f"resource policy ConfigMap {namespace}/{name} does not exist")
            else:
                try:
                    result = decode_policies(cm)
                except PolicyError as exc:
                    result = PolicyProblem(exc.configmap, exc.key, exc.field, f"resource policy {exc}")
            self._decoded[key] = result
        return self._decoded[key]

    def policy_problem(self, ctx: SpecContext) -> PolicyProblem | None:
        """Why Velero fails the validation of every backup of this spec over its resource policy, if it does."""
        name = ctx.spec.resource_policy
        if not name:
            return None
        decoded = self._decode(ctx.velero_namespace, name)
        if isinstance(decoded, PolicyProblem):
            return decoded
        if decoded.include_exclude is not None and uses_old_filters(ctx.spec):
            return PolicyProblem(f"{ctx.velero_namespace}/{name}", None, "includeExcludePolicy",
                                 f"resource policy ConfigMap {ctx.velero_namespace}/{name}: includeExcludePolicy "
                                 f"cannot be used "
                                 f"with {ctx.subject}'s includedResources/excludedResources/"
                                 f"includeClusterResources (old filter parameters)")
        return None

    def policies(self, ctx: SpecContext) -> tuple[tuple[VolumePolicy, ...], str | None]:
        """The spec's volume policies, or the reason they fail validation (then it captures nothing)."""
        name = ctx.spec.resource_policy
        if not name:
            return (), None
        problem = self.policy_problem(ctx)
        if problem is not None:
            return (), problem.message
        decoded = self._decode(ctx.velero_namespace, name)
        assert isinstance(decoded, ResourcePolicies)
        return decoded.volume_policies, None

    def scoped_spec(self, ctx: SpecContext) -> velero.BackupSpec:
        """The spec with its policy's includeExcludePolicy merged in (collections CombineWithPolicy):
        the spec's own filters win; a policy item the spec neither includes nor excludes is added."""
        spec = ctx.spec
        if not spec.resource_policy or uses_old_filters(spec):
            return spec
        cached = self._scoped.get(id(spec))
        if cached is not None:
            return cached
        decoded = self._decode(ctx.velero_namespace, spec.resource_policy)
        scope = decoded.include_exclude if isinstance(decoded, ResourcePolicies) else None
        if scope:
            ns_inc, ns_exc = _combine(spec.included_namespace_scoped, spec.excluded_namespace_scoped,
                                      scope["includedNamespaceScopedResources"],
                                      scope["excludedNamespaceScopedResources"], CLUSTER_SCOPED)
            cl_inc, cl_exc = _combine(spec.included_cluster_scoped, spec.excluded_cluster_scoped,
                                      scope["includedClusterScopedResources"],
                                      scope["excludedClusterScopedResources"], NAMESPACE_SCOPED)
            spec = msgspec.structs.replace(spec, included_namespace_scoped=ns_inc, excluded_namespace_scoped=ns_exc,
                           included_cluster_scoped=cl_inc, excluded_cluster_scoped=cl_exc)
        self._scoped[id(ctx.spec)] = spec
        return spec

    def pod_in_backup(self, ctx: SpecContext, pod: r.Pod) -> bool:
        return (resource_included(self.scoped_spec(ctx), "pods") and pod.meta.labels.get(EXCLUDE_LABEL) != "true"
                and not pod.meta.deleting and selected(ctx.spec, pod.meta.labels))

    def capture(self, ctx: SpecContext, pvc: r.PersistentVolumeClaim) -> Capture:
        ns, name = pvc.meta.namespace or "", pvc.meta.name
        reasons = []
        ns_reason = self.namespace_included(ctx, ns)
        if ns_reason:
            reasons.append(ns_reason)
        if pvc.meta.labels.get(EXCLUDE_LABEL) == "true":
            reasons.append(f"PVC carries {EXCLUDE_LABEL}=true")
        if not resource_included(self.scoped_spec(ctx), "persistentvolumeclaims"):
            reasons.append(f"{ctx.subject} excludes persistentvolumeclaims")
        if pvc.meta.deleting:
            reasons.append("PVC is being deleted")
        pods = self.inv.pods_by_claim.get((ns, name), ())
        # item_backupper: a selected pod pulls its PVCs in as additional items, selector not re-checked
        if not reasons and not selected(ctx.spec, pvc.meta.labels) and not any(
                self.pod_in_backup(ctx, p) for p in pods):
            reasons.append(f"PVC labels do not match {ctx.subject}'s label selector and no selected pod mounts it")
        if reasons:
            return Capture(False, reasons=tuple(reasons))
        return self._data_paths(ctx, pvc, pods)

    def _data_paths(self, ctx: SpecContext, pvc: r.PersistentVolumeClaim, pods: tuple[r.Pod, ...]) -> Capture:
        pv = self.inv.pv_by_name.get(pvc.volume_name or "")
        if pvc.phase != "Bound" or pv is None:
            state = pvc.phase or "unknown"
            return Capture(True, reasons=(f"PVC is {state}, not bound to a volume: there is no data to back up",))
        policies, policy_error = self.policies(ctx)
        if policy_error:
            return Capture(True, reasons=(f"{policy_error}: Velero fails the validation of every backup of "
                                          f"{ctx.subject} (FailedValidation), so it captures nothing",))
        policy = match_action(policies, pvc_facts(pvc, pv)) if policies else None
        methods: list[str] = []
        reasons: list[str] = []

        # File-system backup, driven by each pod that mounts the PVC (pkg/podvolume/backupper.go).
        legacy_selected_by: list[str] = []
        wanted_fsb: list[str] = []
        for pod in pods:
            for vol in pod.volumes:
                if vol.claim_name != pvc.meta.name:
                    continue
                legacy = fsb_legacy(pod, vol.name, ctx.default_fs)
                if legacy:
                    legacy_selected_by.append(pod.meta.name)
                wants = policy.action == "fs-backup" if policy else legacy
                if not wants:
                    continue
                wanted_fsb.append(pod.meta.name)
                problem = self._fsb_problem(ctx, pod, vol, pv)
                if problem:
                    reasons.append(problem)
                elif "fs-backup" not in methods:
                    methods.append("fs-backup")

        # Snapshots (internal/volumehelper ShouldPerformSnapshot).
        if policy is not None:
            allowed = policy.action == "snapshot"
            if policy.action in ("skip", "custom"):
                what = "skips it" if policy.action == "skip" else \
                    "hands it to a custom action (a plugin), which takes no snapshot or file-system backup"
                reasons.append(f"volume policy #{policy.index + 1} of ConfigMap {ctx.velero_namespace}/"
                               f"{ctx.spec.resource_policy} {what}")
        elif legacy_selected_by:
            allowed = False
            if not methods:
                mode = "opt-out mode (defaultVolumesToFsBackup)" if ctx.default_fs else \
                    f"the {FSB_INCLUDE_ANNOTATION} annotation"
                reasons.append(f"{mode} selects it for file-system backup through pod "
                               f"{', '.join(sorted(set(legacy_selected_by)))}, which blocks a snapshot")
        elif ctx.spec.snapshot_volumes is False:
            allowed = False
            reasons.append("snapshotVolumes is false and no file-system backup selects it")
        else:
            allowed = True
        if allowed:
            self._snapshot_paths(ctx, pvc, pv, methods, reasons)
        needs_agent = bool(wanted_fsb) or (allowed and ctx.move_data and pv.source.type == "csi")
        if methods:
            return Capture(True, methods=tuple(methods), needs_node_agent=needs_agent)
        if not reasons:
            reasons.append(f"no data path of {ctx.subject} captures it")
        return Capture(True, reasons=tuple(dict.fromkeys(reasons)), needs_node_agent=needs_agent)

    def _fsb_problem(self, ctx: SpecContext, pod: r.Pod, vol: r.PodVolume, pv: r.PersistentVolume) -> str | None:
        server = ctx.server
        label = f"pod {pod.meta.name}"
        if not self.pod_in_backup(ctx, pod):
            return f"{label} is not in {ctx.subject}'s scope, and file-system backup runs only for backed-up pods"
        if pod.phase != "Running" or not pod.node_name:
            return f"{label} is {pod.phase or 'not running'}: file-system backup skips it"
        if pv.source.type == "hostPath":
            return f"its volume {pv.meta.name} is a hostPath volume: file-system backup skips hostPath volumes"
        if vol.name in pod.block_devices or pv.volume_mode == "Block":
            return "it is a block-mode volume: file-system backup cannot read it"
        if vol.name not in pod.mounted:
            return f"no container of {label} mounts it: file-system backup skips unmounted volumes"
        if server is None or server.node_agent is None:
            return "no node-agent DaemonSet runs: file-system backup is impossible"
        if pod.node_name not in server.node_agent_nodes:
            return f"node-agent is not running on node {pod.node_name}: file-system backup of {label} fails"
        if server.uploader_type == "restic":
            return "the Velero server's uploader type is restic, which Velero 1.17+ refuses"
        return None

    def _snapshot_paths(self, ctx: SpecContext, pvc: r.PersistentVolumeClaim, pv: r.PersistentVolume,
                        methods: list[str], reasons: list[str]) -> None:
        server = ctx.server
        csi_enabled = bool(server and server.csi_enabled)
        if pv.source.type == "csi" and csi_enabled:
            # pkg/backup/actions/csi/pvc_action.go; native snapshots are skipped for CSI PVs when EnableCSI is on
            problem = self._csi_problem(ctx, pvc, pv)
            if problem:
                reasons.append(problem)
            elif ctx.move_data:
                if server and server.node_agent_nodes:
                    methods.append("data-mover")
                else:
                    reasons.append("snapshot data movement needs a running node-agent, and none runs")
            else:
                methods.append("csi-snapshot")
            return
        if pv.source.type == "csi" and not csi_enabled:
            reasons.append("the Velero server does not run with --features=EnableCSI, so CSI snapshots are skipped")
        if not pv_included(self.scoped_spec(ctx)):
            reasons.append(f"{ctx.subject} excludes persistentvolumes, so no native snapshot is taken")
            return
        provider = self._native_snapshotter(ctx, pv)
        if provider:
            methods.append("native-snapshot")
        elif pv.source.type != "csi":
            reasons.append(f"no VolumeSnapshotLocation has a snapshotter for a {pv.source.type} volume")

    def _csi_problem(self, ctx: SpecContext, pvc: r.PersistentVolumeClaim, pv: r.PersistentVolume) -> str | None:
        if not pvc.storage_class:
            return "PVC has no storageClassName: Velero's CSI snapshot fails"
        sc = self.inv.storage_class_by_name.get(pvc.storage_class)
        if sc is None:
            return f"StorageClass {pvc.storage_class} does not exist: Velero's CSI snapshot fails"
        # resolve_snapshot_class reads only these two annotations: answered once per combination
        key = (sc.provisioner, pvc.meta.annotations.get(PVC_CLASS_ANNOTATION),
               ctx.spec.annotations.get(BACKUP_CLASS_ANNOTATION_PREFIX + sc.provisioner))
        if key not in self._csi_problems:
            self._csi_problems[key] = resolve_snapshot_class(self.inv, pvc, ctx.spec.annotations, sc.provisioner)[1]
        return self._csi_problems[key]

    def _native_snapshotter(self, ctx: SpecContext, pv: r.PersistentVolume) -> str | None:
        locations = [v for v in self.inv.vsls if v.meta.namespace == ctx.velero_namespace
                     and (not ctx.spec.volume_snapshot_locations
                          or v.meta.name in ctx.spec.volume_snapshot_locations)]
        for vsl in locations:
            known = NATIVE_SNAPSHOTTERS.get((vsl.provider or "").removeprefix("velero.io/"))
            if known and (pv.source.type in known[0] or pv.source.csi_driver in known[1]):
                return vsl.provider
        return None


def resolve_snapshot_class(inv: Inventory, pvc: r.PersistentVolumeClaim, backup_annotations: dict[str, str],
                           driver: str) -> tuple[csi.VolumeSnapshotClass | None, str | None]:
    """Velero's VolumeSnapshotClass choice (pkg/util/csi/volume_snapshot.go GetVolumeSnapshotClass):
    PVC annotation, Backup annotation per driver, the labelled class, the default class, the only class."""
    by_name = {c.meta.name: c for c in inv.volume_snapshot_classes}
    for source, name in (("PVC annotation", pvc.meta.annotations.get(PVC_CLASS_ANNOTATION)),
                         ("backup annotation", backup_annotations.get(BACKUP_CLASS_ANNOTATION_PREFIX + driver))):
        if name:
            cls = by_name.get(name)
            if cls is None:
                return None, f"VolumeSnapshotClass {name} named by the {source} does not exist"
            return cls, None
    candidates = inv.snapshot_classes_by_driver.get(driver, ())
    labelled = [c for c in candidates if c.meta.labels.get(CLASS_LABEL) == "true"]
    if len(labelled) == 1:
        return labelled[0], None
    if len(labelled) > 1:
        return None, f"several VolumeSnapshotClasses for {driver} carry the {CLASS_LABEL} label"
    defaults = [c for c in candidates if c.meta.annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"]
    if len(defaults) == 1:
        return defaults[0], None
    if len(candidates) == 1:
        return candidates[0], None
    if not candidates:
        return None, f"no VolumeSnapshotClass exists for driver {driver}: the CSI snapshot fails"
    return None, f"no VolumeSnapshotClass for driver {driver} is labelled or default: the CSI snapshot fails"
