"""No input crashes anything (issue 12, item 4): whatever a cluster or a dump holds, the scan ends with a
documented exit code, one line per problem, and the other clusters judged."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from auditor.model.cron import CronError, parse_cron
from auditor.model.durations import go_duration_seconds
from auditor.model.quantity import MAX_QUANTITY, parse_quantity
from tests import factories as f
from tests.checks.rule_fixtures import app, scheduled

AS_OF = "2026-11-20T12:00:00Z"


def dump(root: Path, name: str, objects: list[Any]) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return d


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", "scan", "--as-of", AS_OF, *args],
                          capture_output=True, text=True, timeout=180)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize("cron", ["0 0 30 2 *", "0 0 31 4 *", "@every 9999999999999999999h", "@every 0s",
                                  "CRON_TZ=Mars/Olympus 0 * * * *"])
def test_a_schedule_that_can_never_fire_is_a_finding_and_the_other_clusters_are_judged(
        tmp_path: Path, cron: str) -> None:
    bad = dump(tmp_path, "bad", [*scheduled(cron=cron)])
    good = dump(tmp_path, "good", scheduled())
    proc = scan("--snapshot", str(bad), "--snapshot", str(good), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert [c["error"] for c in doc["clusters"]] == [None, None]
    invalid = [x for x in doc["findings"] if x["rule_id"] == "FRS-008"]
    assert [(x["cluster"], x["name"]) for x in invalid] == [("bad", "daily")], invalid
    assert not [x for x in doc["findings"] if x["status"] == "error"]
    bad_volume = next(v for v in doc["volumes"] if v["cluster"] == "bad")
    assert bad_volume["status"] != "protected" or bad_volume["covered_by"] == []
    good_volume = next(v for v in doc["volumes"] if v["cluster"] == "good")
    assert good_volume["status"] == "protected"


def test_never_firing_crons_and_overflowing_durations_are_refused_like_velero_refuses_them() -> None:
    for text in ("0 0 30 2 *", "@every 9999999999999999999h", "@every 2562048h"):
        with pytest.raises(CronError):
            parse_cron(text)
    assert parse_cron("0 0 29 2 *").next_after(f.AS_OF).year == 2028  # rare, but it fires
    assert go_duration_seconds("2562047h") is not None and go_duration_seconds("2562048h") is None
    assert go_duration_seconds("9" * 5000 + "h") is None


def test_quantities_are_capped_like_kubernetes_and_garbage_is_not_one() -> None:
    assert parse_quantity("1e999999999Ei") == MAX_QUANTITY
    assert parse_quantity("99999999999999999999Gi") == MAX_QUANTITY
    assert parse_quantity("10Gi") == 10 * 2**30
    for text in ("NaN", "Infinity", "lots", "1" * 100):
        with pytest.raises(ValueError):
            parse_quantity(text)


def test_overflowing_timestamps_and_quantities_in_a_dump(tmp_path: Path) -> None:
    objects = scheduled()
    pvc = next(o for o in objects if o["kind"] == "PersistentVolumeClaim")
    pvc["spec"]["resources"]["requests"]["storage"] = "1e999999999Ei"
    backup = next(o for o in objects if o["kind"] == "Backup")
    backup["status"]["startTimestamp"] = "9999-12-31T23:59:59Z"
    backup["spec"]["ttl"] = "2562047h"
    proc = scan("--snapshot", str(dump(tmp_path, "c", objects)), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    (volume,) = json.loads(proc.stdout)["volumes"]
    assert volume["status"] == "unknown", "a recovery point dated in year 9999 proves nothing"


YAML_BOMB = "".join(f"{c}: &{c} [" + ",".join([f"*{p}"] * 9 if p else ['"lol"'] * 9) + "]\n"
                    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True))


def test_yaml_alias_bombs_are_refused_in_dumps_and_configs(tmp_path: Path) -> None:
    assert len(YAML_BOMB) < 600
    d = tmp_path / "bomb"
    d.mkdir()
    (d / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: velero}\ndata:\n"
                               + "".join("  " + line + "\n" for line in YAML_BOMB.splitlines()))
    started = time.monotonic()
    line = one_line_error(proc := scan("--snapshot", str(d)))
    assert proc.returncode == 2 and "cm.yaml" in line and "aliases expand the document" in line and "line 11" in line
    config = tmp_path / "policy.yaml"
    config.write_text(YAML_BOMB)
    line = one_line_error(proc := scan("--snapshot", str(dump(tmp_path, "ok", scheduled())), "--config", str(config)))
    assert proc.returncode == 2 and "policy.yaml" in line and "aliases expand the document" in line
    assert time.monotonic() - started < 60


def test_harmless_aliases_are_read_and_self_reference_is_refused() -> None:
    import yaml

    from auditor import yamlsafe

    shared = {"rpo": "1h"}
    assert yamlsafe.load(yaml.safe_dump({"a": shared, "b": shared})) == {"a": shared, "b": shared}
    with pytest.raises(yamlsafe.AliasError, match="contain itself"):
        yamlsafe.load("a: &a [1, *a]\n")


def test_duplicates_are_counted_once_and_warned(tmp_path: Path) -> None:
    objects = scheduled()
    pvc = next(o for o in objects if o["kind"] == "PersistentVolumeClaim")
    renamed = json.loads(json.dumps(pvc))
    renamed["metadata"]["name"] = "data-copy"  # same uid: the same object under another name
    d = dump(tmp_path, "c", objects)
    (d / "zz-again.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [pvc, renamed]}))
    proc = scan("--snapshot", str(d), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["clusters"][0]["counts"]["pvcs"] == 1 and len(doc["volumes"]) == 1
    warnings = doc["warnings"]
    assert [(w["cluster"], w["kind"], w["namespace"], w["name"]) for w in warnings] == [
        ("c", "PersistentVolumeClaim", "shop", "data"), ("c", "PersistentVolumeClaim", "shop", "data-copy")]
    assert "zz-again.json items[0]" in warnings[0]["message"] and "all.json items" in warnings[0]["message"]
    assert "duplicate uid" in warnings[1]["message"]
    table = scan("--snapshot", str(d))
    assert "warning: PersistentVolumeClaim shop/data: duplicate object" in table.stdout


def test_an_empty_directory_and_a_folder_of_dumps_are_exit_2_with_a_hint(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "nothing.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": []}))
    line = one_line_error(proc := scan("--snapshot", str(empty)))
    assert proc.returncode == 2 and "no Kubernetes objects" in line
    parent = tmp_path / "fleet"
    for name in ("prod", "staging"):
        dump(parent, name, [f.namespace("kube-system"), *scheduled()])
    line = one_line_error(proc := scan("--snapshot", str(parent)))
    assert proc.returncode == 2 and "prod/, staging/" in line and "own --snapshot" in line
    (parent / "prod" / ".auditor-snapshot.json").write_text(json.dumps({"cluster": "prod", "gaps": []}))
    line = one_line_error(proc := scan("--snapshot", str(parent)))
    assert proc.returncode == 2 and "other dumps (prod/)" in line


def test_a_namespaced_object_without_namespace_names_its_field(tmp_path: Path) -> None:
    objects = scheduled()
    del next(o for o in objects if o["kind"] == "Schedule")["metadata"]["namespace"]
    line = one_line_error(proc := scan("--snapshot", str(dump(tmp_path, "c", objects))))
    assert proc.returncode == 2 and "Schedule daily, field metadata.namespace" in line


CRASHING_CHECK = """
import sys
from auditor.checks import registry
from auditor.cli import main

def broken(ctx):
    raise ZeroDivisionError("division by zero in \\x1b[2Jtest")

registry.CHECKS["FRS-005"] = broken
sys.argv = ["auditor", *sys.argv[1:]]
main()
"""


def test_a_crashing_check_is_an_error_result_without_a_traceback(tmp_path: Path) -> None:
    d = dump(tmp_path, "c", [*scheduled(), *app("legacy")])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", CRASHING_CHECK, "scan", "--snapshot", str(d), "--as-of", AS_OF,
                               *args], capture_output=True, text=True, timeout=180)

    proc = run("-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "\x1b" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "WARNING auditor.checks.registry: check FRS-005 failed on cluster c: ZeroDivisionError: division by zero "
        "in \\x1b[2Jtest"]
    doc = json.loads(proc.stdout)
    errors = [x for x in doc["findings"] if x["status"] == "error"]
    assert [(x["rule_id"], x["kind"], x["cluster"]) for x in errors] == [("FRS-005", "Check", "c")]
    assert doc["summary"]["checks"]["error"] == 1
    assert doc["summary"]["checks"]["pass"] > 10, "the other rules still ran"
    table = run()
    assert "Rule errors (1): FRS-005 on 1 subject(s)" in table.stdout and "\x1b" not in table.stdout
