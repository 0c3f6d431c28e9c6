"""The slimming fast paths (meta, Pod, Backup, PodVolumeBackup) give exactly the records of the checked
paths beside them, share repeated values, and hand anything unusual to the checked path."""

from __future__ import annotations

import copy
import importlib.util
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.collect import slim
from auditor.collect.dump import dump_files, iter_objects
from auditor.collect.fields import FieldReader
from auditor.collect.live import prefetched
from auditor.demo import CLUSTER_DIRS
from auditor.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def _generated(tmp: Path) -> Path:
    """A small cluster from the benchmark's generator: the shapes a large scan slims."""
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_generate", module)
    spec.loader.exec_module(module)
    counts = {"namespaces": 3, "pvcs": 20, "pods": 40, "schedules": 2, "backups": 20, "pvbs": 40, "nodes": 3}
    module.generate(tmp, counts, seed=3, as_of="2026-11-20T12:00:00Z", log=lambda _: None)
    return tmp


def _objects(directories: list[Path]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for directory in directories:
        for path in dump_files(directory):
            if not path.name.startswith("."):
                out.extend(obj for _, obj in iter_objects(path))
    return out


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    generated = _generated(tmp_path_factory.mktemp("generated"))
    return _objects([*CLUSTER_DIRS.values(), generated])


def _of(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    found = [o for o in objects if o.get("kind") == kind]
    assert found, kind
    return found


def test_meta_fast_path_equals_checked_path_for_every_object(objects: list[dict[str, Any]]) -> None:
    assert len(objects) > 400
    for obj in objects:
        f = FieldReader(obj, "test")
        assert slim.meta(f) == slim.meta_checked(f), obj["metadata"]["name"]


def test_pod_fast_path_equals_checked_path(objects: list[dict[str, Any]]) -> None:
    pods = _of(objects, "Pod")
    fast = 0
    for obj in pods:
        f = FieldReader(obj, "test")
        assert slim.pod(f) == slim.pod_checked(f), obj["metadata"]["name"]
        if not any("csi" in v or "nfs" in v for v in obj["spec"].get("volumes", [])):
            assert slim._pod_fast(f) == slim.pod_checked(f)  # the fast path itself, not its fallback
            fast += 1
    assert fast > 40
    # the checks read these: the comparison covered claims, mounts and inline env values
    records = [slim.pod(FieldReader(o, "test")) for o in pods]
    assert any(v.claim_name for p in records for v in p.volumes)
    assert any(p.env_literals for p in records) and any(p.mounted for p in records)


def test_backup_and_pvb_fast_paths_equal_checked_paths(objects: list[dict[str, Any]]) -> None:
    for obj in _of(objects, "Backup"):
        f = FieldReader(obj, "test")
        record = slim.backup(f)
        assert record == slim.backup_checked(f, slim.meta_checked(f), record.spec)
    for obj in _of(objects, "PodVolumeBackup"):
        f = FieldReader(obj, "test")
        assert slim.pod_volume_backup(f) == slim.pod_volume_backup_checked(f, slim.meta_checked(f))


def test_pv_and_pvc_fast_paths_equal_checked_paths(objects: list[dict[str, Any]]) -> None:
    for obj in _of(objects, "PersistentVolume"):
        f = FieldReader(obj, "test")
        assert slim.persistent_volume(f) == slim.persistent_volume_checked(f), obj["metadata"]["name"]
    for obj in _of(objects, "PersistentVolumeClaim"):
        f = FieldReader(obj, "test")
        assert slim.persistent_volume_claim(f) == slim.persistent_volume_claim_checked(f), obj["metadata"]["name"]
    sources = {slim.persistent_volume(FieldReader(o, "test")).source.type for o in _of(objects, "PersistentVolume")}
    assert "csi" in sources and len(sources) > 1  # the comparison covered CSI details and plain sources


@pytest.mark.parametrize("change", [
    lambda v: v["spec"].update(capacity={"storage": 1073741824}),  # a number: the checked path reads it
    lambda v: v["spec"].update(accessModes=["ReadWriteOnce", {"mode": "x"}]),
    lambda v: v["spec"].update(accessModes=["ReadWriteOnce", 3]),
    lambda v: v["spec"]["csi"].update(volumeAttributes={"pool": 3}),
    lambda v: v["spec"].update(capacity={"storage": "lots"}),
    lambda v: v["spec"].update(claimRef="data"),
])
def test_unusual_pv_values_give_what_the_checked_path_gives(change: Any) -> None:
    pv: dict[str, Any] = {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1", "uid": "u"},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "rbd",
                 "csi": {"driver": "rbd.csi.ceph.com", "volumeAttributes": {"pool": "replicapool"}},
                 "claimRef": {"namespace": "shop", "name": "data"}},
        "status": {"phase": "Bound"},
    }
    pv["spec"]["resources"] = {"requests": pv["spec"]["capacity"]}  # the same object, read as a claim too
    change(pv)
    pairs: list[tuple[Any, Any]] = [(slim.persistent_volume, slim.persistent_volume_checked),
                                    (slim.persistent_volume_claim, slim.persistent_volume_claim_checked)]
    for fast, checked in pairs:
        results: list[Any] = []
        for fn in (fast, checked):
            try:
                results.append(fn(FieldReader(pv, "pvs.json")))
            except InputError as exc:
                results.append(str(exc))
        assert results[0] == results[1]


def test_repeated_values_are_shared(objects: list[dict[str, Any]]) -> None:
    backups = [slim.backup(FieldReader(o, "test")) for o in _of(objects, "Backup")]
    by_labels: dict[tuple[tuple[str, str], ...], list[dict[str, str]]] = {}
    for b in backups:
        by_labels.setdefault(tuple(b.meta.labels.items()), []).append(b.meta.labels)
    repeated = [maps for maps in by_labels.values() if len(maps) > 1]
    assert repeated  # schedules label all their backups alike
    assert all(m is maps[0] for maps in repeated for m in maps)
    namespaces = {b.meta.namespace for b in backups}
    assert len({id(b.meta.namespace) for b in backups}) == len(namespaces)
    # the shared record is not the raw object: nothing of the page stays alive through it
    raw = _of(objects, "Backup")[0]
    assert slim.meta(FieldReader(raw, "test")).labels is not raw["metadata"]["labels"]


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"},
                     "creationTimestamp": "2026-11-20T10:00:00Z",
                     "ownerReferences": [{"kind": "StatefulSet", "name": "web", "controller": True}]},
        "spec": {"nodeName": "n1",
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
                             {"name": "cache", "emptyDir": {}}],
                 "containers": [{"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/d"}],
                                 "env": [{"name": "MODE", "value": "prod"}]}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


@pytest.mark.parametrize("change", [
    lambda p: p["metadata"]["labels"].update(replicas=3),  # a number where a string belongs: converted
    lambda p: p["metadata"]["ownerReferences"][0].update(controller="true"),  # a string boolean: accepted
    lambda p: p["metadata"]["annotations"].update(x=1) if "annotations" in p["metadata"] else
    p["metadata"].update(annotations={"velero.io/x": "y", "other": 2}),
    lambda p: p["spec"]["volumes"].append({"name": "ext", "csi": {"driver": "d", "volumeAttributes": {"a": "b"}}}),
    lambda p: p["spec"]["volumes"].append({"name": "share", "nfs": {"server": "s", "path": "/p"}}),
    lambda p: p["spec"]["containers"][0].update(name=7),  # the checked path makes it "7"
    lambda p: p["spec"].update(nodeName=12),
])
def test_unusual_values_take_the_checked_path(change: Any) -> None:
    obj = _pod()
    change(obj)
    f = FieldReader(obj, "test")
    assert slim.pod(f) == slim.pod_checked(f)
    assert slim.meta(f) == slim.meta_checked(f)


def test_unusual_values_are_converted_as_before() -> None:
    obj = _pod()
    obj["metadata"]["labels"]["replicas"] = 3
    obj["metadata"]["ownerReferences"][0]["controller"] = "true"
    record = slim.pod(FieldReader(obj, "test"))
    assert record.meta.labels == {"app": "web", "replicas": "3"}
    assert record.meta.owners[0].controller is True
    assert record.volumes[0].claim_name == "data-web-0" and record.ready is True


@pytest.mark.parametrize(("change", "field"), [
    (lambda p: p["spec"]["volumes"][0].update(persistentVolumeClaim="data-web-0"),
     "spec.volumes[0].persistentVolumeClaim"),
    (lambda p: p["spec"]["containers"][0]["volumeMounts"].append({"mountPath": "/x"}), "volumeMounts[1].name"),
    (lambda p: p["metadata"].update(ownerReferences={"kind": "StatefulSet"}), "metadata.ownerReferences"),
    (lambda p: p["metadata"]["labels"].update(app=["web"]), "metadata.labels.app"),
    (lambda p: p["metadata"].update(creationTimestamp="yesterday"), "metadata.creationTimestamp"),
    (lambda p: p["status"]["conditions"][0].update(status=True), "status.conditions[0].status"),
])
def test_malformed_objects_are_named_by_the_checked_path(change: Any, field: str) -> None:
    obj = _pod()
    change(obj)
    with pytest.raises(InputError) as err:
        slim.pod(FieldReader(obj, "pods.json"))
    with pytest.raises(InputError) as checked:
        slim.pod_checked(FieldReader(obj, "pods.json"))
    assert str(err.value) == str(checked.value)
    assert err.value.field is not None and err.value.field.endswith(field)
    assert "Pod shop/web-0" in str(err.value) and "pods.json" in str(err.value)


def test_owner_controller_one_is_not_taken_for_true() -> None:
    """The owner memo must not hand out a cached ``controller: true`` for a ``controller: 1``."""
    good = _pod()
    slim.pod(FieldReader(good, "test"))
    bad = copy.deepcopy(good)
    bad["metadata"]["ownerReferences"][0]["controller"] = 1
    with pytest.raises(InputError):
        slim.pod(FieldReader(bad, "test"))


# --- prefetched pages ---------------------------------------------------------------------------------


def test_prefetched_yields_every_page_in_order_then_raises_the_error() -> None:
    def pages() -> Iterator[list[dict[str, Any]]]:
        yield [{"n": 1}]
        yield [{"n": 2}]
        raise ValueError("page 3 failed")

    seen = []
    with pytest.raises(ValueError, match="page 3 failed"):
        for page in prefetched(pages(), "test"):
            seen.append(page[0]["n"])
    assert seen == [1, 2]


def test_prefetched_stops_the_worker_when_the_caller_stops() -> None:
    fetched: list[int] = []
    finished = threading.Event()

    def pages() -> Iterator[list[dict[str, Any]]]:
        try:
            for n in range(1000):
                fetched.append(n)
                yield [{"n": n}]
        finally:
            finished.set()

    iterator = prefetched(pages(), "test")
    assert next(iterator) == [{"n": 0}]
    iterator.close()
    assert finished.wait(10)
    assert len(fetched) <= 3  # one page handed over, one waiting, one being fetched: never the whole list
