"""Turn raw objects (as ``kubectl get -o json`` prints them) into slim records.

Both sources, the live API and a dump directory, go through these functions, which is what makes a
dump and a live read of the same objects give the identical inventory.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from auditor.collect.fields import FieldReader
from auditor.collect.secrets import env_value_kind
from auditor.model import records as r
from auditor.model.durations import go_duration_seconds
from auditor.model.quantity import parse_quantity
from auditor.model.time import parse_time

#: Annotations that can hold a whole object (and so a Secret's values): never kept.
DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})

#: The annotation namespaces some analysis reads; other annotations are not kept in records (at 40,000
#: pods they are tens of megabytes of text nothing looks at). Dumps written by ``auditor snapshot`` keep
#: objects whole, so this never changes what a re-read sees.
KEPT_ANNOTATION_PREFIXES = (
    "backup.velero.io/", "velero.io/", "k8up.io/", "backup-auditor.io/", "snapshot.storage.kubernetes.io/",
    "storageclass.kubernetes.io/", "storageclass.beta.kubernetes.io/", "eks.amazonaws.com/", "iam.gke.io/",
    "azure.workload.identity/", "post.hook.restore.velero.io/", "init.hook.restore.velero.io/",
)

#: Pod volume source keys, as Velero's volume policy ``volumeTypes`` names them.
VOLUME_TYPES = (
    "persistentVolumeClaim", "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder",
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "fc", "flocker", "flexVolume", "gitRepo",
    "glusterfs", "gcePersistentDisk", "hostPath", "iscsi", "local", "nfs", "photonPersistentDisk",
    "portworxVolume", "projected", "quobyte", "rbd", "scaleIO", "secret", "storageos", "vsphereVolume",
)


class _UnusualValueError(Exception):
    """A value a fast path does not take as is: the checked path decides (and names the field)."""


# --- sharing repeated values ---------------------------------------------------------------------
# At 230,000 records most strings repeat (namespaces, phases, node names, label values, owner kinds):
# one shared copy of each, and one shared label mapping per distinct label set, is what keeps a large
# inventory in a few hundred megabytes. Records are immutable and their mappings read-only by
# convention, so sharing is invisible to readers.

_intern = sys.intern
_MAP_MEMO: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
_OWNERS_MEMO: dict[tuple[tuple[Any, Any, Any], ...], tuple[r.OwnerRef, ...]] = {}
_MEMO_MAX = 4096


def _istr(value: Any) -> str | None:
    """A str-or-None field, shared; anything else is for the checked path."""
    if value is None:
        return None
    if type(value) is str:
        return _intern(value)
    raise _UnusualValueError


def _shared_map(value: Any) -> dict[str, str]:
    """A plain string map as one shared, interned dict per distinct content (insertion order kept)."""
    if value is None:
        value = {}
    elif type(value) is not dict:
        raise _UnusualValueError
    key = tuple(value.items())
    try:
        return _MAP_MEMO[key]  # a hit is all-str: only all-str maps are stored, and a str equals only a str
    except KeyError:
        pass
    except TypeError:  # an unhashable value (a list or an object)
        raise _UnusualValueError from None
    for v in value.values():
        if type(v) is not str:
            raise _UnusualValueError
    shared = {_intern(k): _intern(v) for k, v in key}
    if len(_MAP_MEMO) >= _MEMO_MAX:
        _MAP_MEMO.clear()
    _MAP_MEMO[key] = shared
    return shared


def _interned_map(value: Any) -> dict[str, str]:
    """A plain string map copied with interned strings: for maps that are nearly all distinct, where a
    lookup would only cost time (the copy still lets the raw page go)."""
    if not value:
        return _shared_map(value)
    if type(value) is not dict:
        raise _UnusualValueError
    copy = {}
    for k, v in value.items():
        if type(v) is not str:
            raise _UnusualValueError
        copy[_intern(k)] = _intern(v)
    return copy


def _shared_owners(refs: Any) -> tuple[r.OwnerRef, ...]:
    """``metadata.ownerReferences`` of the well-formed kind, shared between siblings (replicas, the
    PodVolumeBackups of one backup)."""
    if not refs:
        if refs is None or type(refs) is list:
            return ()
        raise _UnusualValueError
    if type(refs) is not list:
        raise _UnusualValueError
    key = []
    for o in refs:
        if type(o) is not dict:
            raise _UnusualValueError
        controller = o.get("controller")
        if controller is not None and type(controller) is not bool:  # before the lookup: 1 == True
            raise _UnusualValueError
        key.append((o.get("kind"), o.get("name"), controller))
    memo_key = tuple(key)
    try:
        return _OWNERS_MEMO[memo_key]  # a hit is well-formed: only str-or-None kinds and names are stored
    except (KeyError, TypeError):
        pass
    owners = []
    for kind, name, controller in memo_key:
        owners.append(r.OwnerRef(kind=_istr(kind) or "", name=_istr(name) or "", controller=bool(controller)))
    shared = tuple(owners)
    if len(_OWNERS_MEMO) >= _MEMO_MAX:
        _OWNERS_MEMO.clear()
    _OWNERS_MEMO[memo_key] = shared
    return shared


def _fast_time(d: dict[str, Any], key: str) -> datetime | None:
    value = d.get(key)
    if value is None or value == "":
        return None
    if type(value) is str:
        return parse_time(value)  # ValueError: the checked path reports it
    raise _UnusualValueError


def _kept_annotations(value: Any) -> dict[str, str]:
    """The annotations some analysis reads (all values must be strings, as the checked path demands)."""
    if not value:
        return _shared_map(value)
    if type(value) is not dict:
        raise _UnusualValueError
    kept = {}
    for k, v in value.items():
        if type(v) is not str:
            raise _UnusualValueError
        if k.startswith(KEPT_ANNOTATION_PREFIXES):
            kept[k] = v
    return _shared_map(kept)


def meta(f: FieldReader, share: bool = True) -> r.Meta:
    """Every record's metadata. Read straight from the dict when it is well-formed (the hot path of a scan);
    anything unusual goes through :func:`meta_checked`, which names the field. ``share=False`` for kinds
    whose label sets are all distinct (PodVolumeBackups name their PVC's uid): labels are copied, not
    looked up."""
    m = f.raw["metadata"]
    try:
        namespace = m.get("namespace")
        uid = m.get("uid")
        return r.Meta(
            name=m["name"],
            namespace=_intern(namespace) if type(namespace) is str else _istr(namespace),
            uid=uid if type(uid) is str or uid is None else _istr(uid),  # unique: not worth sharing
            labels=_shared_map(m.get("labels")) if share else _interned_map(m.get("labels")),
            annotations=_kept_annotations(m.get("annotations")),
            created=_fast_time(m, "creationTimestamp"),
            deleting=m.get("deletionTimestamp") is not None,
            owners=_shared_owners(m.get("ownerReferences")),
        )
    except (_UnusualValueError, ValueError):
        return meta_checked(f)


def meta_checked(f: FieldReader) -> r.Meta:
    """The general path of :func:`meta`: every field through the checked reader."""
    annotations = f.str_map("metadata.annotations")
    if annotations:
        annotations = {k: v for k, v in annotations.items() if k.startswith(KEPT_ANNOTATION_PREFIXES)}
    owners = []
    for i, item in enumerate(f.list("metadata.ownerReferences")):
        o = f.sub(item, f"metadata.ownerReferences[{i}]")
        owners.append(r.OwnerRef(kind=o.str("kind") or "", name=o.str("name") or "",
                                 controller=bool(o.bool("controller"))))
    return r.Meta(
        name=f.req_str("metadata.name"),
        namespace=f.str("metadata.namespace"),
        uid=f.str("metadata.uid"),
        labels=f.str_map("metadata.labels"),
        annotations=annotations,
        created=f.time("metadata.creationTimestamp"),
        deleting=f.get("metadata.deletionTimestamp") is not None,
        owners=tuple(owners),
    )


def _quantity(f: FieldReader, path: str) -> int | None:
    text = f.str(path)
    if text is None:
        return None
    try:
        return parse_quantity(text)
    except ValueError:
        raise f.error(path, f"not a resource quantity: {text!r:.40}") from None


def _volume_source(f: FieldReader, spec: dict[str, Any], path: str) -> r.VolumeSource:
    """The source of a PV spec or a pod volume: the first known volume-type key present."""
    for key in VOLUME_TYPES:
        if key in spec and spec[key] is not None:
            if key == "csi":
                csi = f.sub(spec[key], f"{path}.csi")
                return r.VolumeSource("csi", csi_driver=csi.str("driver"),
                                      csi_attributes=csi.str_map("volumeAttributes"))
            if key == "nfs":
                nfs = f.sub(spec[key], f"{path}.nfs")
                return r.VolumeSource("nfs", nfs_server=nfs.str("server"), nfs_path=nfs.str("path"))
            return r.VolumeSource(key)
    return r.VolumeSource("unknown")


# --- core ---------------------------------------------------------------------------------------


def namespace(f: FieldReader) -> r.Namespace:
    return r.Namespace(meta(f), phase=f.str("status.phase"))


def node(f: FieldReader) -> r.Node:
    ready = None
    for i, item in enumerate(f.list("status.conditions")):
        c = f.sub(item, f"status.conditions[{i}]")
        if c.str("type") == "Ready":
            ready = c.str("status") == "True"
    return r.Node(meta(f), ready=ready)


def persistent_volume(f: FieldReader) -> r.PersistentVolume:
    """Well-formed PVs are read straight from the dict; anything unusual goes the checked way."""
    try:
        raw = f.raw
        spec, status = _fast_dict(raw, "spec"), _fast_dict(raw, "status")
        claim = _fast_dict(spec, "claimRef")
        return r.PersistentVolume(
            meta=meta(f), source=_fast_volume_source(spec), storage_class=_fast_str(spec, "storageClassName") or None,
            capacity_bytes=_fast_quantity(_fast_dict(spec, "capacity"), "storage"),
            claim_namespace=_fast_str(claim, "namespace"), claim_name=_fast_str(claim, "name"),
            phase=_fast_str(status, "phase"), reclaim_policy=_fast_str(spec, "persistentVolumeReclaimPolicy"),
            volume_mode=_fast_str(spec, "volumeMode") or "Filesystem",
        )
    except (_UnusualValueError, ValueError):
        return persistent_volume_checked(f)


def persistent_volume_claim(f: FieldReader) -> r.PersistentVolumeClaim:
    """Well-formed PVCs are read straight from the dict; anything unusual goes the checked way."""
    try:
        raw = f.raw
        spec, status = _fast_dict(raw, "spec"), _fast_dict(raw, "status")
        requests = _fast_dict(_fast_dict(spec, "resources"), "requests")
        return r.PersistentVolumeClaim(
            meta=meta(f), storage_class=_fast_str(spec, "storageClassName") or None,
            volume_name=_fast_str(spec, "volumeName") or None, phase=_fast_str(status, "phase"),
            volume_mode=_fast_str(spec, "volumeMode") or "Filesystem", access_modes=_fast_strs(spec, "accessModes"),
            requested_bytes=_fast_quantity(requests, "storage"),
        )
    except (_UnusualValueError, ValueError):
        return persistent_volume_claim_checked(f)


@lru_cache(maxsize=1024)
def _cached_quantity(text: str) -> int:
    return parse_quantity(text)  # ValueError: the checked path reports it


def _fast_quantity(d: dict[str, Any], key: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if type(value) is str:
        return _cached_quantity(value)
    raise _UnusualValueError


_STRS_MEMO: dict[tuple[str, ...], tuple[str, ...]] = {}


def _fast_strs(d: dict[str, Any], key: str) -> tuple[str, ...]:
    """A list of strings as a shared tuple (``("ReadWriteOnce",)`` and the like repeat everywhere)."""
    value = d.get(key)
    if value is None:
        return ()
    if type(value) is not list:
        raise _UnusualValueError
    items = tuple(value)
    try:
        shared = _STRS_MEMO.get(items)  # a hit is all-str: only all-str tuples are stored
    except TypeError:  # an unhashable item (a list or an object)
        raise _UnusualValueError from None
    if shared is not None:
        return shared
    if any(type(item) is not str for item in items):
        raise _UnusualValueError
    if len(_STRS_MEMO) >= _MEMO_MAX:
        _STRS_MEMO.clear()
    shared = _STRS_MEMO[items] = tuple(_intern(item) for item in items)
    return shared


def persistent_volume_checked(f: FieldReader) -> r.PersistentVolume:
    """The general path of :func:`persistent_volume`."""
    return r.PersistentVolume(
        meta=meta(f),
        source=_volume_source(f, f.dict("spec"), "spec"),
        storage_class=f.str("spec.storageClassName") or None,
        capacity_bytes=_quantity(f, "spec.capacity.storage"),
        claim_namespace=f.str("spec.claimRef.namespace"),
        claim_name=f.str("spec.claimRef.name"),
        phase=f.str("status.phase"),
        reclaim_policy=f.str("spec.persistentVolumeReclaimPolicy"),
        volume_mode=f.str("spec.volumeMode") or "Filesystem",
    )


def persistent_volume_claim_checked(f: FieldReader) -> r.PersistentVolumeClaim:
    """The general path of :func:`persistent_volume_claim`."""
    return r.PersistentVolumeClaim(
        meta=meta(f),
        storage_class=f.str("spec.storageClassName") or None,
        volume_name=f.str("spec.volumeName") or None,
        phase=f.str("status.phase"),
        volume_mode=f.str("spec.volumeMode") or "Filesystem",
        access_modes=f.strs("spec.accessModes"),
        requested_bytes=_quantity(f, "spec.resources.requests.storage"),
    )


def pod(f: FieldReader) -> r.Pod:
    """40,000 of these in a large cluster: well-formed pods are read straight from the dict (about 4x faster);
    anything unusual goes through :func:`pod_checked`, which names the field."""
    try:
        return _pod_fast(f)
    except (_UnusualValueError, ValueError):
        return pod_checked(f)


_VOLUME_TYPE_RANK = {key: i for i, key in enumerate(VOLUME_TYPES)}
#: Sources without details, one shared record each (csi and nfs carry a driver or a server: never shared).
_PLAIN_SOURCES = {key: r.VolumeSource(key) for key in (*VOLUME_TYPES, "unknown") if key not in ("csi", "nfs")}
_ENV_MEMO: dict[tuple[str, str, str], r.EnvLiteral] = {}


def _fast_list(d: dict[str, Any], key: str) -> list[Any]:
    value = d.get(key)
    if value is None:
        return []
    if type(value) is list:
        return value
    raise _UnusualValueError


def _fast_name(d: Any) -> str:
    """A list item's required ``name``."""
    if type(d) is not dict:
        raise _UnusualValueError
    name = d.get("name")
    if type(name) is not str:
        raise _UnusualValueError
    return _intern(name)


def _fast_volume_source(v: dict[str, Any]) -> r.VolumeSource:
    """:func:`_volume_source` from the dict: the first volume type (in ``VOLUME_TYPES`` order) present."""
    found = [k for k in v if k in _VOLUME_TYPE_RANK and v[k] is not None]
    if not found:
        return _PLAIN_SOURCES["unknown"]
    key = found[0] if len(found) == 1 else min(found, key=_VOLUME_TYPE_RANK.__getitem__)
    plain = _PLAIN_SOURCES.get(key)
    if plain is not None:
        return plain
    details = _fast_dict(v, key)
    if key == "csi":
        return r.VolumeSource("csi", csi_driver=_fast_str(details, "driver"),
                              csi_attributes=_shared_map(details.get("volumeAttributes")))
    return r.VolumeSource("nfs", nfs_server=_fast_str(details, "server"), nfs_path=_fast_str(details, "path"))


def _pod_fast(f: FieldReader) -> r.Pod:
    raw = f.raw
    spec, status = _fast_dict(raw, "spec"), _fast_dict(raw, "status")
    volumes = []
    for v in _fast_list(spec, "volumes"):
        name = _fast_name(v)
        source = _fast_volume_source(v)
        claim = None
        if source.type == "persistentVolumeClaim":
            claim = _fast_str(_fast_dict(v, "persistentVolumeClaim"), "claimName")
        volumes.append(r.PodVolume(name=name, source=source, claim_name=claim))
    mounted: set[str] = set()
    devices: set[str] = set()
    env_literals: list[r.EnvLiteral] = []
    for group in ("initContainers", "containers"):
        for c in _fast_list(spec, group):
            if type(c) is not dict:
                raise _UnusualValueError
            for m in _fast_list(c, "volumeMounts"):
                mounted.add(_fast_name(m))
            for d in _fast_list(c, "volumeDevices"):
                devices.add(_fast_name(d))
            env = _fast_list(c, "env")
            if env:
                container = _fast_str(c, "name") or ""
                for e in env:
                    if type(e) is not dict:
                        raise _UnusualValueError
                    value = e.get("value")
                    if value not in (None, ""):
                        key = (container, _fast_str(e, "name") or "", env_value_kind(value))
                        literal = _ENV_MEMO.get(key)
                        if literal is None:
                            if len(_ENV_MEMO) >= _MEMO_MAX:
                                _ENV_MEMO.clear()
                            literal = _ENV_MEMO[key] = r.EnvLiteral(container=key[0], name=key[1], value_kind=key[2])
                        env_literals.append(literal)
    ready = False
    for c in _fast_list(status, "conditions"):
        if type(c) is not dict:
            raise _UnusualValueError
        if _fast_str(c, "type") == "Ready":
            ready = _fast_str(c, "status") == "True"
    return r.Pod(
        meta=meta(f), phase=_fast_str(status, "phase"), node_name=_fast_str(spec, "nodeName"), ready=ready,
        volumes=tuple(volumes), mounted=frozenset(mounted), block_devices=frozenset(devices) if devices else _NO_NAMES,
        env_literals=tuple(env_literals),
    )


_NO_NAMES: frozenset[str] = frozenset()


def pod_checked(f: FieldReader) -> r.Pod:
    """The general path of :func:`pod`: every field through the checked reader."""
    volumes = []
    for i, item in enumerate(f.list("spec.volumes")):
        v = f.sub(item, f"spec.volumes[{i}]")
        source = _volume_source(f, v.raw, f"spec.volumes[{i}]")
        volumes.append(r.PodVolume(
            name=v.req_str("name"), source=source,
            claim_name=v.str("persistentVolumeClaim.claimName") if source.type == "persistentVolumeClaim" else None,
        ))
    mounted: set[str] = set()
    devices: set[str] = set()
    env_literals: list[r.EnvLiteral] = []
    for group in ("spec.initContainers", "spec.containers"):
        for i, item in enumerate(f.list(group)):
            c = f.sub(item, f"{group}[{i}]")
            for j, m in enumerate(c.list("volumeMounts")):
                mounted.add(c.sub(m, f"volumeMounts[{j}]").req_str("name"))
            for j, d in enumerate(c.list("volumeDevices")):
                devices.add(c.sub(d, f"volumeDevices[{j}]").req_str("name"))
            for j, e in enumerate(c.list("env")):
                env = c.sub(e, f"env[{j}]")
                value = env.get("value")
                if value not in (None, ""):
                    env_literals.append(r.EnvLiteral(container=c.str("name") or "", name=env.str("name") or "",
                                                     value_kind=env_value_kind(value)))
    ready = False
    for i, item in enumerate(f.list("status.conditions")):
        c = f.sub(item, f"status.conditions[{i}]")
        if c.str("type") == "Ready":
            ready = c.str("status") == "True"
    return r.Pod(
        meta=meta(f), phase=f.str("status.phase"), node_name=f.str("spec.nodeName"), ready=ready,
        volumes=tuple(volumes), mounted=frozenset(mounted), block_devices=frozenset(devices),
        env_literals=tuple(env_literals),
    )


def _containers_args(f: FieldReader, template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    args: list[str] = []
    images: list[str] = []
    for i, item in enumerate(f.list(f"{template}.spec.containers")):
        c = f.sub(item, f"{template}.spec.containers[{i}]")
        args.extend(c.strs("command"))
        args.extend(c.strs("args"))
        image = c.str("image")
        if image:
            images.append(image)
    return tuple(args), tuple(images)


def workload(f: FieldReader) -> r.Workload:
    kind = f.str("kind") or ""
    if kind == "CronJob":
        template = "spec.jobTemplate.spec.template"
        replicas = ready = None
        suspended = bool(f.bool("spec.suspend"))
    elif kind == "DaemonSet":
        template = "spec.template"
        replicas = f.int("status.desiredNumberScheduled")
        ready = f.int("status.numberReady", 0)
        suspended = False
    else:
        template = "spec.template"
        replicas = f.int("spec.replicas", 1)
        ready = f.int("status.readyReplicas", 0)
        suspended = False
    args, images = _containers_args(f, template)
    claims = tuple(
        f.sub(t, f"spec.volumeClaimTemplates[{i}]").req_str("metadata.name")
        for i, t in enumerate(f.list("spec.volumeClaimTemplates"))
    )
    secret_volumes = sorted({name for i, v in enumerate(f.list(f"{template}.spec.volumes"))
                             if (name := f.sub(v, f"{template}.spec.volumes[{i}]").str("secret.secretName"))})
    return r.Workload(
        kind=kind, meta=meta(f), replicas=replicas, ready=ready, suspended=suspended, args=args, images=images,
        service_account=f.str(f"{template}.spec.serviceAccountName"),
        pod_labels=f.str_map(f"{template}.metadata.labels"), volume_claim_templates=claims,
        secret_volumes=tuple(secret_volumes),
        init_images=tuple(image for i, item in enumerate(f.list(f"{template}.spec.initContainers"))
                          if (image := f.sub(item, f"{template}.spec.initContainers[{i}]").str("image"))),
    )


def storage_class(f: FieldReader) -> r.StorageClass:
    m = meta(f)
    is_default = m.annotations.get("storageclass.kubernetes.io/is-default-class") == "true" or \
        m.annotations.get("storageclass.beta.kubernetes.io/is-default-class") == "true"
    return r.StorageClass(m, provisioner=f.str("provisioner") or "", is_default=is_default)


def csi_driver(f: FieldReader) -> r.CSIDriver:
    return r.CSIDriver(meta(f))


def service_account(f: FieldReader) -> r.ServiceAccount:
    return r.ServiceAccount(meta(f))


def role(f: FieldReader) -> r.Role:
    rules = []
    for i, item in enumerate(f.list("rules")):
        rule = f.sub(item, f"rules[{i}]")
        rules.append(r.PolicyRule(verbs=rule.strs("verbs"), api_groups=rule.strs("apiGroups"),
                                  resources=rule.strs("resources"), resource_names=rule.strs("resourceNames")))
    selectors = tuple(
        f.sub(s, f"aggregationRule.clusterRoleSelectors[{i}]").str_map("matchLabels")
        for i, s in enumerate(f.list("aggregationRule.clusterRoleSelectors"))
    )
    return r.Role(kind=f.str("kind") or "Role", meta=meta(f), rules=tuple(rules), aggregation_selectors=selectors)


def role_binding(f: FieldReader) -> r.RoleBinding:
    subjects = []
    for i, item in enumerate(f.list("subjects")):
        s = f.sub(item, f"subjects[{i}]")
        subjects.append(r.Subject(kind=s.str("kind") or "", name=s.str("name") or "", namespace=s.str("namespace")))
    return r.RoleBinding(kind=f.str("kind") or "RoleBinding", meta=meta(f), role_kind=f.str("roleRef.kind") or "",
                         role_name=f.req_str("roleRef.name"), subjects=tuple(subjects))


def secret(f: FieldReader) -> r.Secret:
    """Metadata only: the keys are kept, every value is dropped here."""
    keys = sorted(set(f.dict("data")) | set(f.dict("stringData")))
    updated: list[datetime] = []
    for i, item in enumerate(f.list("metadata.managedFields")):
        t = f.sub(item, f"metadata.managedFields[{i}]").time("time")
        if t is not None:
            updated.append(t)
    m = meta(f)
    return r.Secret(meta=m, type=f.str("type"), keys=tuple(keys), updated=tuple(sorted(set(updated))))


def config_map(f: FieldReader) -> r.ConfigMap:
    return r.ConfigMap(meta(f), data=f.str_map("data"))


# --- CSI snapshots ------------------------------------------------------------------------------


def volume_snapshot_class(f: FieldReader) -> r.VolumeSnapshotClass:
    return r.VolumeSnapshotClass(meta(f), driver=f.str("driver") or "", deletion_policy=f.str("deletionPolicy"))


def _error_message(f: FieldReader, path: str) -> str | None:
    return f.str(f"{path}.message") if f.get(path) is not None else None


def volume_snapshot(f: FieldReader) -> r.VolumeSnapshot:
    return r.VolumeSnapshot(
        meta=meta(f), source_pvc=f.str("spec.source.persistentVolumeClaimName"),
        class_name=f.str("spec.volumeSnapshotClassName"), content_name=f.str("status.boundVolumeSnapshotContentName"),
        ready=f.bool("status.readyToUse"), created=f.time("status.creationTime"),
        error=_error_message(f, "status.error"),
    )


def volume_snapshot_content(f: FieldReader) -> r.VolumeSnapshotContent:
    created_ns = f.int("status.creationTime")
    try:
        created = datetime.fromtimestamp(created_ns / 1e9, tz=UTC) if created_ns else None
    except (OverflowError, OSError, ValueError):
        raise f.error("status.creationTime", f"not a time in nanoseconds: {created_ns!r:.40}") from None
    return r.VolumeSnapshotContent(
        meta=meta(f), driver=f.str("spec.driver"), deletion_policy=f.str("spec.deletionPolicy"),
        snapshot_namespace=f.str("spec.volumeSnapshotRef.namespace"),
        snapshot_name=f.str("spec.volumeSnapshotRef.name"),
        ready=f.bool("status.readyToUse"), created=created,
    )


# --- Velero -------------------------------------------------------------------------------------


def _selector(s: FieldReader) -> r.LabelSelector:
    exprs = []
    for i, item in enumerate(s.list("matchExpressions")):
        e = s.sub(item, f"matchExpressions[{i}]")
        exprs.append(r.LabelRequirement(key=e.req_str("key"), operator=e.req_str("operator"), values=e.strs("values")))
    return r.LabelSelector(match_labels=s.str_map("matchLabels"), expressions=tuple(exprs))


def label_selector(f: FieldReader, path: str) -> r.LabelSelector | None:
    value = f.get(path)
    return None if value is None else _selector(f.sub(value, path))




#: Backups of one schedule share one spec: build each distinct spec once (a pure memo, bounded).
_SPEC_MEMO: dict[bytes, r.BackupSpec] = {}
_SPEC_MEMO_MAX = 20_000
CSI_CLASS_ANNOTATION_PREFIX = "velero.io/csi-volumesnapshot-class"


def backup_spec(f: FieldReader, path: str, annotations: dict[str, str]) -> r.BackupSpec:
    """The scope and data-path fields of a BackupSpec. Identical specs (every backup of a schedule) are
    built once and shared, which saves both time and hundreds of megabytes at 50,000 backups."""
    classes = {k: v for k, v in annotations.items() if k.startswith(CSI_CLASS_ANNOTATION_PREFIX)}
    raw = f.get(path)
    try:
        key = orjson.dumps([raw, classes], option=orjson.OPT_SORT_KEYS)
    except TypeError:
        key = b""
    if key and key in _SPEC_MEMO:
        return _SPEC_MEMO[key]
    spec = _build_backup_spec(f, path, classes)
    if key:
        if len(_SPEC_MEMO) >= _SPEC_MEMO_MAX:
            _SPEC_MEMO.clear()
        _SPEC_MEMO[key] = spec
    return spec


def _build_backup_spec(f: FieldReader, path: str, annotations: dict[str, str]) -> r.BackupSpec:
    def strs(name: str) -> tuple[str, ...]:
        return f.strs(f"{path}.{name}")

    ttl_text = f.str(f"{path}.ttl")
    ttl = None
    if ttl_text is not None:
        ttl = go_duration_seconds(ttl_text)
        if ttl is None:
            raise f.error(f"{path}.ttl", f"not a Go duration: {ttl_text!r:.40}")
    or_selectors = [
        _selector(f.sub(item, f"{path}.orLabelSelectors[{i}]"))
        for i, item in enumerate(f.list(f"{path}.orLabelSelectors"))
    ]
    # Velero applies a resource policy only when the reference's kind is exactly "configmap" (backup_controller's
    # prepareBackupRequest); any other kind, an empty one or "ConfigMap" included, is ignored without an error
    policy_kind = f.str(f"{path}.resourcePolicy.kind")
    return r.BackupSpec(
        included_namespaces=strs("includedNamespaces"),
        excluded_namespaces=strs("excludedNamespaces"),
        included_resources=strs("includedResources"),
        excluded_resources=strs("excludedResources"),
        include_cluster_resources=f.bool(f"{path}.includeClusterResources"),
        included_cluster_scoped=strs("includedClusterScopedResources"),
        excluded_cluster_scoped=strs("excludedClusterScopedResources"),
        included_namespace_scoped=strs("includedNamespaceScopedResources"),
        excluded_namespace_scoped=strs("excludedNamespaceScopedResources"),
        label_selector=label_selector(f, f"{path}.labelSelector"),
        or_label_selectors=tuple(or_selectors),
        snapshot_volumes=f.bool(f"{path}.snapshotVolumes"),
        default_volumes_to_fs_backup=f.bool(f"{path}.defaultVolumesToFsBackup"),
        default_volumes_to_restic=f.bool(f"{path}.defaultVolumesToRestic"),
        snapshot_move_data=f.bool(f"{path}.snapshotMoveData"),
        ttl_seconds=ttl,
        storage_location=f.str(f"{path}.storageLocation") or None,
        volume_snapshot_locations=strs("volumeSnapshotLocations"),
        resource_policy=f.str(f"{path}.resourcePolicy.name") if policy_kind == "configmap" else None,
        annotations=annotations,
    )


def _fast_str(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    if type(value) is str:
        return _intern(value)
    if value is None:
        return None
    raise _UnusualValueError


def _fast_int(d: dict[str, Any], key: str) -> int:
    value = d.get(key)
    if value is None:
        return 0
    if type(value) is int:
        return value
    raise _UnusualValueError


def _fast_dict(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if type(value) is dict:
        return value
    raise _UnusualValueError


def backup(f: FieldReader) -> r.Backup:
    """50,000 of these in a large cluster: well-formed status fields are read straight from the dict."""
    m = meta(f)
    spec = backup_spec(f, "spec", m.annotations)
    try:
        st = _fast_dict(f.raw, "status")
        errors = st.get("validationErrors") or []
        if type(errors) is not list or any(type(e) is not str for e in errors):
            raise _UnusualValueError
        return r.Backup(
            meta=m, spec=spec, schedule=m.labels.get("velero.io/schedule-name"), phase=_fast_str(st, "phase"),
            started=_fast_time(st, "startTimestamp"), completed=_fast_time(st, "completionTimestamp"),
            expiration=_fast_time(st, "expiration"), errors=_fast_int(st, "errors"),
            warnings=_fast_int(st, "warnings"), failure_reason=_fast_str(st, "failureReason"),
            validation_errors=tuple(errors),
            snapshots_attempted=_fast_int(st, "volumeSnapshotsAttempted"),
            snapshots_completed=_fast_int(st, "volumeSnapshotsCompleted"),
            csi_snapshots_attempted=_fast_int(st, "csiVolumeSnapshotsAttempted"),
            csi_snapshots_completed=_fast_int(st, "csiVolumeSnapshotsCompleted"),
            item_operations_attempted=_fast_int(st, "backupItemOperationsAttempted"),
            item_operations_completed=_fast_int(st, "backupItemOperationsCompleted"),
            item_operations_failed=_fast_int(st, "backupItemOperationsFailed"),
        )
    except (_UnusualValueError, ValueError):
        return backup_checked(f, m, spec)


def backup_checked(f: FieldReader, m: r.Meta, spec: r.BackupSpec) -> r.Backup:
    """The general path of :func:`backup`: every status field through the checked reader."""
    return r.Backup(
        meta=m, spec=spec, schedule=m.labels.get("velero.io/schedule-name"),
        phase=f.str("status.phase"), started=f.time("status.startTimestamp"),
        completed=f.time("status.completionTimestamp"), expiration=f.time("status.expiration"),
        errors=f.int("status.errors", 0) or 0, warnings=f.int("status.warnings", 0) or 0,
        failure_reason=f.str("status.failureReason"), validation_errors=f.strs("status.validationErrors"),
        snapshots_attempted=f.int("status.volumeSnapshotsAttempted", 0) or 0,
        snapshots_completed=f.int("status.volumeSnapshotsCompleted", 0) or 0,
        csi_snapshots_attempted=f.int("status.csiVolumeSnapshotsAttempted", 0) or 0,
        csi_snapshots_completed=f.int("status.csiVolumeSnapshotsCompleted", 0) or 0,
        item_operations_attempted=f.int("status.backupItemOperationsAttempted", 0) or 0,
        item_operations_completed=f.int("status.backupItemOperationsCompleted", 0) or 0,
        item_operations_failed=f.int("status.backupItemOperationsFailed", 0) or 0,
    )


def schedule(f: FieldReader) -> r.Schedule:
    template_annotations = f.str_map("spec.template.metadata.annotations")
    m = meta(f)
    return r.Schedule(
        meta=m, cron=f.str("spec.schedule") or "",
        template=backup_spec(f, "spec.template", {**m.annotations, **template_annotations}),
        paused=bool(f.bool("spec.paused")), phase=f.str("status.phase"), last_backup=f.time("status.lastBackup"),
        validation_errors=f.strs("status.validationErrors"),
        use_owner_references=bool(f.bool("spec.useOwnerReferencesInBackup")),
    )


def backup_storage_location(f: FieldReader) -> r.BackupStorageLocation:
    return r.BackupStorageLocation(
        meta=meta(f), provider=f.str("spec.provider"), bucket=f.str("spec.objectStorage.bucket"),
        prefix=f.str("spec.objectStorage.prefix"), config=f.str_map("spec.config"),
        credential_name=f.str("spec.credential.name"), credential_key=f.str("spec.credential.key"),
        default=bool(f.bool("spec.default")), access_mode=f.str("spec.accessMode") or "ReadWrite",
        phase=f.str("status.phase"), last_validated=f.time("status.lastValidationTime"),
        message=f.str("status.message"),
    )


def volume_snapshot_location(f: FieldReader) -> r.VolumeSnapshotLocation:
    return r.VolumeSnapshotLocation(
        meta=meta(f), provider=f.str("spec.provider"), config=f.str_map("spec.config"),
        credential_name=f.str("spec.credential.name"), credential_key=f.str("spec.credential.key"),
        phase=f.str("status.phase"),
    )


def pod_volume_backup(f: FieldReader) -> r.PodVolumeBackup:
    """100,000 of these in a large cluster: well-formed fields are read straight from the dict."""
    m = meta(f, share=False)
    try:
        spec, st = _fast_dict(f.raw, "spec"), _fast_dict(f.raw, "status")
        pod = _fast_dict(spec, "pod")
        return r.PodVolumeBackup(
            meta=m, backup=m.labels.get("velero.io/backup-name"), pod_namespace=_fast_str(pod, "namespace"),
            pod_name=_fast_str(pod, "name"), volume=_fast_str(spec, "volume"),
            pvc_uid=m.labels.get("velero.io/pvc-uid"), pvc_name=m.annotations.get("velero.io/pvc-name"),
            node=_fast_str(spec, "node"), phase=_fast_str(st, "phase"),
            completed=_fast_time(st, "completionTimestamp"), message=_fast_str(st, "message"),
        )
    except (_UnusualValueError, ValueError):
        return pod_volume_backup_checked(f, m)


def pod_volume_backup_checked(f: FieldReader, m: r.Meta) -> r.PodVolumeBackup:
    """The general path of :func:`pod_volume_backup`: every field through the checked reader."""
    return r.PodVolumeBackup(
        meta=m, backup=m.labels.get("velero.io/backup-name"), pod_namespace=f.str("spec.pod.namespace"),
        pod_name=f.str("spec.pod.name"), volume=f.str("spec.volume"), pvc_uid=m.labels.get("velero.io/pvc-uid"),
        pvc_name=m.annotations.get("velero.io/pvc-name"), node=f.str("spec.node"), phase=f.str("status.phase"),
        completed=f.time("status.completionTimestamp"), message=f.str("status.message"),
    )


def data_upload(f: FieldReader) -> r.DataUpload:
    m = meta(f)
    return r.DataUpload(
        meta=m, backup=m.labels.get("velero.io/backup-name"), source_namespace=f.str("spec.sourceNamespace"),
        source_pvc=f.str("spec.sourcePVC"), phase=f.str("status.phase"),
        completed=f.time("status.completionTimestamp"), message=f.str("status.message"),
    )


def backup_repository(f: FieldReader) -> r.BackupRepository:
    return r.BackupRepository(
        meta=meta(f), volume_namespace=f.str("spec.volumeNamespace"),
        storage_location=f.str("spec.backupStorageLocation"), repository_type=f.str("spec.repositoryType"),
        phase=f.str("status.phase"), last_maintenance=f.time("status.lastMaintenanceTime"),
    )


def restore(f: FieldReader) -> r.Restore:
    return r.Restore(
        meta=meta(f), backup_name=f.str("spec.backupName"), schedule_name=f.str("spec.scheduleName"),
        phase=f.str("status.phase"), started=f.time("status.startTimestamp"),
        completed=f.time("status.completionTimestamp"), namespace_mapping=f.str_map("spec.namespaceMapping"),
    )


# --- k8up ---------------------------------------------------------------------------------------


def _k8up_backend_secrets(f: FieldReader, path: str) -> tuple[str, ...]:
    names = set()
    backend = f.dict(path)
    for store in backend.values():
        if isinstance(store, dict):
            for ref in store.values():
                if isinstance(ref, dict) and isinstance(ref.get("name"), str) and "key" in ref:
                    names.add(ref["name"])
    return tuple(sorted(names))


def k8up_schedule(f: FieldReader) -> r.K8upSchedule:
    effective = None
    for i, item in enumerate(f.list("status.effectiveSchedules")):
        e = f.sub(item, f"status.effectiveSchedules[{i}]")
        if e.str("jobType") == "backup":
            effective = e.str("generatedSchedule")
    return r.K8upSchedule(
        meta=meta(f), backup_cron=f.str("spec.backup.schedule"), effective_backup_cron=effective,
        repo_password_secret=f.str("spec.backend.repoPasswordSecretRef.name"),
        backend_secrets=_k8up_backend_secrets(f, "spec.backend"),
    )


def k8up_backup(f: FieldReader) -> r.K8upBackup:
    m = meta(f)
    succeeded: bool | None = None
    finished = None
    for i, item in enumerate(f.list("status.conditions")):
        c = f.sub(item, f"status.conditions[{i}]")
        if c.str("type") == "Completed" and c.str("status") == "True":
            succeeded = c.str("reason") == "Succeeded"
            finished = c.time("lastTransitionTime")
        elif c.str("type") == "PreBackupPodReady" and c.str("status") == "False" and c.str("reason") == "Failed":
            succeeded = False
    selectors = [_selector(f.sub(item, f"spec.labelSelectors[{i}]"))
                 for i, item in enumerate(f.list("spec.labelSelectors"))]
    schedule_name = m.labels.get("k8up.io/schedule-name") or next(
        (o.name for o in m.owners if o.kind == "Schedule"), None)
    return r.K8upBackup(meta=m, schedule=schedule_name, succeeded=succeeded, finished=finished,
                        label_selectors=tuple(selectors),
                        repo_password_secret=f.str("spec.backend.repoPasswordSecretRef.name"))


def k8up_snapshot(f: FieldReader) -> r.K8upSnapshot:
    return r.K8upSnapshot(meta=meta(f), date=f.time("spec.date"), paths=f.strs("spec.paths"))


# --- KubeStash ----------------------------------------------------------------------------------


def kubestash_backup_configuration(f: FieldReader) -> r.KubeStashBackupConfiguration:
    schedules = []
    secrets = set()
    m = meta(f)
    for i, item in enumerate(f.list("spec.sessions")):
        s = f.sub(item, f"spec.sessions[{i}]")
        cron = s.str("scheduler.schedule")
        if cron:
            schedules.append(cron)
        for j, repo in enumerate(s.list("repositories")):
            ref = s.sub(repo, f"repositories[{j}]")
            name = ref.str("encryptionSecret.name")
            if name:
                secrets.add((ref.str("encryptionSecret.namespace") or m.namespace or "", name))
    return r.KubeStashBackupConfiguration(
        meta=m, target_kind=f.str("spec.target.kind"), target_name=f.str("spec.target.name"),
        paused=bool(f.bool("spec.paused")), schedules=tuple(schedules), encryption_secrets=tuple(sorted(secrets)),
    )


def kubestash_backup_session(f: FieldReader) -> r.KubeStashBackupSession:
    m = meta(f)
    return r.KubeStashBackupSession(meta=m, invoker_name=f.str("spec.invoker.name"), phase=f.str("status.phase"),
                                    created=m.created)


def kubestash_repository(f: FieldReader) -> r.KubeStashRepository:
    return r.KubeStashRepository(
        meta=meta(f), app_kind=f.str("spec.appRef.kind"), app_name=f.str("spec.appRef.name"),
        app_namespace=f.str("spec.appRef.namespace"), phase=f.str("status.phase"),
        last_backup=f.time("status.lastBackupTime"), encryption_secret=f.str("spec.encryptionSecret.name"),
        encryption_secret_namespace=f.str("spec.encryptionSecret.namespace"),
    )


def kubestash_backup_storage(f: FieldReader) -> r.KubeStashBackupStorage:
    """``spec.storage.provider`` (s3, gcs, azure, ...) and that provider's ``secretName``."""
    provider = f.str("spec.storage.provider")
    secret = f.str(f"spec.storage.{provider}.secretName") if provider and provider.isidentifier() else None
    return r.KubeStashBackupStorage(meta=meta(f), provider=provider, secret_name=secret)


# --- etcd snapshots -----------------------------------------------------------------------------


def etcd_snapshot_file(f: FieldReader) -> r.EtcdSnapshot:
    """k3s/RKE2 ``ETCDSnapshotFile``: one per snapshot file, local (``file://``) or on S3 (``s3://``)."""
    m = meta(f)
    return r.EtcdSnapshot(
        meta=m, source="k3s", snapshot_name=f.str("spec.snapshotName") or m.name, node_name=f.str("spec.nodeName"),
        location=f.str("spec.location"), created=f.time("status.creationTime"), ready=f.bool("status.readyToUse"),
        error=f.str("status.error.message"), size_bytes=_quantity(f, "status.size"))

