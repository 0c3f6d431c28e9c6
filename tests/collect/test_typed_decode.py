"""Typed decoding (pods, PVs, PVCs, Backups, PodVolumeBackups) gives exactly the records of the checked reader,
shares repeated values, refuses anything unusual so that the checked reader converts it or names the field,
and reads dump files item by item."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditor.collect import decode
from auditor.collect.dump import dump_files, iter_objects, read_dump
from auditor.collect.fields import FieldReader
from auditor.collect.kinds import BY_GROUP_KIND, TYPED, group_of
from auditor.collect.live import prefetched
from auditor.demo import CLUSTER_DIRS
from auditor.errors import InputError
from tests.bench_generator import generate

ROOT = Path(__file__).resolve().parents[2]


def _generated(tmp: Path) -> Path:
    """A small cluster from the benchmark's generator: the shapes a large scan decodes."""
    counts = {"namespaces": 3, "pvcs": 20, "pods": 40, "schedules": 2, "backups": 20, "pvbs": 40, "nodes": 3}
    return generate(tmp, counts, seed=3)


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


def _typed(obj: dict[str, Any]) -> decode.Typed:
    return TYPED[(group_of(obj["apiVersion"]), obj["kind"])]


def _checked(obj: dict[str, Any], where: str = "test") -> Any:
    return BY_GROUP_KIND[(group_of(obj["apiVersion"]), obj["kind"])].slim(FieldReader(obj, where))


def _both(obj: dict[str, Any]) -> tuple[Any, Any]:
    """(typed record or "refused", checked record or its error text)."""
    try:
        typed: Any = _typed(obj).from_json(orjson.dumps(obj))
    except decode.Refused:
        typed = "refused"
    try:
        checked = _checked(obj, "pods.json")
    except InputError as exc:
        checked = str(exc)
    return typed, checked


def test_typed_records_equal_checked_records_for_every_object(objects: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for obj in objects:
        key = (group_of(obj["apiVersion"]), obj["kind"])
        if key not in TYPED:
            continue
        record = _typed(obj).from_json(orjson.dumps(obj))  # every real-shaped object is taken, none refused
        assert record == _checked(obj), obj["metadata"]["name"]
        seen[obj["kind"]] = seen.get(obj["kind"], 0) + 1
    assert set(seen) == {"Pod", "PersistentVolume", "PersistentVolumeClaim", "Backup", "PodVolumeBackup"}
    assert seen["Pod"] > 40 and seen["PodVolumeBackup"] > 40
    pods = [_typed(o).from_json(orjson.dumps(o)) for o in objects if o["kind"] == "Pod"]
    # the comparison covered claims, mounts, inline env values and CSI details
    assert any(v.claim_name for p in pods for v in p.volumes)
    assert any(p.env_literals for p in pods) and any(p.mounted for p in pods)
    pvs = [_typed(o).from_json(orjson.dumps(o)) for o in objects if o["kind"] == "PersistentVolume"]
    assert "csi" in {p.source.type for p in pvs} and len({p.source.type for p in pvs}) > 1


def test_a_list_page_decodes_to_the_records_of_its_items(objects: list[dict[str, Any]]) -> None:
    pods = [o for o in objects if o["kind"] == "Pod"]
    page = orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {"continue": "abc"}, "items": pods})
    records, token = TYPED[("", "Pod")].page_records(page)
    assert token == "abc" and records == [_checked(p) for p in pods]
    bad = copy.deepcopy(pods)
    bad[3]["metadata"]["labels"] = {"app": 3}  # one item the typed decode does not take: the whole page is refused
    with pytest.raises(decode.Refused):
        TYPED[("", "Pod")].page_records(orjson.dumps({"items": bad}))


@pytest.mark.parametrize("change", [
    lambda v: v["spec"].update(capacity={"storage": 1073741824}),  # a number: the checked path reads it
    lambda v: v["spec"].update(accessModes=["ReadWriteOnce", {"mode": "x"}]),
    lambda v: v["spec"].update(accessModes=["ReadWriteOnce", 3]),
    lambda v: v["spec"]["csi"].update(volumeAttributes={"pool": 3}),
    lambda v: v["spec"].update(capacity={"storage": "lots"}),
    lambda v: v["spec"].update(claimRef="data"),
    lambda v: v["metadata"].update(creationTimestamp=""),
    lambda v: v["spec"].update(csi=None, nfs={"server": "s", "path": "/p"}),
    lambda v: v["spec"].update(csi=None, hostPath={"path": "/p"}, local=None),
])
def test_unusual_pv_values_give_what_the_checked_path_gives(change: Any) -> None:
    pv: dict[str, Any] = {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1", "uid": "u"},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "rbd",
                 "csi": {"driver": "rbd.csi.ceph.com", "volumeAttributes": {"pool": "replicapool"}},
                 "claimRef": {"namespace": "shop", "name": "data"}},
        "status": {"phase": "Bound"},
    }
    change(pv)
    claim = {**copy.deepcopy(pv), "kind": "PersistentVolumeClaim"}  # the same object, read as a claim too
    claim["spec"]["resources"] = {"requests": claim["spec"].get("capacity")}
    for obj in (pv, claim):
        typed, checked = _both(obj)
        assert typed in ("refused", checked)


def test_repeated_values_are_shared(objects: list[dict[str, Any]]) -> None:
    raws = [o for o in objects if o["kind"] == "Backup" and o["apiVersion"] == "velero.io/v1"]
    backups = [_typed(o).from_json(orjson.dumps(o)) for o in raws]
    by_labels: dict[tuple[tuple[str, str], ...], list[dict[str, str]]] = {}
    for b in backups:
        by_labels.setdefault(tuple(b.meta.labels.items()), []).append(b.meta.labels)
    repeated = [maps for maps in by_labels.values() if len(maps) > 1]
    assert repeated  # schedules label all their backups alike
    assert all(m is maps[0] for maps in repeated for m in maps)
    namespaces = {b.meta.namespace for b in backups}
    assert len({id(b.meta.namespace) for b in backups}) == len(namespaces)
    specs = {id(b.spec) for b in backups}
    assert len(specs) < len(backups)  # backups of one schedule share one spec


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
    lambda p: None,
    lambda p: p["metadata"]["labels"].update(replicas=3),  # a number where a string belongs: converted
    lambda p: p["metadata"]["ownerReferences"][0].update(controller="true"),  # a string boolean: accepted
    lambda p: p["metadata"]["annotations"].update(x=1) if "annotations" in p["metadata"] else
    p["metadata"].update(annotations={"velero.io/x": "y", "other": 2}),
    lambda p: p["spec"]["volumes"].append({"name": "ext", "csi": {"driver": "d", "volumeAttributes": {"a": "b"}}}),
    lambda p: p["spec"]["volumes"].append({"name": "share", "nfs": {"server": "s", "path": "/p"}}),
    lambda p: p["spec"]["containers"][0].update(name=7),  # the checked path makes it "7"
    lambda p: p["spec"].update(nodeName=12),
    lambda p: p["spec"]["volumes"].append({"name": "", "emptyDir": {}}),
    lambda p: p["spec"]["volumes"].append({"name": "gone", "emptyDir": None, "configMap": {"name": "c"}}),
    lambda p: p["spec"]["containers"][0]["env"].append({"name": "N", "value": 5}),
    lambda p: p["metadata"].update(creationTimestamp="2026-11-20T10:00:00+02:00"),
    lambda p: p["metadata"].update(deletionTimestamp="2026-11-20T11:00:00Z"),
    lambda p: p["status"]["conditions"].append({"type": "Ready", "status": "False"}),
])
def test_unusual_values_give_what_the_checked_path_gives(change: Any, tmp_path: Path) -> None:
    obj = _pod()
    change(obj)
    typed, checked = _both(obj)
    assert typed in ("refused", checked)
    assert not isinstance(checked, str)
    (tmp_path / "pods.json").write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": [obj]}))
    assert read_dump(tmp_path).pods == (checked,)


def test_unusual_values_are_converted_as_before(tmp_path: Path) -> None:
    obj = _pod()
    obj["metadata"]["labels"]["replicas"] = 3
    obj["metadata"]["ownerReferences"][0]["controller"] = "true"
    (tmp_path / "pods.json").write_text(json.dumps(obj))
    record, = read_dump(tmp_path).pods
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
def test_malformed_objects_are_named_by_the_checked_path(change: Any, field: str, tmp_path: Path) -> None:
    obj = _pod()
    change(obj)
    typed, checked = _both(obj)
    assert typed == "refused" and isinstance(checked, str)
    (tmp_path / "pods.json").write_text(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [_pod(), obj]}))
    with pytest.raises(InputError) as err:
        read_dump(tmp_path)
    assert err.value.field is not None and err.value.field.endswith(field)
    assert "Pod shop/web-0" in str(err.value) and f"{tmp_path / 'pods.json'} items[1]" in str(err.value)
    assert str(err.value) == checked.replace("pods.json", f"{tmp_path / 'pods.json'} items[1]")


def test_owner_controller_one_is_not_taken_for_true() -> None:
    """The owner memo must not hand out a cached ``controller: true`` for a ``controller: 1``."""
    good = _pod()
    assert _both(good)[0] == _both(good)[1]
    bad = copy.deepcopy(good)
    bad["metadata"]["ownerReferences"][0]["controller"] = 1
    typed, checked = _both(bad)
    assert typed == "refused" and isinstance(checked, str)


def test_a_dump_file_of_several_kinds_reads_as_its_yaml_twin(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    """A JSON List mixing kinds (typed, checked, unknown, a kind after another) gives what the YAML reader gives."""
    mixed = [o for o in objects if o["kind"] in ("Pod", "PersistentVolumeClaim", "Namespace", "Backup")][:300]
    mixed.sort(key=lambda o: o["metadata"]["name"])  # kinds interleaved
    mixed.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    (tmp_path / "json").mkdir()
    (tmp_path / "yaml").mkdir()
    (tmp_path / "json" / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": mixed}))
    import yaml

    (tmp_path / "yaml" / "all.yaml").write_text(yaml.safe_dump_all(mixed))
    a, b = read_dump(tmp_path / "json", cluster="c"), read_dump(tmp_path / "yaml", cluster="c")
    for field in ("pods", "pvcs", "namespaces", "backups"):
        assert getattr(a, field) == getattr(b, field) and getattr(a, field), field
    assert a.unknown_kinds == b.unknown_kinds == {"example.com/v1/Widget": 1}


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


# --- continue tokens read ahead ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [
    {"kind": "PodList", "apiVersion": "v1", "metadata": {"continue": "abc", "resourceVersion": "1"}, "items": [{}]},
    {"items": [{"metadata": {"continue": "not this"}}], "metadata": {"continue": "after-items"}},
    {"kind": "PodList", "metadata": {"x": {"items": 1}, "continue": "nested"}, "items": []},
    {"kind": "PodList", "metadata": None, "items": []},
    {"kind": "PodList", "metadata": 5, "items": []},
    {"kind": "PodList", "items": []},
    {"kind": "PodList", "metadata": {"continue": ""}, "items": []},
    {"kind": "PodList", "metadata": {"continue": 7}, "items": []},
])
def test_the_token_read_ahead_is_the_one_the_parsed_page_has(page: dict[str, Any]) -> None:
    from auditor.collect.live import MalformedListError, _continue_token, page_token

    data = orjson.dumps(page)
    try:
        expected: Any = _continue_token(page)
    except MalformedListError as exc:
        expected = str(exc)
    try:
        got: Any = page_token(data)
    except MalformedListError as exc:
        got = str(exc)
    assert got == expected


def test_kept_annotations_by_domain_are_those_kept_by_prefix() -> None:
    """The typed path keeps an annotation when its ``domain/`` is a kept one, the checked reader when the key
    starts with a kept prefix: the same as long as every prefix is one whole domain."""
    from auditor.collect import slim

    assert all(p.endswith("/") and p.count("/") == 1 for p in slim.KEPT_ANNOTATION_PREFIXES)
    keys = ["velero.io/pvc-name", "backup.velero.io/backup-volumes", "xvelero.io/a", "velero.io", "velero.io/",
            "a/velero.io/b", "", "/", "k8up.io/backup", "k8up.io.evil/x", "VELERO.IO/x", "velero.io//x",
            "kubectl.kubernetes.io/last-applied-configuration", "post.hook.restore.velero.io/command"]
    value = {k: f"v{i}" for i, k in enumerate(keys)}
    expected = {k: v for k, v in value.items() if k.startswith(slim.KEPT_ANNOTATION_PREFIXES)}
    assert decode._kept_annotations(value) == expected
    assert list(decode._kept_annotations(value)) == list(expected)  # order kept
