"""Reading dumps: every file shape kubectl prints, unknown kinds, and malformed input as one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from auditor.collect.dump import read_dump
from auditor.errors import InputError
from tests import factories as f


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def test_single_objects_lists_and_multidoc_yaml(tmp_path: Path) -> None:
    write(tmp_path / "ns.json", json.dumps(f.namespace("shop")))
    write(tmp_path / "sub/pvcs.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        f.pvc("a", "shop", volume="pv-a"), f.pvc("b", "shop", phase="Pending")]}))
    write(tmp_path / "pvs.yaml", yaml.safe_dump_all([f.pv("pv-a", "shop", "a")]))
    write(tmp_path / "typed.yml", yaml.safe_dump({"apiVersion": "v1", "kind": "PersistentVolumeClaimList",
                                                  "items": [f.pvc("c", "shop")]}))
    write(tmp_path / "other.json", json.dumps({"apiVersion": "example.com/v1", "kind": "Widget",
                                               "metadata": {"name": "w"}}))
    write(tmp_path / "notes.txt", "ignored")
    inv = read_dump(tmp_path, "c1")
    assert inv.cluster == "c1"
    assert [p.meta.name for p in inv.pvcs] == ["a", "b", "c"]
    assert inv.pv_by_name["pv-a"].claim_name == "a"
    assert inv.unknown_kinds == {"example.com/v1/Widget": 1}
    assert read_dump(tmp_path).cluster == tmp_path.name


BAD = [
    ("broken.yaml", "kind: Pod\nmetadata: {name: [unclosed\n", "broken.yaml: invalid YAML at line"),
    ("broken.json", '{"kind": "Pod",', "broken.json: invalid JSON"),
    ("list.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        f.pvc("ok", "shop"),
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"namespace": "shop"}}]}),
     "list.json items[1], PersistentVolumeClaim shop/<no name>, field metadata.name: object has no name"),
    ("nometa.json", json.dumps({"apiVersion": "v1", "kind": "Pod"}), "nometa.json, Pod <no name>, field metadata"),
    ("types.json", json.dumps({**f.pvc("x", "shop"), "spec": {"accessModes": "ReadWriteOnce"}}),
     "PersistentVolumeClaim shop/x, field spec.accessModes: expected a list"),
    ("labels.json", json.dumps({**f.namespace("n"), "metadata": {"name": "n", "labels": ["a"]}}),
     "field metadata.labels: expected an object"),
    ("time.json", json.dumps({**f.namespace("n"), "metadata": {"name": "n", "creationTimestamp": "yesterday"}}),
     "field metadata.creationTimestamp: not an RFC 3339 timestamp"),
    ("quantity.json", json.dumps(f.pvc("q", "shop", size="lots")),
     "field spec.resources.requests.storage: not a resource quantity"),
    ("nokind.json", json.dumps({"metadata": {"name": "x"}}), "field apiVersion: required field is missing"),
    ("scalar.yaml", "- 1\n- 2\n", "expected an object or a List"),
    ("backup.json", json.dumps(f.backup("b1", status={"errors": "many"})),
     "Backup velero/b1, field status.errors: expected an integer"),
    ("pvb.json", json.dumps({**f.pod_volume_backup("p1", "b1", "shop", "db-0", "data", "data"),
                             "spec": {"pod": {"name": ["db-0"]}}}), "PodVolumeBackup velero/p1, field spec.pod.name"),
    ("podvol.json", json.dumps({**f.pod("p", "shop"), "spec": {"volumes": [{"persistentVolumeClaim": {}}]}}),
     "Pod shop/p, field spec.volumes[0].name: required field is missing"),
    ("template.json", json.dumps({**f.schedule("daily"), "spec": {"schedule": "0 1 * * *", "template": ["x"]}}),
     "Schedule velero/daily, field spec.template: expected an object, got list"),  # the field, not its parent
]


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_malformed_input_names_file_object_and_field(tmp_path: Path, name: str, content: str, message: str) -> None:
    write(tmp_path / name, content)
    with pytest.raises(InputError) as err:
        read_dump(tmp_path)
    assert message in str(err.value)


def test_cli_reports_malformed_input_in_one_line(tmp_path: Path) -> None:
    write(tmp_path / "list.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {**f.pvc("x", "shop"), "spec": {"accessModes": 5}}]}))
    run = subprocess.run([sys.executable, "-m", "auditor", "scan", "--snapshot", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "list.json items[0], PersistentVolumeClaim shop/x, field spec.accessModes" in run.stderr


def test_missing_directory_and_bad_config(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "auditor", "scan", "--snapshot", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "not a directory" in run.stderr
    cfg = write(tmp_path / "c.yaml", "defaults:\n  rpo: soon\n")
    run = subprocess.run([sys.executable, "-m", "auditor", "scan", "--snapshot", str(tmp_path), "--config", str(cfg)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "key defaults.rpo" in run.stderr and "Traceback" not in run.stderr


def test_typed_and_checked_paths_agree(tmp_path: Path) -> None:
    """Backups are decoded typed when well-formed; a value the typed decode does not take (a count written as a
    string) is read by the checked reader, with the same result."""
    plain = f.backup("b1", status={"errors": 3, "csiVolumeSnapshotsAttempted": 2})
    quoted = f.backup("b1", status={"errors": "3", "csiVolumeSnapshotsAttempted": "2"})
    write(tmp_path / "a" / "b.json", json.dumps(plain))
    write(tmp_path / "b" / "b.json", json.dumps(quoted))
    a, b = read_dump(tmp_path / "a").backups[0], read_dump(tmp_path / "b").backups[0]
    assert a == b and a.errors == 3 and a.csi_snapshots_attempted == 2


def test_a_file_that_cannot_be_mapped_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON dump files are mapped read-only (never copied into the heap); where mapping fails (a pipe, a file
    system without mmap) the file is read whole, to the same inventory."""
    import mmap

    write(tmp_path / "pvcs.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        f.pvc(f"p{i}", "shop", volume=f"pv-{i}") for i in range(50)]}))
    write(tmp_path / "ns.json", json.dumps(f.namespace("shop")))
    write(tmp_path / "empty.json", "")
    with pytest.raises(InputError, match=r"empty\.json: invalid JSON"):
        read_dump(tmp_path, "c1")
    (tmp_path / "empty.json").unlink()
    mapped = read_dump(tmp_path, "c1")

    class Unmappable(mmap.mmap):
        def __new__(cls, *args: object, **kwargs: object) -> Unmappable:
            raise OSError(19, "No such device")

    monkeypatch.setattr(mmap, "mmap", Unmappable)
    whole = read_dump(tmp_path, "c1")
    assert len(mapped.pvcs) == 50 and mapped.namespaces[0].meta.name == "shop"
    assert whole == mapped
