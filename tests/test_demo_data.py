"""The embedded demo fleet (``auditor/demo``): reproducible, well-formed and internally coherent.

The demo is what ``auditor demo`` scans with no cluster: ``demo-prod`` and ``demo-staging``, so a broken
reference here would show up as a wrong verdict there. These tests check the data, not the auditor: the
committed files equal a fresh run of ``scripts/build_demo.py``; every Velero, CSI-snapshot and k8up object
validates against its CRD's served ``openAPIV3Schema`` (from ``tests/kubeapi/crds``); and the cross-object
references (PVC/PV, pod/PVC, owner chains, PodVolumeBackup/DataUpload/Backup, Schedule/Backup, bucket
catalog/Backup) hold in each cluster.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "auditor" / "demo"
PROD, STAGING = "demo-prod", "demo-staging"
CLUSTERS = (PROD, STAGING)
CATALOG = DEMO / "catalog" / "backups"  # demo-prod's bucket prefix
MANIFEST = ".auditor-snapshot.json"
CRDS = ROOT / "tests" / "kubeapi" / "crds"
GENERATOR = ROOT / "scripts" / "build_demo.py"

Obj = dict[str, Any]

CLUSTER_SCOPED = {
    "Namespace", "Node", "StorageClass", "CSIDriver", "VolumeSnapshotClass", "PersistentVolume",
    "ClusterRole", "ClusterRoleBinding", "VolumeSnapshotContent",
}
# groups whose CRDs are in tests/kubeapi/crds: every object of these groups must validate
CRD_GROUPS = ("velero.io", "snapshot.storage.k8s.io", "k8up.io")
MAX_DEMO_BYTES = 1_500_000
MAX_STAGING_BYTES = 300_000


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def parse_go_duration(value: str) -> timedelta:
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    assert m and value, value
    h, mi, s = (int(x or 0) for x in m.groups())
    return timedelta(hours=h, minutes=mi, seconds=s)


AS_OF = parse_time((DEMO / "as_of.txt").read_text().strip())


def demo_files(root: Path) -> dict[str, Path]:
    out = {}
    for sub in ("clusters", "catalog"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file():
                out[p.relative_to(root).as_posix()] = p
    out["as_of.txt"] = root / "as_of.txt"
    return out


def cluster_dir(cluster: str) -> Path:
    return DEMO / "clusters" / cluster


def list_files(cluster: str) -> list[Path]:
    return sorted(p for p in cluster_dir(cluster).glob("*.json") if p.name != MANIFEST)


@cache
def lists(cluster: str = PROD) -> dict[str, list[Obj]]:
    return {p.stem: json.loads(p.read_text())["items"] for p in list_files(cluster)}


def manifest(cluster: str) -> Obj:
    data: Obj = json.loads((cluster_dir(cluster) / MANIFEST).read_text())
    return data


def objects(cluster: str = PROD) -> Iterator[Obj]:
    for items in lists(cluster).values():
        yield from items


def of_kind(kind: str, api_group: str | None = None, cluster: str = PROD) -> list[Obj]:
    return [
        o for o in objects(cluster)
        if o["kind"] == kind and (api_group is None or o["apiVersion"].split("/")[0] == api_group)
    ]


def by_key(items: list[Obj]) -> dict[tuple[str | None, str], Obj]:
    return {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in items}


def read_gz_json(path: Path) -> Any:
    return json.loads(gzip.decompress(path.read_bytes()))


# --------------------------------------------------------------------------------------------
# reproducibility and shape
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], check=True, capture_output=True)
    return out


def test_committed_files_equal_generator_output(generated: Path) -> None:
    fresh = demo_files(generated)
    committed = demo_files(DEMO)
    assert sorted(fresh) == sorted(committed), "file set differs: run scripts/build_demo.py"
    stale = [rel for rel in fresh if fresh[rel].read_bytes() != committed[rel].read_bytes()]
    assert not stale, f"stale demo files (run scripts/build_demo.py): {stale[:10]}"


def test_generator_is_deterministic(generated: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(tmp_path)], check=True, capture_output=True)
    again = demo_files(tmp_path)
    for rel, path in demo_files(generated).items():
        assert again[rel].read_bytes() == path.read_bytes(), rel


def test_demo_is_small() -> None:
    total = sum(p.stat().st_size for p in demo_files(DEMO).values())
    assert total < MAX_DEMO_BYTES, total
    staging = sum(p.stat().st_size for p in cluster_dir(STAGING).iterdir())
    assert staging < MAX_STAGING_BYTES, staging


def test_every_file_parses() -> None:
    common = {"namespaces", "nodes", "storage", "pvs", "pvcs", "pods", "workloads", "rbac", "secrets",
              "configmaps", "velero"}
    assert set(lists(PROD)) == common | {"snapshots", "k8up", "kubestash"}
    assert set(lists(STAGING)) == common
    assert {p.name for p in (DEMO / "clusters").iterdir()} == set(CLUSTERS)
    for cluster in CLUSTERS:
        for path in list_files(cluster):
            doc = json.loads(path.read_text())
            assert doc["apiVersion"] == "v1" and doc["kind"] == "List", path
            assert doc["metadata"] == {"resourceVersion": ""}, path
            assert doc["items"], path
    for path in CATALOG.rglob("*"):
        if path.is_dir():
            continue
        if path.suffix == ".gz":
            data = path.read_bytes()
            assert data[4:8] == b"\0\0\0\0", f"{path}: gzip mtime must be 0"
            read_gz_json(path)
        else:
            json.loads(path.read_text())
    assert datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC) == AS_OF


def test_manifests_name_their_clusters() -> None:
    """Each dump carries the manifest ``auditor snapshot`` writes, so a scan of both names both clusters."""
    from auditor.analyse.coverage import VERDICT_RESOURCES

    for cluster in CLUSTERS:
        m = manifest(cluster)
        assert list(m) == ["cluster", "server_version", "collected_at", "tool_version", "gaps"], cluster
        assert m["cluster"] == cluster
        assert m["server_version"].startswith("v1.34.")
        collected = datetime.fromisoformat(m["collected_at"])
        assert AS_OF - timedelta(minutes=10) < collected < AS_OF
        nodes = of_kind("Node", cluster=cluster)
        assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {m["server_version"]}
    assert manifest(PROD)["gaps"] == []
    [gap] = manifest(STAGING)["gaps"]
    assert gap["resource"] == "rolebindings.rbac.authorization.k8s.io" and gap["reason"] == "forbidden"
    assert gap["namespace"] is None and "cannot list resource \"rolebindings\"" in gap["message"]
    assert gap["resource"] not in VERDICT_RESOURCES, "the gap must not make every volume unknown"
    # what could not be read is absent from the dump, and the auditor's own role says why
    assert not of_kind("RoleBinding", cluster=STAGING) and of_kind("ClusterRoleBinding", cluster=STAGING)
    role = by_key(of_kind("ClusterRole", cluster=STAGING))[(None, "backup-auditor")]
    rbac = [r for r in role["rules"] if "rbac.authorization.k8s.io" in r["apiGroups"]]
    assert "rolebindings" not in rbac[0]["resources"] and "clusterrolebindings" in rbac[0]["resources"]


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_every_object_has_identity(cluster: str) -> None:
    uids: set[str] = set()
    for o in objects(cluster):
        assert o.get("apiVersion") and o.get("kind"), o
        m = o["metadata"]
        assert m.get("name"), o
        for key in ("uid", "resourceVersion", "creationTimestamp"):
            assert m.get(key), (o["kind"], m["name"], key)
        assert ("namespace" in m) == (o["kind"] not in CLUSTER_SCOPED), (o["kind"], m["name"])
        assert m["uid"] not in uids, (o["kind"], m["name"])
        uids.add(m["uid"])
        assert parse_time(m["creationTimestamp"]) <= AS_OF, (o["kind"], m["name"])


def test_uids_differ_across_clusters() -> None:
    prod = {o["metadata"]["uid"] for o in objects(PROD)}
    assert not prod & {o["metadata"]["uid"] for o in objects(STAGING)}


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_owner_references_resolve(cluster: str) -> None:
    by_uid = {o["metadata"]["uid"]: o for o in objects(cluster)}
    for o in objects(cluster):
        for ref in o["metadata"].get("ownerReferences", []):
            owner = by_uid.get(ref["uid"])
            assert owner is not None, (o["kind"], o["metadata"]["name"], ref)
            assert (owner["kind"], owner["metadata"]["name"], owner["apiVersion"]) == (
                ref["kind"], ref["name"], ref["apiVersion"]), ref
            assert owner["metadata"].get("namespace") in (None, o["metadata"].get("namespace"))


# --------------------------------------------------------------------------------------------
# CRD schemas
# --------------------------------------------------------------------------------------------


def to_json_schema(node: Any) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema, strict about unknown fields.

    The API server prunes fields a structural schema does not declare, so a demo object carrying one
    would not be "what the server returns": objects with declared ``properties`` get
    ``additionalProperties: false``. Subtrees marked ``x-kubernetes-preserve-unknown-fields`` are not
    checked. CEL rules (``x-kubernetes-validations``) are not evaluated.
    """
    if not isinstance(node, dict):
        return node
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return {}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [to_json_schema(v) for v in value]
        elif key in ("description", "nullable", "default", "example", "externalDocs") or key.startswith("x-"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if "properties" in out and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


@cache
def crd_schemas() -> dict[tuple[str, str], Obj]:
    schemas = {}
    for path in sorted(CRDS.rglob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = to_json_schema(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def format_checker() -> Any:
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator,unused-ignore]
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
            raise ValueError(f"not RFC 3339: {value!r}")
        return True

    @checker.checks("int64")  # type: ignore[untyped-decorator,unused-ignore]
    def _int64(value: object) -> bool:
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    @checker.checks("int32")  # type: ignore[untyped-decorator,unused-ignore]
    def _int32(value: object) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    return checker


def crd_objects() -> Iterator[tuple[str, Obj]]:
    """Objects of CRD_GROUPS (which must have a schema), and any other object whose CRD is present."""
    schemas = crd_schemas()
    for cluster in CLUSTERS:
        for o in objects(cluster):
            if o["apiVersion"].split("/")[0] in CRD_GROUPS or (o["apiVersion"], o["kind"]) in schemas:
                yield f"{cluster}: {o['kind']} {o['metadata'].get('namespace', '')}/{o['metadata']['name']}", o
    for backup_dir in sorted(CATALOG.iterdir()):
        name = backup_dir.name
        yield f"catalog: {name}/velero-backup.json", json.loads((backup_dir / "velero-backup.json").read_text())
        for pvb in read_gz_json(backup_dir / f"{name}-podvolumebackups.json.gz") or []:
            yield f"catalog: {name} PodVolumeBackup {pvb['metadata']['name']}", pvb


def test_crd_objects_validate_against_their_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="pip install jsonschema (test dependency)")
    schemas = crd_schemas()
    checker = format_checker()
    seen_kinds = set()
    for where, obj in crd_objects():
        key = (obj["apiVersion"], obj["kind"])
        assert key in schemas, f"{where}: no served CRD version for {key}"
        validator = jsonschema.Draft7Validator(schemas[key], format_checker=checker)
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        assert not errors, f"{where}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])
        seen_kinds.add(key)
    for expected in [
        ("velero.io/v1", "Backup"), ("velero.io/v1", "Schedule"), ("velero.io/v1", "BackupStorageLocation"),
        ("velero.io/v1", "VolumeSnapshotLocation"), ("velero.io/v1", "PodVolumeBackup"),
        ("velero.io/v2alpha1", "DataUpload"), ("velero.io/v1", "BackupRepository"), ("velero.io/v1", "Restore"),
        ("snapshot.storage.k8s.io/v1", "VolumeSnapshot"), ("snapshot.storage.k8s.io/v1", "VolumeSnapshotContent"),
        ("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass"), ("k8up.io/v1", "Schedule"),
        ("k8up.io/v1", "Backup"), ("k8up.io/v1", "Snapshot"),
    ]:
        assert expected in seen_kinds, expected


def test_schema_conversion_is_strict() -> None:
    """The validator must reject an unknown field and a wrong enum, or the test above proves nothing."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = crd_schemas()[("velero.io/v1", "Backup")]
    backup = json.loads(json.dumps(of_kind("Backup", "velero.io")[0]))
    backup["status"]["phase"] = "Done"
    backup["spec"]["snapshotVolume"] = True
    messages = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(backup)]
    assert any("Done" in m for m in messages)
    assert any("snapshotVolume" in m for m in messages)


# --------------------------------------------------------------------------------------------
# core references
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_pvc_pv_bindings_are_consistent(cluster: str) -> None:
    pvcs = by_key(of_kind("PersistentVolumeClaim", cluster=cluster))
    pvs = {o["metadata"]["name"]: o for o in of_kind("PersistentVolume", cluster=cluster)}
    classes = {o["metadata"]["name"]: o for o in of_kind("StorageClass", cluster=cluster)}
    sources = {"rbd.csi.ceph.com": "csi", "rancher.io/local-path": "hostPath",
               "cluster.local/nfs-subdir-external-provisioner": "nfs", "ebs.csi.aws.com": "csi"}
    claimed = set()
    for (ns, name), pvc in pvcs.items():
        assert pvc["spec"]["storageClassName"] in classes, name
        if pvc["status"]["phase"] != "Bound":
            assert "volumeName" not in pvc["spec"], name
            continue
        pv = pvs[pvc["spec"]["volumeName"]]
        ref = pv["spec"]["claimRef"]
        assert (ref["namespace"], ref["name"], ref["uid"]) == (ns, name, pvc["metadata"]["uid"])
        assert pv["status"]["phase"] == "Bound"
        assert pv["spec"]["storageClassName"] == pvc["spec"]["storageClassName"]
        assert pv["spec"]["capacity"] == pvc["status"]["capacity"]
        claimed.add(pv["metadata"]["name"])
    assert claimed == set(pvs), "every PV is bound to exactly the PVC that names it"
    for pv in pvs.values():
        kinds = [k for k in ("csi", "hostPath", "nfs") if k in pv["spec"]]
        assert kinds == [sources[classes[pv["spec"]["storageClassName"]]["provisioner"]]], pv["metadata"]["name"]
        if "csi" in pv["spec"]:
            assert pv["spec"]["csi"]["driver"] in {o["metadata"]["name"] for o in of_kind("CSIDriver", cluster=cluster)}


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_every_pod_volume_and_node_exists(cluster: str) -> None:
    pvcs = by_key(of_kind("PersistentVolumeClaim", cluster=cluster))
    nodes = {o["metadata"]["name"] for o in of_kind("Node", cluster=cluster)}
    namespaces = {o["metadata"]["name"] for o in of_kind("Namespace", cluster=cluster)}
    for pod in of_kind("Pod", cluster=cluster):
        ns = pod["metadata"]["namespace"]
        assert ns in namespaces
        if pod["status"]["phase"] == "Running":
            assert pod["spec"]["nodeName"] in nodes
        mounted = {m["name"] for c in pod["spec"]["containers"] for m in c.get("volumeMounts", [])}
        for vol in pod["spec"]["volumes"]:
            assert vol["name"] in mounted, (pod["metadata"]["name"], vol["name"])
            if "persistentVolumeClaim" in vol:
                assert (ns, vol["persistentVolumeClaim"]["claimName"]) in pvcs, (pod["metadata"]["name"], vol)
        for annotation in ("backup.velero.io/backup-volumes", "backup.velero.io/backup-volumes-excludes"):
            for name in filter(None, pod["metadata"].get("annotations", {}).get(annotation, "").split(",")):
                assert name in {v["name"] for v in pod["spec"]["volumes"]}, (pod["metadata"]["name"], name)


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_node_bound_pvs_are_pinned_where_their_pod_runs(cluster: str) -> None:
    nodes = {o["metadata"]["name"]: o for o in of_kind("Node", cluster=cluster)}
    pvcs = by_key(of_kind("PersistentVolumeClaim", cluster=cluster))
    for pv in of_kind("PersistentVolume", cluster=cluster):
        if "nodeAffinity" not in pv["spec"]:
            continue
        [expr] = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"]
        ref = pv["spec"]["claimRef"]
        pvc_notes = pvcs[(ref["namespace"], ref["name"])]["metadata"]["annotations"]
        selected = pvc_notes["volume.kubernetes.io/selected-node"]
        assert selected in nodes
        if "hostPath" in pv["spec"]:  # local-path: the node itself
            assert expr["key"] == "kubernetes.io/hostname" and expr["values"] == [selected]
        else:  # a zonal disk (EBS): the zone of the node it was provisioned for
            assert expr["key"] == "topology.kubernetes.io/zone"
            assert expr["values"] == [nodes[selected]["metadata"]["labels"]["topology.kubernetes.io/zone"]]


# --------------------------------------------------------------------------------------------
# Velero coherence
# --------------------------------------------------------------------------------------------


def velero_backups(cluster: str = PROD) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in of_kind("Backup", "velero.io", cluster)}


def test_pod_volume_backups_and_data_uploads_refer_to_backups() -> None:
    backups = velero_backups()
    pvcs = by_key(of_kind("PersistentVolumeClaim"))
    pvc_by_uid = {o["metadata"]["uid"]: o for o in pvcs.values()}
    pods = by_key(of_kind("Pod"))
    items = of_kind("PodVolumeBackup") + of_kind("DataUpload")
    assert items
    for item in items:
        labels = item["metadata"]["labels"]
        backup = backups[labels["velero.io/backup-name"]]
        assert labels["velero.io/backup-uid"] == backup["metadata"]["uid"]
        assert item["metadata"]["ownerReferences"][0]["uid"] == backup["metadata"]["uid"]
        assert item["metadata"]["name"].startswith(backup["metadata"]["name"] + "-")
        pvc = pvc_by_uid[labels["velero.io/pvc-uid"]]
        if item["kind"] == "PodVolumeBackup":
            pod = pods[(item["spec"]["pod"]["namespace"], item["spec"]["pod"]["name"])]
            assert item["spec"]["pod"]["uid"] == pod["metadata"]["uid"]
            assert item["spec"]["node"] == pod["spec"]["nodeName"]
            assert item["metadata"]["annotations"]["velero.io/pvc-name"] == pvc["metadata"]["name"]
        else:
            assert (item["spec"]["sourceNamespace"], item["spec"]["sourcePVC"]) == (
                pvc["metadata"]["namespace"], pvc["metadata"]["name"])
            assert backup["spec"]["snapshotMoveData"] is True
            op = labels["velero.io/async-operation-id"]
            assert len(op) <= 63 and op.startswith("du-" + backup["metadata"]["uid"][:20])
        assert parse_time(item["status"]["completionTimestamp"]) <= parse_time(
            backup["status"]["completionTimestamp"])


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_backups_are_coherent_with_their_schedules(cluster: str) -> None:
    schedules = {o["metadata"]["name"]: o for o in of_kind("Schedule", "velero.io", cluster)}
    bsls = {o["metadata"]["name"]: o for o in of_kind("BackupStorageLocation", cluster=cluster)}
    default_bsl = next(n for n, b in bsls.items() if b["spec"].get("default"))
    excluded_ns = sorted(o["metadata"]["name"] for o in of_kind("Namespace", cluster=cluster)
                         if o["metadata"]["labels"].get("velero.io/exclude-from-backup") == "true")
    newest: dict[str, datetime] = {}
    for name, b in velero_backups(cluster).items():
        labels, spec, status = b["metadata"]["labels"], b["spec"], b["status"]
        schedule = schedules[labels["velero.io/schedule-name"]]
        created = parse_time(b["metadata"]["creationTimestamp"])
        assert name == f"{schedule['metadata']['name']}-{created:%Y%m%d%H%M%S}"
        location = schedule["spec"]["template"].get("storageLocation", default_bsl)
        assert labels["velero.io/storage-location"] == spec["storageLocation"] == location
        if status["phase"] == "FailedValidation":
            # validated, never started: why is in validationErrors (a missing or read-only location here)
            [error] = status["validationErrors"]
            assert location not in bsls or bsls[location]["spec"].get("accessMode") == "ReadOnly", name
            assert f"'{location}' wasn't found" in error or f"location {location} is currently in read-only" in error
            assert not {"startTimestamp", "completionTimestamp", "progress"} & set(status), name
            processed = parse_time(status["expiration"]) - parse_go_duration(spec["ttl"])
            assert created <= processed <= created + timedelta(minutes=1), name
            newest[schedule["metadata"]["name"]] = max(created, newest.get(schedule["metadata"]["name"], created))
            continue
        assert location in bsls, name
        if parse_time(status["expiration"]) < AS_OF:  # expired but kept: only when GC could not delete it
            assert labels.get("velero.io/gc-failure") == "BSLReadOnly", name
        start = parse_time(status["startTimestamp"])
        assert created <= start <= AS_OF
        assert parse_time(status["expiration"]) == start + parse_go_duration(spec["ttl"])
        if status["phase"] in ("Completed", "PartiallyFailed", "Failed"):
            assert start < parse_time(status["completionTimestamp"]) <= AS_OF
        else:
            assert "completionTimestamp" not in status
        if status["phase"] in ("Completed", "PartiallyFailed"):
            assert status.get("csiVolumeSnapshotsCompleted", 0) <= status.get("csiVolumeSnapshotsAttempted", 0)
        if status["phase"] == "Failed":
            assert status["failureReason"]
        for ns in excluded_ns:
            assert ns in spec["excludedNamespaces"], name
        template = schedule["spec"]["template"]
        for key in ("includedNamespaces", "snapshotMoveData", "snapshotVolumes", "includeClusterResources",
                    "defaultVolumesToFsBackup", "resourcePolicy"):
            if key in template:
                assert spec[key] == template[key], (name, key)
        newest[schedule["metadata"]["name"]] = max(created, newest.get(schedule["metadata"]["name"], created))
    for sname, schedule in schedules.items():
        if sname in newest:
            assert parse_time(schedule["status"]["lastBackup"]) == newest[sname], sname


def _cron_fire_times(expr: str, around: datetime) -> tuple[datetime, datetime]:
    """The last fire time at or before ``around`` and the next after it."""
    from croniter import croniter

    tz: tzinfo = UTC
    if expr.startswith("CRON_TZ="):
        tz_name, expr = expr.split(" ", 1)
        tz = ZoneInfo(tz_name.removeprefix("CRON_TZ="))
    local = around.astimezone(tz)
    prev = croniter(expr, local + timedelta(seconds=1)).get_prev(datetime)
    nxt = croniter(expr, local).get_next(datetime)
    return prev.astimezone(UTC), nxt.astimezone(UTC)


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_backups_fire_at_their_cron_times(cluster: str) -> None:
    schedules = {o["metadata"]["name"]: o for o in of_kind("Schedule", "velero.io", cluster)}
    checked = 0
    for b in velero_backups(cluster).values():
        expr = schedules[b["metadata"]["labels"]["velero.io/schedule-name"]]["spec"]["schedule"]
        if expr.startswith("@every"):
            continue
        created = parse_time(b["metadata"]["creationTimestamp"])
        prev, _ = _cron_fire_times(expr, created)
        assert timedelta(0) <= created - prev < timedelta(minutes=1), (b["metadata"]["name"], expr)
        checked += 1
    assert checked > (20 if cluster == PROD else 10)


def test_bucket_catalog_matches_the_backups() -> None:
    backups = velero_backups()
    pvcs = by_key(of_kind("PersistentVolumeClaim"))
    pvbs = of_kind("PodVolumeBackup")
    catalogued = {p.name for p in CATALOG.iterdir()}
    assert catalogued <= set(backups)
    terminal_ok = {n for n, b in backups.items() if b["status"]["phase"] in ("Completed", "PartiallyFailed")}
    assert catalogued <= terminal_ok
    assert terminal_ok - catalogued, "some usable backups deliberately have no catalog files"
    for name in catalogued:
        d = CATALOG / name
        assert {p.name for p in d.iterdir()} == {
            "velero-backup.json", f"{name}-volumeinfo.json.gz", f"{name}-results.gz",
            f"{name}-podvolumebackups.json.gz"}
        assert json.loads((d / "velero-backup.json").read_text()) == backups[name]
        results = read_gz_json(d / f"{name}-results.gz")
        status = backups[name]["status"]
        for level, counter in (("errors", "errors"), ("warnings", "warnings")):
            lines = results[level].get("velero", []) + [
                line for msgs in results[level].get("namespaces", {}).values() for line in msgs]
            assert len(lines) == status.get(counter, 0), (name, level)
        in_bucket = read_gz_json(d / f"{name}-podvolumebackups.json.gz") or []
        in_cluster = [p for p in pvbs if p["metadata"]["labels"]["velero.io/backup-name"] == name]
        assert in_bucket == in_cluster
        for vi in read_gz_json(d / f"{name}-volumeinfo.json.gz"):
            pvc = pvcs[(vi["pvcNamespace"], vi["pvcName"])]
            assert vi["pvName"] == pvc["spec"]["volumeName"]
            assert vi["pvcNamespace"] in backups[name]["spec"]["includedNamespaces"] or \
                backups[name]["spec"]["includedNamespaces"] == ["*"]
            if vi["skipped"]:
                assert vi["skippedReason"] and "backupMethod" not in vi
            else:
                assert vi["backupMethod"] in ("CSISnapshot", "PodVolumeBackup", "NativeSnapshot")
                assert vi["result"] in ("succeeded", "failed")
            info = vi.get("csiSnapshotInfo") or {}
            assert "readyToUse" not in info and "phase" not in (vi.get("snapshotDataMovementInfo") or {})


def test_velero_install_facts() -> None:
    secrets = by_key(of_kind("Secret"))
    import base64

    repo = secrets[("velero", "velero-repo-credentials")]["data"]["repository-password"]
    assert base64.b64decode(repo) == b"static-passw0rd"
    assert b"aws_access_key_id = AKIA" in base64.b64decode(secrets[("velero", "cloud-credentials")]["data"]["cloud"])
    bsls = {o["metadata"]["name"]: o for o in of_kind("BackupStorageLocation")}
    assert [n for n, b in bsls.items() if b["spec"].get("default")] == ["default"]
    policy_cm = by_key(of_kind("ConfigMap"))[("velero", "daily-apps-policy")]
    assert len(policy_cm["data"]) == 1
    policy = yaml.safe_load(next(iter(policy_cm["data"].values())))
    assert policy["version"] == "v1" and policy["volumePolicies"]


def test_staging_story() -> None:
    """demo-staging: prod's cloud key, a read-only default location, a missing one, no restore, no node-agent."""
    import base64

    prod, staging = (by_key(of_kind("Secret", cluster=c)) for c in CLUSTERS)
    key = ("velero", "cloud-credentials")
    assert staging[key]["data"] == prod[key]["data"], "the same key in both clusters (CRD-005)"
    repo = base64.b64decode(staging[("velero", "velero-repo-credentials")]["data"]["repository-password"])
    assert repo != b"static-passw0rd", "staging pre-created its repository password"

    [bsl] = of_kind("BackupStorageLocation", cluster=STAGING)
    assert bsl["metadata"]["name"] == "default" and bsl["spec"]["default"] is True
    assert bsl["spec"]["accessMode"] == "ReadOnly" and bsl["metadata"]["generation"] == 2
    assert bsl["spec"]["objectStorage"]["bucket"] == by_key(of_kind("BackupStorageLocation"))[
        ("velero", "default")]["spec"]["objectStorage"]["bucket"], "one bucket, one prefix per cluster"
    assert bsl["spec"]["objectStorage"]["prefix"] == STAGING

    schedules = {o["metadata"]["name"]: o for o in of_kind("Schedule", "velero.io", STAGING)}
    assert {n: s["status"]["phase"] for n, s in schedules.items()} == {"nightly": "Enabled",
                                                                      "weekly-offsite": "Enabled"}
    assert "storageLocation" not in schedules["nightly"]["spec"]["template"]  # falls back to the read-only one
    assert schedules["weekly-offsite"]["spec"]["template"]["storageLocation"] == "offsite"  # does not exist
    phases: dict[str, list[str]] = {}
    for b in sorted(velero_backups(STAGING).values(), key=lambda b: str(b["metadata"]["creationTimestamp"])):
        phases.setdefault(b["metadata"]["labels"]["velero.io/schedule-name"], []).append(b["status"]["phase"])
    assert set(phases["weekly-offsite"]) == {"FailedValidation"}
    nightly = phases["nightly"]  # Completed until the location went read-only, FailedValidation since
    assert nightly == sorted(nightly) and {"Completed", "FailedValidation"} == set(nightly)

    assert not of_kind("Restore", cluster=STAGING), "no restore ever (GOV-001)"
    assert of_kind("Restore"), "demo-prod keeps its restore drill"
    assert not [w for w in of_kind("DaemonSet", cluster=STAGING) if w["metadata"]["namespace"] == "velero"]
    assert not of_kind("PodVolumeBackup", cluster=STAGING) and not of_kind("DataUpload", cluster=STAGING)


# --------------------------------------------------------------------------------------------
# hand-written companions
# --------------------------------------------------------------------------------------------


def test_config_and_readme_cover_the_demo() -> None:
    config = yaml.safe_load((DEMO / "config.yaml").read_text())
    assert config["defaults"] == {"rpo": "24h", "retention": "7d"}
    assert set(config["exclude_namespaces"]) == {"kube-system", "kube-public", "kube-node-lease"}
    assert {p["name"] for p in config["policies"]} >= {"payments", "tier-1"}
    readme = (DEMO / "README.md").read_text()
    for cluster in CLUSTERS:
        assert f"`{cluster}`" in readme
        for (ns, name) in by_key(of_kind("PersistentVolumeClaim", cluster=cluster)):
            assert f"`{ns}/{name}`" in readme, f"README scenario table misses {ns}/{name} ({cluster})"
        for sched in of_kind("Schedule", "velero.io", cluster):
            assert f"`{sched['metadata']['name']}`" in readme


def test_config_exceptions_are_matched_unused_and_expired() -> None:
    """One waiver per register entry: it matches a demo-prod PVC, it names a PVC that is gone, it expired."""
    from auditor.config import load_config

    config = load_config(DEMO / "config.yaml")
    by_id = {e.id: e for e in config.exceptions.waivers}
    assert set(by_id) == {"legacy-crm-decommission", "shop-uploads-legacy", "search-short-retention"}
    assert [e.id for e in config.exceptions.waivers if e.expired(AS_OF)] == ["search-short-retention"]
    assert config.exceptions.from_annotations, "the demo opts in to the annotated waivers it ships"
    for e in config.exceptions.waivers:
        assert e.reason and e.owner and e.expires
    pvcs = {(c, ns, n) for c in CLUSTERS for ns, n in by_key(of_kind("PersistentVolumeClaim", cluster=c))}
    assert (PROD, "legacy", "crm-files") in pvcs
    assert not {(c, ns, n) for c, ns, n in pvcs if n == "uploads-legacy"}
    # and the waivers on objects: one per annotated object, each complete
    annotated = [(c, o["kind"], o["metadata"]["name"]) for c in CLUSTERS for o in objects(c)
                 if "backup-auditor.io/exempt" in o["metadata"].get("annotations", {})]
    assert sorted(annotated) == [(PROD, "Namespace", "legacy"), (STAGING, "ClusterRoleBinding", "backup-auditor"),
                                 (STAGING, "PersistentVolumeClaim", "build-cache")]
    for c, kind, name in annotated:
        obj = next(o for o in objects(c) if o["kind"] == kind and o["metadata"]["name"] == name)
        notes = obj["metadata"]["annotations"]
        for suffix in ("-reason", "-owner", "-expires"):
            assert notes[f"backup-auditor.io/exempt{suffix}"], (c, kind, name, suffix)
        assert date.fromisoformat(notes["backup-auditor.io/exempt-expires"]) > AS_OF.date()
