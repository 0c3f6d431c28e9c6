"""The alert rules: promtool unit tests, conventions, runbooks, and the generated PrometheusRule."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULES = PROM / "backup-auditor-rules.yaml"
TESTS = sorted((PROM / "tests").glob("*.test.yaml"))
RUNBOOKS = ROOT / "docs" / "runbooks"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) missing")


def alerts() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_prometheusrule", PROM / "build_prometheusrule.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    run = promtool("test", "rules", *map(str, TESTS))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("SUCCESS") == len(TESTS)


@needs_promtool
def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    broken = (PROM / "tests" / "schedules.test.yaml").read_text().replace("ended Failed.", "ended Completed.")
    (tmp_path / "broken.test.yaml").write_text(broken.replace("../backup-auditor-rules.yaml", str(RULES)))
    assert promtool("test", "rules", str(tmp_path / "broken.test.yaml")).returncode == 1


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in TESTS:
        doc = yaml.safe_load(path.read_text())
        assert doc["rule_files"] == ["../backup-auditor-rules.yaml"]
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names - fires == set(), "alerts without a firing case"
    assert names - quiet == set(), "alerts without a quiet case"
    assert (fires | quiet) <= names


@needs_promtool
def test_promtool_checks_the_rules_and_the_prometheusrule(tmp_path: Path) -> None:
    assert promtool("check", "rules", str(RULES)).returncode == 0
    spec = yaml.safe_load((PROM / "backup-auditor-prometheusrule.yaml").read_text())["spec"]
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    run = promtool("check", "rules", str(tmp_path / "spec.yaml"))
    assert run.returncode == 0 and f"SUCCESS: {len(alerts())} rules found" in run.stdout, run.stdout + run.stderr


def test_the_prometheusrule_is_generated_from_the_rule_file() -> None:
    build = builder()
    expected = build.render(build.prometheus_rule(yaml.safe_load(RULES.read_text())))
    assert (PROM / "backup-auditor-prometheusrule.yaml").read_text() == expected, \
        "run: python deploy/prometheus/build_prometheusrule.py"


def test_generator_adds_labels_and_rewrites_runbook_urls(capsys: pytest.CaptureFixture[str]) -> None:
    build = builder()
    assert build.main(["--label", "release=kube-prometheus-stack", "--runbook-base", "https://wiki.local/rb/",
                       "-o", "-"]) == 0
    obj = yaml.safe_load(capsys.readouterr().out)
    assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    urls = [r["annotations"]["runbook_url"] for g in obj["spec"]["groups"] for r in g["rules"]]
    assert urls and all(u.startswith("https://wiki.local/rb/BackupAuditor") for u in urls)


def test_alert_conventions() -> None:
    documented = set(re.findall(r"^\| `(backup_auditor_[a-z_]+)`", (ROOT / "docs" / "metrics.md").read_text(), re.M))
    for rule in alerts():
        name = rule["alert"]
        assert re.fullmatch(r"BackupAuditor(?:[A-Z][a-z]+|RPO)+", name), name
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
        notes = rule["annotations"]
        assert set(notes) == {"summary", "description", "runbook_url"}, name
        assert notes["summary"][0].isupper() or notes["summary"].startswith("backup-auditor"), name
        assert notes["summary"].endswith(".") and "{{" not in notes["summary"], name
        assert notes["description"].endswith("."), name
        if "absent(" not in rule["expr"]:
            assert "$labels.cluster" in notes["description"], f"{name}: one rule set for many clusters"
        assert notes["runbook_url"].endswith(f"/docs/runbooks/{name}.md"), name
        for metric in re.findall(r"\b(backup_auditor_[a-z_]+)\b", rule["expr"]):
            assert metric in documented, f"{name} uses undocumented {metric}"


def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    names = {a["alert"] for a in alerts()}
    assert {p.stem for p in RUNBOOKS.glob("*.md")} == names
    for name in names:
        text = (RUNBOOKS / f"{name}.md").read_text()
        assert text.startswith(f"# {name}\n"), name
        for section in ("## Meaning", "## Diagnosis", "## Mitigation"):
            assert section in text, (name, section)
