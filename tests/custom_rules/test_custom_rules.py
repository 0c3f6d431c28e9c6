"""Custom CEL rules: loading (and its errors), evaluation on the demo, every output, rules test."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner

from auditor.cli import main
from auditor.cli.shared import build_options
from auditor.custom_rules.cost import longest_list
from auditor.custom_rules.evaluate import VOLUME_FIELDS, judge
from auditor.custom_rules.loader import load_rule_dirs
from auditor.errors import ConfigError
from auditor.output.document import volume_entry
from auditor.pipeline import run_scan

TWO_METHODS = """\
id: ACME-001
title: Shop volumes have two methods
severity: high
subject: volume
match: 'volume.namespace.startsWith("shop")'
assert: 'volume.status == "protected" && size(volume.methods) >= 2'
message: '"PVC " + volume.namespace + "/" + volume.pvc + " has methods " +
  (size(volume.methods) > 0 ? volume.methods.join(", ") : "none")'
frameworks: {iso27001: [A.8.13]}
remediation: Add a second method.
tests:
  - name: two methods
    volume: {namespace: shop, pvc: data-0, status: protected, methods: [csi-snapshot, fs-backup]}
    expect: pass
  - volume: {namespace: shop, pvc: data-1, status: protected, methods: [csi-snapshot]}
    expect: fail
    message: PVC shop/data-1 has methods csi-snapshot
  - volume: {namespace: web, pvc: data-1, status: protected, methods: []}
    expect: skip
"""

LONG_TTL = """\
id: ACME-002
title: Schedules keep backups 30 days
severity: medium
subject: schedule
assert: 'schedule.ttl_seconds != null && schedule.ttl_seconds >= 30 * 86400'
message: '"schedule " + schedule.namespace + "/" + schedule.name + " keeps backups less than 30 days"'
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(dedent(text))
    return path


@pytest.fixture()
def rules_dir(tmp_path: Path) -> Path:
    write(tmp_path / "rules", "acme-001.yaml", TWO_METHODS)
    write(tmp_path / "rules", "acme-002.yaml", LONG_TTL)
    return tmp_path / "rules"


def scan_json(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["scan", "--demo", "-o", "json", *args])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}


def test_findings_name_their_subject_and_follow_the_entries(rules_dir: Path) -> None:
    code, doc = scan_json("--rules-dir", str(rules_dir))
    assert code == 0
    volumes = {(v["cluster"], v["namespace"], v["pvc"]): v for v in doc["volumes"]}
    ours = [f for f in doc["findings"] if f["rule_id"] == "ACME-001"]
    assert ours, "the demo has shop volumes with fewer than two methods"
    for f in ours:
        v = volumes[(f["cluster"], f["namespace"], f["name"])]
        assert f["kind"] == "PersistentVolumeClaim" and f["severity"] == "high"
        assert v["namespace"].startswith("shop")
        assert not (v["status"] == "protected" and len(v["methods"]) >= 2)
        assert f["message"] == f"PVC {v['namespace']}/{v['pvc']} has methods {', '.join(v['methods']) or 'none'}"
    judged = {(f["cluster"], f["namespace"], f["name"]) for f in ours}
    expected = {k for k, v in volumes.items() if v["audited"] and v["namespace"].startswith("shop")
                and not (v["status"] == "protected" and len(v["methods"]) >= 2)}
    assert judged == expected
    schedules = {(s["namespace"], s["name"]): s for s in doc["schedules"]}
    short = {(f["namespace"], f["name"]) for f in doc["findings"] if f["rule_id"] == "ACME-002"}
    assert short == {k for k, s in schedules.items() if s["ttl_seconds"] is None or s["ttl_seconds"] < 30 * 86400}
    assert all(f["kind"] == "Schedule" for f in doc["findings"] if f["rule_id"] == "ACME-002")


def test_custom_rules_count_in_the_framework_and_gate(rules_dir: Path) -> None:
    options = build_options(demo=True, rules_dirs=(rules_dir,))
    result = run_scan(options)
    iso = next(fw for fw in result.clusters[0].compliance if fw.framework == "iso27001")
    control = next(c for c in iso.controls if c.control_id == "A.8.13")
    assert "ACME-001" in control.rules
    assert any(r.id == "ACME-001" for r in result.rules)
    # --fail-on counts custom findings (narrowed to them with --rule): ACME-001 is high, ACME-002 medium
    assert scan_json("--rules-dir", str(rules_dir), "--rule", "ACME", "--fail-on", "high")[0] == 3
    assert scan_json("--rules-dir", str(rules_dir), "--rule", "ACME-002", "--fail-on", "high")[0] == 0
    assert scan_json("--rules-dir", str(rules_dir), "--rule", "ACME-002", "--fail-on", "medium")[0] == 3


def test_exceptions_apply_to_custom_findings(rules_dir: Path, tmp_path: Path) -> None:
    waivers = write(tmp_path, "waivers.yaml", """\
        exceptions:
          - id: shop-two-methods
            rules: [ACME-001]
            selector: {namespace: shop}
            owner: team-shop
            reason: migrating
            expires: 2027-06-01
        """)
    code, doc = scan_json("--rules-dir", str(rules_dir), "--exceptions", str(waivers))
    assert code == 0
    ours = [f for f in doc["findings"] if f["rule_id"] == "ACME-001"]
    assert ours and {f["status"] for f in ours if f["namespace"] == "shop"} == {"excepted"}


def test_sarif_junit_and_metrics_carry_custom_rules(rules_dir: Path, tmp_path: Path) -> None:
    from auditor.output.metrics import MetricsInput, render

    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", "--demo", "--rules-dir", str(rules_dir), "--format",
                                       "sarif,junit", "--out", str(out)])
    assert result.exit_code == 0, result.output
    sarif = json.loads(next(out.glob("*.sarif")).read_text())
    run = sarif["runs"][0]
    assert "ACME-001" in [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert any(r["ruleId"] == "ACME-001" for r in run["results"])
    junit = next(out.glob("*.junit.xml")).read_text()
    assert "ACME-001" in junit and "ACME-002" in junit
    saved = next(p for p in out.glob("*.json") if not p.name.endswith("manifest.json"))
    again = CliRunner().invoke(main, ["report", "--from-scan", str(saved), "--rules-dir", str(rules_dir),
                                      "--format", "sarif", "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    sarif = json.loads(next((tmp_path / "again").glob("*.sarif")).read_text())
    assert "ACME-001" in [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]]
    text = render(MetricsInput(run_scan(build_options(demo=True, rules_dirs=(rules_dir,))))).decode()
    lines = [line for line in text.splitlines() if line.startswith("backup_auditor_findings{")
             and 'rule="ACME-001"' in line and 'status="open"' in line]
    assert lines and any(float(line.rsplit(" ", 1)[1]) > 0 for line in lines)


def test_rules_lists_custom_rules_from_the_config(rules_dir: Path, tmp_path: Path) -> None:
    config = write(tmp_path, "config.yaml", "custom_rules_dirs: [rules]\n")
    result = CliRunner().invoke(main, ["rules", "--config", str(config), "-o", "json"])
    assert result.exit_code == 0, result.output
    listed = {r["id"]: r for r in json.loads(result.stdout)}
    assert listed["ACME-001"]["subject"] == "PersistentVolumeClaim" and listed["ACME-002"]["subject"] == "Schedule"
    assert "COV-001" in listed
    code, doc = scan_json("--config", str(config))
    assert code == 0 and any(f["rule_id"] == "ACME-002" for f in doc["findings"])


@pytest.mark.parametrize(("field", "text", "expected"), [
    ("assert", "'volume.status == '", "assert: line 1, column 18: Syntax error"),
    ("assert", "'volume.status == 1 +\n  \"a\"'", "assert: line 1, column 20: found no matching overload for '_+_'"),
    ("assert", "|\n  volume.status == \"a\" &&\n    size(1) > 0",
     "assert: line 2, column 7: found no matching overload for 'size'"),
    ("assert", "'schedule.paused'", "assert: line 1, column 9: undeclared reference to 'schedule.paused'"),
    ("assert", "'size(volume.methods)'", "assert: line 1, column 1: the expression returns int, expected bool"),
    ("message", "'size(volume.methods)'", "message: line 1, column 1: the expression returns int, expected string"),
    ("subject", "pod", "key subject: Input should be 'volume'"),
    ("id", "acme-1", "key id: String should match pattern"),
    ("id", "COV-001", "key id: COV-001 clashes with the built-in rule COV-001"),
])
def test_a_bad_rule_file_is_exit_2_naming_the_file_and_position(tmp_path: Path, field: str, text: str,
                                                                expected: str) -> None:
    rule = {"id": "ACME-009", "title": "t", "severity": "low", "subject": "volume", "assert": "'true'",
            "message": "'\"m\"'"}
    rule[field] = text
    path = write(tmp_path / "bad", "bad.yaml", "".join(f"{k}: {v}\n" for k, v in rule.items()))
    result = CliRunner().invoke(main, ["scan", "--demo", "--rules-dir", str(tmp_path / "bad")])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}: ") and expected in result.output, result.output
    assert "Traceback" not in result.output


def test_two_files_with_one_id_and_a_missing_directory(rules_dir: Path, tmp_path: Path) -> None:
    write(tmp_path / "more", "again.yaml", TWO_METHODS)
    with pytest.raises(ConfigError, match=r"again.yaml: key id: ACME-001 is already defined in .*acme-001.yaml"):
        load_rule_dirs([rules_dir, tmp_path / "more"])
    with pytest.raises(ConfigError, match="nowhere: custom rules directory not found"):
        load_rule_dirs([tmp_path / "nowhere"])
    from tests.collect.test_hostile_inputs import YAML_BOMB

    bomb = write(tmp_path / "bomb", "bomb.yaml", YAML_BOMB)
    with pytest.raises(ConfigError, match=f"{bomb}: invalid YAML: .*aliases expand the document"):
        load_rule_dirs([tmp_path / "bomb"])
    bad = write(tmp_path / "fw", "fw.yaml", TWO_METHODS.replace("A.8.13", "A.99"))
    with pytest.raises(ConfigError, match=f"{bad}: key frameworks.iso27001: unknown control"):
        load_rule_dirs([tmp_path / "fw"])


def test_an_evaluation_error_is_one_subjects_error_and_the_scan_goes_on(tmp_path: Path) -> None:
    write(tmp_path / "r", "fresh.yaml", """\
        id: ACME-003
        title: Recent recovery point
        severity: medium
        subject: volume
        assert: 'as_of - timestamp(volume.last_success) < duration("48h")'
        message: '"stale " + volume.pvc'
        """)
    code, doc = scan_json("--rules-dir", str(tmp_path / "r"))
    assert code == 0
    results = run_scan(build_options(demo=True, rules_dirs=(tmp_path / "r",))).results
    ours = [r for r in results if r.rule_id == "ACME-003"]
    errors = [r for r in ours if r.status == "error"]
    volumes = {(v["namespace"], v["pvc"]): v for v in doc["volumes"] if v["audited"]}
    assert {(r.namespace, r.name) for r in errors} == {k for k, v in volumes.items() if v["last_success"] is None}
    assert all("ACME-003 could not be evaluated" in r.message for r in errors)
    assert {r.status for r in ours} == {"error", "pass", "open"}
    assert doc["summary"]["checks"]["error"] >= len(errors)


def test_the_cost_bound_stops_a_runaway_evaluation(tmp_path: Path) -> None:
    write(tmp_path / "r", "deep.yaml", """\
        id: ACME-004
        title: Cubic
        severity: low
        subject: schedule
        assert: 'schedule.runs.all(a, schedule.runs.all(b, schedule.runs.all(c, a.time != "")))'
        message: '"x"'
        """)
    rule = load_rule_dirs([tmp_path / "r"])[0]
    as_of = datetime(2026, 11, 20, 12, tzinfo=UTC)
    small = {"name": "daily", "namespace": "velero", "runs": [{"time": "2026-11-20T02:00:00Z"}] * 5}
    large = {**small, "runs": small["runs"] * 80}  # 400 runs: the most a schedule entry holds
    assert longest_list(large) == 400 and rule.assertion.cost.estimate(5) < 1_000_000
    assert rule.assertion.cost.estimate(400) > 1_000_000
    [(_, fine)] = judge([rule], "schedule", small, as_of)
    assert fine.status == "pass"
    [(_, stopped)] = judge([rule], "schedule", large, as_of)
    assert stopped.status == "error" and "exceeds the limit of 1,000,000" in stopped.message
    assert "lists of up to 400 items, comprehensions nested 3 deep" in stopped.message


def test_volume_fields_print_as_the_document_does() -> None:
    result = run_scan(build_options(demo=True))
    for c in result.clusters:
        assert c.analysis is not None
        for v in c.analysis.volumes:
            entry = volume_entry(v)
            assert entry.keys() == VOLUME_FIELDS.keys()
            assert {k: f(v) for k, f in VOLUME_FIELDS.items()} == entry


def test_rules_test_runs_the_inline_tests(rules_dir: Path, tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["rules", "test", str(rules_dir)])
    assert ok.exit_code == 0, ok.output
    assert "PASS ACME-001 two methods" in ok.output and "3 passed, 0 failed" in ok.output
    assert "rules without tests: ACME-002" in ok.output
    wrong = TWO_METHODS.replace("expect: skip", "expect: fail")
    write(tmp_path / "wrong", "w.yaml", wrong)
    failed = CliRunner().invoke(main, ["rules", "test", str(tmp_path / "wrong")])
    assert failed.exit_code == 1
    assert "FAIL ACME-001 test 3: expected fail, got skip" in failed.output and "2 passed, 1 failed" in failed.output


def test_the_batch_and_rule_by_rule_agree(rules_dir: Path, tmp_path: Path) -> None:
    """One CEL program for all the rules of a subject is an optimisation: same outcomes, errors included."""
    from dataclasses import replace as dc_replace

    from auditor.custom_rules.evaluate import Plan, subjects

    write(rules_dir, "acme-003.yaml", """\
        id: ACME-003
        title: Recent recovery point
        severity: medium
        subject: volume
        match: 'volume.methods.exists(m, m != "")'
        assert: 'as_of - timestamp(volume.last_success) < duration("30h")'
        message: '"stale " + volume.pvc'
        """)
    rules = [r for r in load_rule_dirs([rules_dir]) if r.subject == "volume"]
    result = run_scan(build_options(demo=True))
    compared = 0
    for c in result.clusters:
        assert c.analysis is not None
        batched = Plan.of(rules, "volume")
        assert batched.program is not None
        single = dc_replace(batched, program=None)
        for item in subjects(c.analysis, "volume"):
            fast = judge(rules, "volume", item.entry, result.as_of, batched)
            slow = judge(rules, "volume", item.entry, result.as_of, single)
            assert fast == slow
            compared += 1
    assert compared > 10


def test_history_records_custom_findings(rules_dir: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store.db")
    assert CliRunner().invoke(main, ["scan", "--demo", "--store", store, "-o", "json"]).exit_code == 0
    with_rules = CliRunner().invoke(main, ["scan", "--demo", "--store", store, "--rules-dir", str(rules_dir),
                                           "-o", "json"])
    assert with_rules.exit_code == 0
    ours = {(f["cluster"], f["namespace"], f["name"]) for f in json.loads(with_rules.stdout)["findings"]
            if f["rule_id"] == "ACME-001" and f["status"] == "open"}
    diff = CliRunner().invoke(main, ["diff", "--store", store, "-o", "json"])
    assert diff.exit_code == 0, diff.output
    new = {(f["cluster"], f["namespace"], f["name"]) for c in json.loads(diff.stdout)["clusters"]
           for f in c["new"] if f["rule_id"] == "ACME-001"}
    assert ours and new == ours


def test_the_shipped_examples_pass_their_tests_and_judge_the_demo() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "custom-rules"
    tested = CliRunner().invoke(main, ["rules", "test", str(examples)])
    assert tested.exit_code == 0, tested.output
    assert "9 passed, 0 failed" in tested.output
    code, doc = scan_json("--rules-dir", str(examples))
    assert code == 0
    tier1 = {(v["cluster"], v["namespace"], v["pvc"]) for v in doc["volumes"] if v["audited"]
             and v["policy"] == "tier-1" and not (v["status"] == "protected" and len(v["methods"]) >= 2)}
    mover_only = {(v["cluster"], v["namespace"], v["pvc"]) for v in doc["volumes"] if v["audited"]
                  and v["policy"] == "payments" and v["methods"] and set(v["methods"]) == {"data-mover"}}
    found = {rule: {(f["cluster"], f["namespace"], f["name"]) for f in doc["findings"] if f["rule_id"] == rule}
             for rule in ("ACME-001", "ACME-003")}
    assert tier1 and found["ACME-001"] == tier1
    assert mover_only and found["ACME-003"] == mover_only
