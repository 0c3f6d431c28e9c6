"""The checked reader: raw objects (as ``kubectl get -o json`` prints them) into slim records.

Every field goes through :class:`~auditor.collect.fields.FieldReader`, which converts what Kubernetes
tolerates (a number in a label) and names the file, object and field of what it refuses. The kinds a large
cluster has most of are decoded typed (:mod:`auditor.collect.decode`); an object the typed decode refuses
comes here, and the kinds with few objects always do. The backup tools' decoders (``collect/tools``) build
on :func:`meta`, :func:`selector` and :func:`quantity`. Both sources, the live API and a dump directory,
read through the same functions, which is what makes a dump and a live read of the same objects give the
identical inventory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from auditor.collect.fields import FieldReader
from auditor.collect.secrets import env_value_kind
from auditor.model import records as r
from auditor.model.quantity import parse_quantity
from auditor.model.tools import TOOLS

#: Annotations that can hold a whole object (and so a Secret's values): never kept.
DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})

#: The annotation namespaces some analysis reads; other annotations are not kept in records (at 40,000
#: pods they are tens of megabytes of text nothing looks at). Dumps written by ``auditor snapshot`` keep
#: objects whole, so this never changes what a re-read sees.
KEPT_ANNOTATION_PREFIXES = (
    "backup.velero.io/", "velero.io/", "backup-auditor.io/", "snapshot.storage.kubernetes.io/",
    "storageclass.kubernetes.io/", "storageclass.beta.kubernetes.io/", "eks.amazonaws.com/", "iam.gke.io/",
    "azure.workload.identity/", "post.hook.restore.velero.io/", "init.hook.restore.velero.io/",
    *(prefix for tool in TOOLS for prefix in tool.annotation_prefixes),
)

#: Pod volume source keys, as Velero's volume policy ``volumeTypes`` names them.
VOLUME_TYPES = (
    "persistentVolumeClaim", "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder",
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "fc", "flocker", "flexVolume", "gitRepo",
    "glusterfs", "gcePersistentDisk", "hostPath", "iscsi", "local", "nfs", "photonPersistentDisk",
    "portworxVolume", "projected", "quobyte", "rbd", "scaleIO", "secret", "storageos", "vsphereVolume",
)


def meta(f: FieldReader) -> r.Meta:
    """Every record's metadata, every field through the checked reader."""
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


#: the one empty map records without labels or kept annotations share (read-only by convention, as every
#: record's maps)
EMPTY_MAP: dict[str, str] = {}


def bare(m: r.Meta) -> r.Meta:
    """``m``'s name, namespace and uid only (:func:`auditor.collect.decode.bare_meta` is the typed twin): for
    records that keep what they read from labels and annotations in fields of their own."""
    return r.Meta(name=m.name, namespace=m.namespace, uid=m.uid, labels=EMPTY_MAP, annotations=EMPTY_MAP)


def quantity(f: FieldReader, path: str) -> int | None:
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
    return r.PersistentVolume(
        meta=meta(f),
        source=_volume_source(f, f.dict("spec"), "spec"),
        storage_class=f.str("spec.storageClassName") or None,
        capacity_bytes=quantity(f, "spec.capacity.storage"),
        claim_namespace=f.str("spec.claimRef.namespace"),
        claim_name=f.str("spec.claimRef.name"),
        phase=f.str("status.phase"),
        reclaim_policy=f.str("spec.persistentVolumeReclaimPolicy"),
        volume_mode=f.str("spec.volumeMode") or "Filesystem",
    )


def persistent_volume_claim(f: FieldReader) -> r.PersistentVolumeClaim:
    return r.PersistentVolumeClaim(
        meta=meta(f),
        storage_class=f.str("spec.storageClassName") or None,
        volume_name=f.str("spec.volumeName") or None,
        phase=f.str("status.phase"),
        volume_mode=f.str("spec.volumeMode") or "Filesystem",
        access_modes=f.strs("spec.accessModes"),
        requested_bytes=quantity(f, "spec.resources.requests.storage"),
    )


def pod(f: FieldReader) -> r.Pod:
    volumes = []
    for i, item in enumerate(f.list("spec.volumes")):
        v = f.sub(item, f"spec.volumes[{i}]")
        source = _volume_source(f, v.raw, f"spec.volumes[{i}]")
        volumes.append(r.PodVolume(
            name=v.req_str("name"), source=source,
            claim_name=v.str("persistentVolumeClaim.claimName") if source.type == "persistentVolumeClaim" else None,
        ))
    mounted: list[str] = []
    devices: list[str] = []
    env_literals: list[r.EnvLiteral] = []
    for group in ("spec.initContainers", "spec.containers"):
        for i, item in enumerate(f.list(group)):
            c = f.sub(item, f"{group}[{i}]")
            for j, m in enumerate(c.list("volumeMounts")):
                mounted.append(c.sub(m, f"volumeMounts[{j}]").req_str("name"))
            for j, d in enumerate(c.list("volumeDevices")):
                devices.append(c.sub(d, f"volumeDevices[{j}]").req_str("name"))
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
        volumes=tuple(volumes), mounted=tuple(dict.fromkeys(mounted)), block_devices=tuple(dict.fromkeys(devices)),
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


# --- label selectors (Velero's and the other tools' scopes) -----------------------------------


def selector(s: FieldReader) -> r.LabelSelector:
    exprs = []
    for i, item in enumerate(s.list("matchExpressions")):
        e = s.sub(item, f"matchExpressions[{i}]")
        exprs.append(r.LabelRequirement(key=e.req_str("key"), operator=e.req_str("operator"), values=e.strs("values")))
    return r.LabelSelector(match_labels=s.str_map("matchLabels"), expressions=tuple(exprs))



def label_selector(f: FieldReader, path: str) -> r.LabelSelector | None:
    value = f.get(path)
    return None if value is None else selector(f.sub(value, path))
