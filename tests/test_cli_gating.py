"""CI gating exit codes, fleet documents and framework focus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import factories as f
from tests.checks.rule_fixtures import app, scheduled


def dump(tmp_path: Path, name: str, objects: list[Any]) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return d


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", "scan", "--as-of", "2026-11-20T12:00:00Z", *args],
                          capture_output=True, text=True, timeout=120)


def test_fail_on_and_min_score(tmp_path: Path) -> None:
    d = dump(tmp_path, "prod", [*scheduled(), *app("legacy")])
    assert scan("--snapshot", str(d)).returncode == 0
    assert scan("--snapshot", str(d), "--fail-on", "high").returncode == 3  # COV-001 on legacy is high
    assert scan("--snapshot", str(d), "--fail-on", "critical").returncode == 0
    assert scan("--snapshot", str(d), "--min-score", "99").returncode == 4
    assert scan("--snapshot", str(d), "--min-score", "1").returncode == 0


def test_fleet_document_has_per_cluster_sections(tmp_path: Path) -> None:
    a = dump(tmp_path, "prod-eu", [*scheduled(), f.secret("cloud-credentials", data={"cloud": f.AWS_KEY})])
    b = dump(tmp_path, "prod-us", [*scheduled(), *app("legacy"),
                                   f.secret("cloud-credentials", data={"cloud": f.AWS_KEY})])
    run = scan("--snapshot", str(a), "--snapshot", str(b), "-o", "json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert [c["name"] for c in doc["clusters"]] == ["prod-eu", "prod-us"]
    assert {p["cluster"] for p in doc["summary"]["per_cluster"]} == {"prod-eu", "prod-us"}
    assert {v["cluster"] for v in doc["volumes"]} == {"prod-eu", "prod-us"}
    shared = [x for x in doc["findings"] if x["rule_id"] == "CRD-005"]
    assert {x["cluster"] for x in shared} == {"prod-eu", "prod-us"}, "the same key in both clusters"
    assert {r["framework"] for r in doc["compliance_rollup"]} == {"iso27001", "nist-800-53", "soc2", "hipaa",
                                                                   "pci-dss", "dora"}
    table = scan("--snapshot", str(a), "--snapshot", str(b))
    assert "Compliance of prod-eu:" in table.stdout and "Compliance of prod-us:" in table.stdout


def test_framework_focus(tmp_path: Path) -> None:
    d = dump(tmp_path, "prod", [*scheduled(), *app("legacy")])
    doc = json.loads(scan("--snapshot", str(d), "-o", "json", "--framework", "hipaa").stdout)
    assert [c["framework"] for c in doc["compliance"]] == ["hipaa"]
    hipaa_rules = {r for c in doc["compliance"][0]["controls"] for r in c["rules"]}
    assert {x["rule_id"] for x in doc["findings"]} <= hipaa_rules
    bad = scan("--snapshot", str(d), "--framework", "iso9001")
    assert bad.returncode == 2 and "iso9001" in bad.stderr
