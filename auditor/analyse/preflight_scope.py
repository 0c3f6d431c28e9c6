"""Restore preflight, the checks beyond volumes: served resources, namespaces and cluster scope, PV
collisions, Velero itself and restore-time settings; and ``evaluate``, every check in order (pure; see
``preflight.py``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime

from auditor.analyse.preflight import (
    BLOCKER,
    CSI_BUILTIN_SINCE,
    PROVIDER_PLUGINS,
    UNKNOWN,
    WARNING,
    BackupFacts,
    Issue,
    PreflightReport,
    TargetFacts,
    _Checks,
    _velero_image,
    image_version,
    parse_gvk,
)

#: Cluster-scoped kinds the inventory holds, to name collisions: kind -> names in the target
_SKIP_CLUSTER_KINDS = frozenset({"Namespace", "PersistentVolume"})  # PF-030 and PF-032 judge these


def _show(items: list[str], limit: int = 5) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def check_resources(ck: _Checks) -> None:
    """PF-020 (kind not served: a missing CRD) and PF-021 (served only at another version)."""
    facts, served = ck.facts, ck.target.served
    if facts.resource_list is None:
        where = (f"the catalog has no {facts.name}-resource-list.json.gz" if facts.source_of_truth == "catalog"
                 else "it is in the bucket only: give --velero-catalog")
        ck.add("PF-020", UNKNOWN, "Backup", facts.namespace, facts.name,
               f"the backup's resource list is not known ({where}), so whether the target serves its kinds is "
               "unknown")
        return
    if served is None:
        ck.add("PF-020", UNKNOWN, "APIResource", None, None,
               ck.target.served_error or "what the target serves is not recorded (a dump needs "
               ".auditor-api-resources.json, written by auditor snapshot)")
        return
    for key in sorted(facts.resource_list):
        group, version, kind = parse_gvk(key)
        versions = served.versions(group, kind)
        gv = f"{group}/{version}" if group else version
        if version in versions:
            continue
        if not versions and served.group_unreadable(group):
            ck.add("PF-020", UNKNOWN, "APIResource", None, f"{kind}.{group or 'core'}",
                   f"the target's discovery of group {group or 'core'} could not be read")
        elif not versions:
            count = len(facts.resource_list[key])
            ck.add("PF-020", BLOCKER, "CustomResourceDefinition" if group else "APIResource", None,
                   f"{kind}.{group}" if group else kind,
                   f"the target does not serve {kind} ({gv}): {count} backed-up object(s) cannot be restored "
                   "(install its CRD first)")
        else:
            preferred = served.preferred.get(group)
            ck.add("PF-021", WARNING, "APIResource", None, f"{kind}.{group}" if group else kind,
                   f"the backup holds {kind} at {gv}; the target serves it only at {', '.join(versions)}"
                   + (f" (preferred {preferred})" if preferred else "") + ". Velero restores the backed-up version "
                   "unless the backup was taken with the EnableAPIGroupVersions feature (then it picks a version "
                   "both sides serve): without it these objects fail to restore")


def backup_namespaces(ck: _Checks) -> set[str]:
    """Namespaces the backup holds: from its resource list, else its included namespaces and volumes."""
    facts = ck.facts
    if facts.resource_list is not None:
        found = {item.split("/", 1)[0] for items in facts.resource_list.values() for item in items if "/" in item}
        found |= set(facts.resource_list.get("v1/Namespace", ()))
        return found
    spec = facts.backup.spec.included_namespaces
    return {n for n in spec if "*" not in n and "?" not in n} | {v.namespace for v in facts.volumes}


def check_namespaces(ck: _Checks) -> None:
    """PF-030: a namespace the restore writes into already exists with objects: Velero skips what exists."""
    if (why := ck.gap("namespaces", "pods", "persistentvolumeclaims")) is not None:
        ck.add("PF-030", UNKNOWN, "Namespace", None, None, why)
        return
    inv = ck.inv
    pvcs = Counter(p.meta.namespace for p in inv.pvcs)
    for ns in sorted(backup_namespaces(ck)):
        target = ck.ns_map.get(ns, ns)
        if target not in inv.namespace_by_name:
            continue
        pods, workloads = len(inv.pods_by_namespace.get(target, ())), len(inv.workloads_by_namespace.get(target, ()))
        if pods or workloads or pvcs[target]:
            ck.add("PF-030", WARNING, "Namespace", None, target,
                   f"namespace {target} already exists in the target with {workloads} workload(s), {pods} pod(s) "
                   f"and {pvcs[target]} PVC(s): Velero skips objects that exist (existingResourcePolicy none), so "
                   "those keep their current content" + (f" (restored from {ns})" if target != ns else ""))


def check_cluster_scoped(ck: _Checks) -> None:
    """PF-031: cluster-scoped resources the restore would create, and those that already exist in the target."""
    if ck.facts.resource_list is None:
        return  # PF-020 already says the resource list is unknown
    inv = ck.inv
    existing = {"StorageClass": inv.storage_class_by_name, "CSIDriver": {d.meta.name for d in inv.csi_drivers},
                "VolumeSnapshotClass": {c.meta.name for c in inv.volume_snapshot_classes},
                "ClusterRole": {x.meta.name for x in inv.roles if x.kind == "ClusterRole"},
                "ClusterRoleBinding": {x.meta.name for x in inv.role_bindings if x.kind == "ClusterRoleBinding"}}
    for key, items in sorted(ck.facts.resource_list.items()):
        _, _, kind = parse_gvk(key)
        scoped = [i for i in items if "/" not in i]
        if not scoped or kind in _SKIP_CLUSTER_KINDS:
            continue
        clashes = sorted(set(scoped) & set(existing.get(kind, ())))
        message = (f"the backup holds {len(scoped)} cluster-scoped {kind} ({_show(scoped)}): a restore creates them "
                   "in the target cluster for every namespace")
        if clashes:
            message += f"; {len(clashes)} already exist there and are skipped ({_show(clashes)})"
        ck.add("PF-031", WARNING, kind, None, scoped[0] if len(scoped) == 1 else None, message)


def check_pvs(ck: _Checks) -> None:
    """PF-032: a PersistentVolume name the restore recreates exists in the target."""
    if not any(v.pv for v in ck.facts.volumes):
        return
    if (why := ck.gap("persistentvolumes")) is not None:
        ck.add("PF-032", UNKNOWN, "PersistentVolume", None, None, why)
        return
    for v in ck.facts.volumes:
        pv = ck.inv.pv_by_name.get(v.pv or "")
        if pv is None:
            continue
        target_ns = ck.ns_map.get(v.namespace, v.namespace)
        bound_elsewhere = (pv.claim_namespace, pv.claim_name) != (target_ns, v.pvc)
        message = (f"PersistentVolume {pv.meta.name} ({v.namespace}/{v.pvc}) already exists in the target "
                   f"(reclaim policy {pv.reclaim_policy or 'unknown'}, bound to "
                   f"{pv.claim_namespace or '-'}/{pv.claim_name or '-'}): ")
        if v.method == "fs-backup":
            message += "the restored claim gets a new volume and its data from the file-system backup"
        elif ck.ns_map.get(v.namespace) and v.namespace in ck.ns_map:
            message += "with a namespace mapping Velero renames the restored volume"
        else:
            message += "Velero skips it, and the restored claim binds to the existing volume, not the backup's data"
        ck.add("PF-032", BLOCKER if bound_elsewhere and v.method != "fs-backup" and v.namespace not in ck.ns_map
               else WARNING, "PersistentVolume", None, pv.meta.name, message)


def check_velero(ck: _Checks) -> None:
    """PF-040 (Velero runs), PF-041 (its version is not older than the source's), PF-042 (plugins)."""
    if (why := ck.gap("deployments.apps")) is not None:
        ck.add("PF-040", UNKNOWN, "Deployment", ck.velero_ns, "velero", why)
        return
    server = ck.server
    if server is None or not server.running:
        ck.add("PF-040", BLOCKER, "Deployment", ck.velero_ns, "velero",
               "Velero is not running in the target" if server is None else
               f"Velero's Deployment in {server.namespace} has no ready replica")
        return
    image = _velero_image(server)
    target_v, source_v = image_version(image), image_version(ck.facts.source_velero_image)
    if target_v and source_v and target_v < source_v:
        ck.add("PF-041", WARNING, "Deployment", server.namespace, server.deployment.meta.name if server.deployment
               else "velero", f"the target runs Velero {'.'.join(map(str, target_v))}, older than the source's "
               f"{'.'.join(map(str, source_v))}: it may not read the backup's format")
    elif source_v and not target_v:
        ck.add("PF-041", UNKNOWN, "Deployment", server.namespace, "velero",
               f"the target's Velero version is not known from its image ({image or 'none'})")
    check_plugins(ck, target_v)


def check_plugins(ck: _Checks, target_v: tuple[int, ...] | None) -> None:
    server = ck.server
    images = (server.deployment.init_images + server.deployment.images) if server and server.deployment else ()

    def has(plugin: str) -> bool:
        return any(plugin in i.rsplit("/", 1)[-1].split(":", 1)[0] for i in images)

    needed: dict[str, str] = {}
    providers = [ck.facts.location.provider] if ck.facts.location and ck.facts.location.provider else []
    providers += [v.provider for v in ck.facts.snapshot_locations if v.provider]
    for provider in providers:
        if provider in PROVIDER_PLUGINS:
            needed.setdefault(PROVIDER_PLUGINS[provider], f"provider {provider}")
    for action in ck.facts.item_actions or ():
        vendor = action.split("/", 1)[0]
        if vendor == "velero.io":
            if action.startswith("velero.io/csi") and target_v is not None and target_v < CSI_BUILTIN_SINCE:
                needed.setdefault("velero-plugin-for-csi", f"item action {action}")
        else:
            needed.setdefault(vendor.split(".")[0], f"item action {action}")
    if (any(v.method in ("csi-snapshot", "data-mover") for v in ck.facts.volumes) and target_v is not None
            and target_v < CSI_BUILTIN_SINCE):
        needed.setdefault("velero-plugin-for-csi", "CSI snapshots")
    if server is not None and any(v.method in ("csi-snapshot", "data-mover") for v in ck.facts.volumes) \
            and not server.csi_enabled:  # without the flag every CSI action is skipped, built-in plugin or not
        ck.add("PF-042", BLOCKER, "Deployment", server.namespace, "velero",
               "the backup has CSI snapshots or data-mover volumes but the target's Velero runs without "
               "--features=EnableCSI")
    for plugin, why in sorted(needed.items()):
        if not has(plugin):
            ck.add("PF-042", BLOCKER, "Deployment", ck.velero_ns, "velero",
                   f"the target's Velero has no plugin image matching {plugin!r} (needed for {why})")


def check_settings(ck: _Checks) -> None:
    """PF-050: restore-time behaviour that changes the result, as far as it can be seen."""
    facts = ck.facts
    if facts.restore_hooks:
        ck.add("PF-050", WARNING, "Pod", None, None,
               f"{len(facts.restore_hooks)} backed-up pod(s) carry restore hooks ({_show(list(facts.restore_hooks))}): "
               "their init images must be pullable and their commands must work in the target")
    if facts.backup_hooks:
        ck.add("PF-050", WARNING, "Backup", facts.namespace, facts.name,
               f"the backup ran {facts.backup_hooks} hook resource(s): data they quiesced or dumped is restored "
               "as files, and nothing replays them at restore")
    for rs in ck.inv.restores:
        if rs.backup_name == facts.name and rs.phase not in ("Completed",):
            ck.add("PF-050", WARNING, "Restore", rs.meta.namespace, rs.meta.name,
                   f"a Restore of this backup already exists in the target ({rs.phase or 'no phase'})")


def evaluate(facts: BackupFacts, target: TargetFacts, as_of: datetime, *, target_name: str,
             namespace_mapping: Mapping[str, str] | None = None,
             storage_class_mapping_flags: Mapping[str, str] | None = None) -> PreflightReport:
    """Every check, in the order docs/preflight.md lists them."""
    ck = _Checks(facts, target, as_of, namespace_mapping or {}, storage_class_mapping_flags or {})
    ck.check_location()
    ck.check_state()
    volumes = ck.volume_verdicts()
    ck.check_agent_coverage()
    check_resources(ck)
    check_namespaces(ck)
    check_cluster_scoped(ck)
    check_pvs(ck)
    check_velero(ck)
    check_settings(ck)
    return PreflightReport(backup=f"{facts.namespace}/{facts.name}", source=facts.source,
                           source_of_truth=facts.source_of_truth, target=target_name,
                           issues=tuple(_dedupe(ck.issues)), volumes=tuple(volumes),
                           storage_class_mapping=dict(sorted(ck.sc_map.items())),
                           namespace_mapping=dict(sorted(ck.ns_map.items())), notes=facts.notes)


def _dedupe(issues: list[Issue]) -> Iterator[Issue]:
    seen: set[Issue] = set()
    for issue in issues:
        if issue not in seen:
            seen.add(issue)
            yield issue
