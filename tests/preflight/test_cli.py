"""``auditor preflight`` end to end: exit codes, the JSON document, a live target (the test API server)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from auditor.cli import main
from tests.kubeapi import KubeAPIServer
from tests.preflight.fixtures import BACKUP, default_scenario, replace

AS_OF = "2026-11-20T12:00:00Z"


def preflight(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["preflight", "--backup", f"velero/{BACKUP}", "--as-of", AS_OF, *args])
    return result.exit_code, result.stdout, result.stderr


def test_ready_exits_0_with_the_documented_document(tmp_path: Path) -> None:
    src, cat, dst = default_scenario().write(tmp_path)
    code, out, _ = preflight("--snapshot", str(src), "--velero-catalog", str(cat), "--target-snapshot", str(dst),
                             "-o", "json")
    doc = json.loads(out)
    assert code == 0 and doc["ready"] is True
    assert set(doc) >= {"schema_version", "backup", "source", "target", "ready", "blockers", "warnings", "volumes"}
    assert doc["schema_version"] == "1" and doc["volumes"][0]["method"] == "csi-snapshot"


def test_blockers_exit_3_and_the_table_names_them(tmp_path: Path) -> None:
    s = default_scenario()
    s.target = replace(s.target, "StorageClass", "ceph-rbd", None)
    src, cat, dst = s.write(tmp_path)
    code, out, _ = preflight("--snapshot", str(src), "--velero-catalog", str(cat), "--target-snapshot", str(dst))
    assert code == 3 and "NOT READY" in out and "PF-010" in out and "StorageClass ceph-rbd" in out
    code, out, _ = preflight("--snapshot", str(src), "--velero-catalog", str(cat), "--target-snapshot", str(dst),
                             "--storage-class-mapping", "ceph-rbd:nope", "-o", "json")
    assert code == 3 and json.loads(out)["blockers"][0]["name"] == "nope"


def test_bad_input_exits_2(tmp_path: Path) -> None:
    src, _, dst = default_scenario().write(tmp_path)
    code, _, err = preflight("--snapshot", str(src), "--velero-catalog", str(tmp_path / "nowhere"),
                             "--target-snapshot", str(dst))
    assert code == 2 and "nowhere" in err and "Traceback" not in err
    result = CliRunner().invoke(main, ["preflight", "--backup", "velero/shop-daily-2026112002000", "--snapshot",
                                       str(src), "--target-snapshot", str(dst)])
    assert result.exit_code == 2 and BACKUP in result.stderr
    code, _, err = preflight("--snapshot", str(src), "--target-snapshot", str(dst), "--namespace-mapping", "shop")
    assert code == 2 and "OLD:NEW" in err


def test_unreachable_target_context_exits_1_naming_it(tmp_path: Path) -> None:
    src, _, _ = default_scenario().write(tmp_path)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "dr-east",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "dr-east", "context": {"cluster": "c", "user": "u"}}]}))
    proc = subprocess.run([sys.executable, "-m", "auditor", "preflight", "--backup", f"velero/{BACKUP}",
                           "--snapshot", str(src), "--target-context", "dr-east", "--kubeconfig", str(kubeconfig)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "dr-east" in proc.stderr and "Traceback" not in proc.stderr


def test_live_target_reads_discovery(tmp_path: Path, kube_api: KubeAPIServer) -> None:
    """The test server serves Velero's and the snapshot CRDs but no example.com: the Widget CRD is missing."""
    s = default_scenario()
    src, cat, _ = s.write(tmp_path)
    kube_api.seed([o for o in s.target if o["kind"] != "Namespace" or o["metadata"]["name"] != "velero"])
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kc", context="dr-live")
    code, out, err = preflight("--snapshot", str(src), "--velero-catalog", str(cat), "--target-context", "dr-live",
                               "--kubeconfig", str(kubeconfig), "-o", "json")
    doc = json.loads(out)
    assert code == 3, err
    assert doc["target"] == "dr-live"
    assert [(b["code"], b["name"]) for b in doc["blockers"]] == [("PF-020", "Widget.example.com")]
    assert doc["volumes"][0]["restorable"] is True and doc["unknown"] == []


def test_demo_runs_offline() -> None:
    result = CliRunner().invoke(main, ["preflight", "--backup", "velero/media-csi-20261120060001", "--demo",
                                       "-o", "json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 3 and doc["target"] == "demo-staging"
    assert {b["code"] for b in doc["blockers"]} >= {"PF-001"}


def test_auditor_snapshot_records_discovery_for_a_later_preflight(tmp_path: Path, kube_api: KubeAPIServer) -> None:
    """A dump written by ``auditor snapshot`` answers the same as the live cluster did."""
    s = default_scenario()
    src, cat, _ = s.write(tmp_path)
    kube_api.seed([o for o in s.target if o["kind"] != "Namespace" or o["metadata"]["name"] != "velero"])
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kc", context="dr-live")
    dump = tmp_path / "dr-dump"
    result = CliRunner().invoke(main, ["snapshot", str(dump), "--kubeconfig", str(kubeconfig), "--no-secret-values"])
    assert result.exit_code == 0, result.stderr
    assert (dump / ".auditor-api-resources.json").is_file()
    code, out, _ = preflight("--snapshot", str(src), "--velero-catalog", str(cat), "--target-snapshot", str(dump),
                             "-o", "json")
    doc = json.loads(out)
    assert code == 3 and [(b["code"], b["name"]) for b in doc["blockers"]] == [("PF-020", "Widget.example.com")]
    assert doc["unknown"] == []


def test_cluster_text_is_made_safe_on_the_terminal(tmp_path: Path) -> None:
    s = default_scenario()
    s.target = replace(s.target, "StorageClass", "ceph-rbd", None)
    evil = "ceph-rbd\x1b]8;;http://x\x07[bold]x[/bold]"
    for obj in s.source:
        if obj["kind"] == "PersistentVolumeClaim":
            obj["spec"]["storageClassName"] = evil
    src, cat, dst = s.write(tmp_path)
    code, out, _ = preflight("--snapshot", str(src), "--velero-catalog", str(cat), "--target-snapshot", str(dst))
    assert code == 3 and "\x1b" not in out and "\\x1b" in out and "[bold]x[/bold]" in out
