"""scan/demo/report filters, -o wide|yaml, report gates, progress only on terminals, broken pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from auditor.cli import main
from auditor.model.rules import SEVERITIES

AUDITOR = [sys.executable, "-m", "auditor"]


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture(scope="module")
def whole() -> dict[str, Any]:
    result = run("scan", "--demo", "-o", "json")
    assert result.exit_code == 0
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def scan(*args: str) -> dict[str, Any]:
    result = run("scan", "--demo", "-o", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_namespace_and_severity_narrow_volumes_and_findings(whole: dict[str, Any]) -> None:
    doc = scan("-n", "shop", "-n", "billing*", "--severity", "high")
    assert doc["volumes"] and {v["namespace"] for v in doc["volumes"]} <= {"shop", "billing", "billing-eu"}
    assert {v["namespace"] for v in doc["volumes"]} == {v["namespace"] for v in whole["volumes"]
                                                         if v["namespace"] == "shop" or
                                                         v["namespace"].startswith("billing")}
    assert doc["findings"] and all(f["namespace"] == "shop" or f["namespace"].startswith("billing")
                                   for f in doc["findings"])
    assert {f["severity"] for f in doc["findings"]} <= {"critical", "high"}
    expected = [f for f in whole["findings"] if f["namespace"] and (f["namespace"] == "shop" or
                f["namespace"].startswith("billing")) and SEVERITIES.index(f["severity"]) <= 1]
    assert doc["findings"] == expected
    summary = doc["summary"]
    assert summary["filtered"]["namespaces"] == ["shop", "billing*"]
    assert summary["filtered"]["severity"] == "high and worse" and "whole scan" in summary["filtered"]["note"]
    assert summary["volumes"] == len(doc["volumes"]) < whole["summary"]["volumes"]
    assert doc["compliance"] == whole["compliance"]  # scores are the whole scan's, and say so
    assert "filtered" not in whole["summary"]


def test_status_rule_and_cluster_filters(whole: dict[str, Any]) -> None:
    doc = scan("--status", "unprotected")
    status = {(v["cluster"], v["namespace"], v["pvc"]): v["status"] for v in whole["volumes"]}
    assert doc["volumes"] and {v["status"] for v in doc["volumes"]} == {"unprotected"}
    assert doc["findings"] and all(f["kind"] == "PersistentVolumeClaim" and
                                   status[(f["cluster"], f["namespace"], f["name"])] == "unprotected"
                                   for f in doc["findings"])
    doc = scan("--rule", "COV", "--rule", "FRS-001")
    assert {f["rule_id"] for f in doc["findings"]} == {f["rule_id"] for f in whole["findings"]
                                                        if f["rule_id"].startswith("COV") or f["rule_id"] == "FRS-001"}
    assert len(doc["volumes"]) == len(whole["volumes"])
    doc = scan("--cluster", "demo-staging")
    assert [c["name"] for c in doc["clusters"]] == ["demo-staging"]
    assert {v["cluster"] for v in doc["volumes"]} == {"demo-staging"}
    assert {f["cluster"] for f in doc["findings"]} == {"demo-staging"}
    missing = run("scan", "--demo", "--cluster", "nope")
    assert missing.exit_code == 2 and "no cluster named nope" in missing.output
    both = run("scan", "--demo", "-A", "-n", "shop")
    assert both.exit_code == 2 and "exclude each other" in both.output


def test_fail_on_follows_the_filter() -> None:
    assert run("scan", "--demo", "--fail-on", "high").exit_code == 3
    assert run("scan", "--demo", "--fail-on", "high", "--rule", "NOPE-").exit_code == 0


def test_yaml_is_the_json_document(whole: dict[str, Any]) -> None:
    result = run("demo", "-o", "yaml")
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout) == whole


def test_wide_adds_the_columns_and_fits_120_columns(whole: dict[str, Any]) -> None:
    result = run("demo", "-o", "wide", env={"COLUMNS": "120"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "NAMESPACE/PVC" in line)
    header = lines[at]
    for column in ("PV", "CLASS", "METHODS", "COVERED BY", "STATUS"):
        assert column in header
    folded = lines[at - 1] + lines[at]  # a header may fold onto two lines
    assert all(word in folded for word in ("LAST", "RECOVERY", "POINT"))
    table = lines[at - 1:next(i for i, line in enumerate(lines) if line.startswith("Findings"))]
    assert all(len(line) <= 120 for line in table)
    assert "Volumes (22)" in result.stdout and len(whole["volumes"]) == 22
    some = next(v for v in whole["volumes"] if v["pv"])
    assert some["pv"][:12] in "\n".join(table)


def test_report_gates_and_filters(tmp_path: Path) -> None:
    out = tmp_path / "a"
    failed = run("report", "--demo", "--format", "json", "--out", str(out), "--fail-on", "high")
    assert failed.exit_code == 3 and list(out.glob("*.manifest.json"))  # written, then the gate
    score = run("report", "--demo", "--format", "json", "--out", str(tmp_path / "b"), "--min-score", "99")
    assert score.exit_code == 4
    saved = next(p for p in out.glob("*.json") if not p.name.endswith(".manifest.json"))
    again = run("report", "--from-scan", str(saved), "--format", "md", "--out", str(tmp_path / "c"),
                "--fail-on", "critical", "-n", "shop", "--severity", "critical")
    assert again.exit_code == 0, again.output
    assert run("report", "--from-scan", str(saved), "--format", "md", "--out", str(tmp_path / "d"),
               "--fail-on", "high").exit_code == 3
    filtered = run("report", "--from-scan", str(saved), "--format", "json", "--out", str(tmp_path / "e"),
                   "-n", "shop")
    assert filtered.exit_code == 0, filtered.output
    report = json.loads(next(p for p in (tmp_path / "e").glob("*.json")
                             if not p.name.endswith(".manifest.json")).read_text())
    assert report["volumes"] and {v["namespace"] for v in report["volumes"]} == {"shop"}
    assert report["summary"]["filtered"]["namespaces"] == ["shop"]


@pytest.mark.parametrize("args", [["demo", "-o", "json"], ["demo"], ["demo", "-o", "yaml"], ["rules"]])
def test_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    proc = subprocess.Popen([*AUDITOR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert err == b""


def test_progress_only_when_both_streams_are_terminals(monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.cli import shared
    from auditor.cli.progress import ScanProgress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert shared._progress() is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert shared._progress() is None

    class FakeConsole:
        def status(self, text: str) -> Any:
            class S:
                def start(self) -> None: ...

            return S()

    p = ScanProgress(FakeConsole())
    assert p.line("pods", 500) == "reading pods: 500 objects, page 1 · 0 kinds read (0 objects)"
    assert p.line("pods", 1000) == "reading pods: 1,000 objects, page 2 · 0 kinds read (0 objects)"
    assert p.line("pvcs", 20) == "reading pvcs: 20 objects, page 1 · 1 kinds read (1,000 objects)"


def test_a_filtered_report_says_so(tmp_path: Path) -> None:
    result = run("report", "--demo", "--format", "md,html", "--out", str(tmp_path), "-n", "shop",
                 "--severity", "high")
    assert result.exit_code == 0, result.output
    for suffix in ("md", "html"):
        text = next(tmp_path.glob(f"*.{suffix}")).read_text()
        assert "namespaces shop; severity high and worse" in text and "filtered view" in text
    plain = run("report", "--demo", "--format", "md", "--out", str(tmp_path / "plain"))
    assert plain.exit_code == 0 and "filtered view" not in next((tmp_path / "plain").glob("*.md")).read_text()
