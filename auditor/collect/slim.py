"""The checked reader: raw objects (as ``kubectl get -o json`` prints them) into slim records.

Every field goes through :class:`~auditor.collect.fields.FieldReader`, which converts what Kubernetes
tolerates (a number in a label) and names the file, object and field of what it refuses. The kinds a large
cluster has most of are decoded typed (:mod:`auditor.collect.decode`); an object the typed decode refuses
comes here, and the kinds with few objects always do. Both sources, the live API and a dump directory,
read through the same functions, which is what makes a dump and a live read of the same objects give the
identical inventory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from auditor.collect.fields import FieldReader
from auditor.collect.secrets import env_value_kind
from auditor.model import records as r
from auditor.model.durations import go_duration_seconds
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


def persistent_volume_claim(f: FieldReader) -> r.PersistentVolumeClaim:
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


selector = _selector  # for the backup tools' decoders (``collect/tools``)


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


def backup(f: FieldReader) -> r.Backup:
    m = meta(f)
    return backup_checked(f, m, backup_spec(f, "spec", m.annotations))


def backup_checked(f: FieldReader, m: r.Meta, spec: r.BackupSpec) -> r.Backup:
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
    return pod_volume_backup_checked(f, meta(f))


def pod_volume_backup_checked(f: FieldReader, m: r.Meta) -> r.PodVolumeBackup:
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


# --- etcd snapshots -----------------------------------------------------------------------------


def etcd_snapshot_file(f: FieldReader) -> r.EtcdSnapshot:
    """k3s/RKE2 ``ETCDSnapshotFile``: one per snapshot file, local (``file://``) or on S3 (``s3://``)."""
    m = meta(f)
    return r.EtcdSnapshot(
        meta=m, source="k3s", snapshot_name=f.str("spec.snapshotName") or m.name, node_name=f.str("spec.nodeName"),
        location=f.str("spec.location"), created=f.time("status.creationTime"), ready=f.bool("status.readyToUse"),
        error=f.str("status.error.message"), size_bytes=_quantity(f, "status.size"))

