"""The embedded demo: every status and every rule shows at least once; live and offline agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from auditor import demo
from auditor.checks import load_catalog
from auditor.output.document import build_document
from auditor.pipeline import ScanOptions, run_scan
from tests.kubeapi.server import KubeAPIServer


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=120)


def test_demo_json_shows_every_status_and_rule() -> None:
    run = run_cli("demo", "-o", "json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["schema_version"] == "1"
    assert {v["status"] for v in doc["volumes"]} == {"protected", "stale", "unprotected", "unknown"}
    assert {f["rule_id"] for f in doc["findings"]} >= {r.id for r in load_catalog()}
    assert {m for v in doc["volumes"] for m in v["methods"]} >= {"csi-snapshot", "fs-backup", "data-mover"}
    by_key = {f"{v['namespace']}/{v['pvc']}": v for v in doc["volumes"]}
    trap = by_key["wiki/wiki-attachments"]
    assert trap["status"] == "unprotected"
    assert any("wiki-attach-0 is Pending" in r for r in trap["reasons"])
    assert by_key["shop/data-postgres-0"]["methods"] == ["data-mover"]
    assert by_key["kube-system/etcd-backup"]["audited"] is False


def test_demo_table_groups_volumes_by_status() -> None:
    run = run_cli("demo")
    assert run.returncode == 0, run.stderr
    for heading in ("PROTECTED volumes", "STALE volumes", "UNPROTECTED volumes", "UNKNOWN volumes", "Findings"):
        assert heading in run.stdout
    assert "namespace staging carries velero.io/exclude-from-backup=true" in run.stdout


def test_explain_shows_the_decision_chain() -> None:
    run = run_cli("explain", "pvc", "wiki/wiki-attachments", "--demo")
    assert run.returncode == 0, run.stderr
    assert "velero/wiki-fsb" in run.stdout and "opt-out mode" in run.stdout
    assert "volume policy #1 of ConfigMap velero/daily-apps-policy skips it" in run.stdout
    missing = run_cli("explain", "pvc", "shop/nope", "--demo")
    assert missing.returncode == 2 and "no PersistentVolumeClaim shop/nope" in missing.stderr


def test_demo_served_live_gives_the_same_document(tmp_path: Path) -> None:
    as_of = demo.demo_as_of()
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc", context=demo.CLUSTER_NAME)
        from auditor.config import load_config

        config = load_config(demo.CONFIG_FILE)
        live = run_scan(ScanOptions(kubeconfig=str(kubeconfig), catalogs=(str(demo.CATALOG_DIR),), config=config,
                                    as_of=as_of, page_size=7))
    offline = run_scan(ScanOptions(snapshots=(demo.CLUSTER_DIR,), cluster_name=demo.CLUSTER_NAME,
                                   catalogs=(str(demo.CATALOG_DIR),), config=config, as_of=as_of))
    a, b = build_document(live), build_document(offline)
    for doc in (a, b):
        for c in doc["clusters"]:
            c.pop("source"), c.pop("server_version"), c.pop("unknown_kinds")  # how it was read, not what
    assert a == b
