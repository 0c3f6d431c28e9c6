"""The alert rules: promtool unit tests, conventions, runbooks, and the generated PrometheusRule."""

from __future__ import annotations

import importlib.util
import json
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


# --- Which findings alert: every critical rule pages, every high rule alerts or is covered by the score alert.

CATALOG = ROOT / "rules"
ALERT_TABLE = re.compile(r"^\| \[([A-Z]{3}-\d{3})\]\(rules\.md#[a-z]{3}-\d{3}\) \| (\w+) \| (.+) \|$", re.M)
GENERIC = "BackupAuditorCriticalFinding"
TAMPER = "BackupAuditorProtectionWeakened"
SCORE = "BackupAuditorComplianceScoreLow"


def catalog() -> dict[str, dict[str, Any]]:
    rules = (yaml.safe_load(p.read_text()) for p in sorted(CATALOG.glob("*.yaml")))
    return {r["id"]: r for r in rules}


def alert_table() -> dict[str, tuple[str, str]]:
    """docs/metrics.md's "Which findings alert": rule → (severity, the cell naming its alert)."""
    section = (ROOT / "docs" / "metrics.md").read_text().split("### Which findings alert", 1)[1].split("\n#", 1)[0]
    return {rule: (severity, cell) for rule, severity, cell in ALERT_TABLE.findall(section)}


def expand(template: str, labels: dict[str, str], value: str) -> str:
    """Prometheus' annotation templating, as far as the rule file uses it (labels, value, `with`)."""
    text = re.sub(r"\{\{ with \$labels\.(\w+) \}\}(.*?)\{\{ \. \}\}(.*?)\{\{ end \}\}",
                  lambda m: f"{m[2]}{labels[m[1]]}{m[3]}" if labels.get(m[1]) else "", template)
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], text)
    assert "{{" not in text.replace("{{ $value }}", ""), text
    return text.replace("{{ $value }}", value)


def coverage_problems(rules: dict[str, dict[str, Any]], table: dict[str, tuple[str, str]],
                      alerts_by_name: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for rule_id, rule in sorted(rules.items()):
        if rule["severity"] not in ("critical", "high"):
            continue
        if rule_id not in table:
            problems.append(f"{rule_id} ({rule['severity']}) has no alert in docs/metrics.md")
            continue
        severity, cell = table[rule_id]
        named = re.findall(r"\b(BackupAuditor[A-Za-z]+)\b", cell)
        if severity != rule["severity"]:
            problems.append(f"{rule_id}: docs/metrics.md says {severity}, the catalog {rule['severity']}")
        if not named or named[0] not in alerts_by_name:
            problems.append(f"{rule_id}: {named[:1] or cell} is not an alert of the rule file")
            continue
        alert = alerts_by_name[named[0]]
        if rule["severity"] == "critical" and alert["labels"]["severity"] != "critical":
            problems.append(f"{rule_id} is critical, its alert {named[0]} is {alert['labels']['severity']}")
        if "covered by the score alert" in cell and (named[0] != SCORE or not rule.get("frameworks")):
            problems.append(f"{rule_id}: the score alert covers only rules mapped to a framework")
    problems += [f"{r}: in docs/metrics.md, not a critical or high rule" for r in table
                 if rules.get(r, {}).get("severity") not in ("critical", "high")]
    return problems


def test_every_critical_and_high_rule_alerts_or_is_documented() -> None:
    alerts_by_name = {a["alert"]: a for a in alerts()}
    assert coverage_problems(catalog(), alert_table(), alerts_by_name) == []
    # A new critical rule without a row, or a critical rule paging through a warning, is caught.
    added = {**catalog(), "SYS-999": {"id": "SYS-999", "severity": "critical", "frameworks": {}}}
    assert coverage_problems(added, alert_table(), alerts_by_name) == ["SYS-999 (critical) has no alert in "
                                                                       "docs/metrics.md"]
    weak = {**alerts_by_name, GENERIC: {**alerts_by_name[GENERIC], "labels": {"severity": "warning"}}}
    assert coverage_problems(catalog(), alert_table(), weak) == [f"SYS-001 is critical, its alert {GENERIC} is warning"]


@needs_promtool
def test_every_critical_rule_fires_its_alert_on_its_findings(tmp_path: Path) -> None:
    """Generated from rules/*.yaml: one open finding of each critical rule; BackupAuditorCriticalFinding fires for
    exactly the critical rules whose row names it, and stays quiet for those with an alert of their own (their
    own promtool tests make those fire on the same state)."""
    table = alert_table()
    critical = sorted(r for r, rule in catalog().items() if rule["severity"] == "critical")
    assert critical, "the catalog has critical rules"
    generic = [r for r in critical if re.findall(r"\bBackupAuditor[A-Za-z]+\b", table[r][1])[0] == GENERIC]
    own = {r: re.findall(r"\bBackupAuditor[A-Za-z]+\b", table[r][1])[0] for r in critical if r not in generic}
    series = [{"series": f'backup_auditor_findings{{cluster="c1", rule="{r}", severity="critical", status="open"}}',
               "values": "1x20"} for r in critical]
    notes = next(a for a in alerts() if a["alert"] == GENERIC)["annotations"]
    expected = [{"exp_labels": {"severity": "critical", "cluster": "c1", "rule": r},
                 "exp_annotations": {k: expand(v, {"cluster": "c1", "rule": r}, "1") for k, v in notes.items()}}
                for r in generic]
    doc = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "alert_rule_test": [{"eval_time": "15m", "alertname": GENERIC, "exp_alerts": expected}],
    }]}
    (tmp_path / "critical.test.yaml").write_text(yaml.safe_dump(doc))
    run = promtool("test", "rules", str(tmp_path / "critical.test.yaml"))
    assert run.returncode == 0, run.stdout + run.stderr
    fired_by_own_tests: set[str] = set()
    for path in TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts") and all(a["exp_labels"]["severity"] == "critical"
                                                  for a in case["exp_alerts"]):
                    fired_by_own_tests.add(case["alertname"])
    assert set(own.values()) <= fired_by_own_tests, own


def test_the_tamper_alert_pages_within_a_minute() -> None:
    """GOV-002 (protection weakened: the ransomware case) has an alert of its own, critical, for at most 1m."""
    tamper = [a for a in alerts() if 'rule="GOV-002"' in a["expr"]]
    assert [a["alert"] for a in tamper] == [TAMPER]
    alert = tamper[0]
    assert alert["labels"]["severity"] == "critical"
    value, unit = re.fullmatch(r"(\d+)([smh])", alert["for"]).groups()  # type: ignore[union-attr]
    assert int(value) * {"s": 1, "m": 60, "h": 3600}[unit] <= 60
    assert 'status="open"' in alert["expr"], "an excepted (intended) change does not page"


@needs_promtool
def test_the_demo_s_critical_findings_page(tmp_path: Path) -> None:
    """The demo's own metrics, every family (both clusters, judged at the demo's time), fed to promtool: every open
    critical finding fires the alert docs/metrics.md names for its rule, for its cluster, and no critical alert
    of its own fires on a cluster without such a finding. SYS-001 on demo-staging (no node-agent where
    file-system backups need one) fires BackupAuditorCriticalFinding, and nothing else does; the seed's
    ransomware case (backups gone from the bucket before their expiration, a location switched to ReadOnly since
    the previous scan: GOV-002) fires the tamper alert."""
    from prometheus_client.parser import text_string_to_metric_families

    from auditor.cli.shared import build_options
    from auditor.output.metrics import ClusterHealth, MetricsInput, render
    from auditor.pipeline import run_scan

    result = run_scan(build_options(demo=True))
    text = render(MetricsInput(result, tuple(ClusterHealth(c.name, 0.0, 0.25, True, 3600.0, 3, 1)
                                             for c in result.clusters))).decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples if s.value == s.value]
    findings = [s for s in samples if s.name == "backup_auditor_findings"]
    assert findings
    table = alert_table()

    def alert_for(rule: str) -> str:
        return str(re.findall(r"\bBackupAuditor[A-Za-z]+\b", table[rule][1])[0])

    open_critical = {(s.labels["cluster"], s.labels["rule"], int(s.value)) for s in findings
                     if s.labels["severity"] == "critical" and s.labels["status"] == "open" and s.value > 0}
    generic = {(c, r, n) for c, r, n in open_critical if alert_for(r) == GENERIC}
    own = {(alert_for(r), c) for c, r, _ in open_critical if alert_for(r) != GENERIC}
    assert ("demo-staging", "SYS-001", 1) in generic
    assert {r for _, r, _ in open_critical} >= {"CRD-001", "LOC-001", "SYS-001"}
    notes = next(a for a in alerts() if a["alert"] == GENERIC)["annotations"]
    series = [{"series": s.name + "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(s.labels.items())) + "}",
               "values": f"{s.value:g}x20"} for s in samples]
    expected = [{"exp_labels": {"severity": "critical", "cluster": c, "rule": r},
                 "exp_annotations": {k: expand(v, {"cluster": c, "rule": r}, str(n)) for k, v in notes.items()}}
                for c, r, n in sorted(generic)]
    weakened = {s.labels["cluster"]: int(s.value) for s in findings
                if s.labels["rule"] == "GOV-002" and s.labels["status"] == "open" and s.value > 0}
    assert "demo-prod" in weakened
    tamper_notes = next(a for a in alerts() if a["alert"] == TAMPER)["annotations"]
    tampered = [{"exp_labels": {"severity": "critical", "cluster": c},
                 "exp_annotations": {k: expand(v, {"cluster": c}, str(n)) for k, v in tamper_notes.items()}}
                for c, n in sorted(weakened.items())]
    own_names = sorted({name for name, _ in own} | {alert_for(r) for r, rule in catalog().items()
                                                    if rule["severity"] == "critical" and alert_for(r) != GENERIC})
    doc = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "alert_rule_test": [{"eval_time": "15m", "alertname": GENERIC, "exp_alerts": expected},
                            {"eval_time": "15m", "alertname": TAMPER, "exp_alerts": tampered}],
        # the critical rules with an alert of their own: it fires exactly on the clusters with open findings
        "promql_expr_test": [{
            "expr": f'group by (alertname, cluster) (ALERTS{{alertstate="firing", severity="critical", '
                    f'alertname=~"{"|".join(own_names)}"}})',
            "eval_time": "15m",
            "exp_samples": [{"labels": f'{{alertname="{name}", cluster="{cluster}"}}', "value": 1}
                            for name, cluster in sorted(own)]}],
    }]}
    (tmp_path / "demo.test.yaml").write_text(yaml.safe_dump(doc))
    run = promtool("test", "rules", str(tmp_path / "demo.test.yaml"))
    assert run.returncode == 0, run.stdout + run.stderr


# --- Several Prometheus servers: an alert's labels do not depend on where it is evaluated, counts never double.

FEDERATION = PROM / "federation"
SCRAPE_COPIES = ({"instance": "10.0.0.7:9750", "job": "backup-auditor", "pod": "backup-auditor-5d9c"},
                 {"instance": "prometheus.prod-eu:9090", "job": "federate", "replica": "b", "prometheus": "global"})


def with_labels(series: str, extra: dict[str, str]) -> str:
    """``series`` (promtool's ``name{a="b", ...}``) with the labels of ``extra`` it does not already have."""
    name, _, rest = series.partition("{")
    labels = rest.rstrip().removesuffix("}")
    present = set(re.findall(r'(\w+)\s*=', labels))
    added = ", ".join(f'{k}="{v}"' for k, v in extra.items() if k not in present)
    return f"{name}{{{', '.join(x for x in (labels.strip(), added) if x)}}}"


def duplicated(doc: dict[str, Any], rules: Path) -> dict[str, Any]:
    """A shipped promtool test with every input series present twice, as two scrape paths deliver it (a direct
    scrape and a federated copy); its expectations unchanged."""
    for test in doc["tests"]:
        test["input_series"] = [{**s, "series": with_labels(s["series"], extra)}
                                for s in test.get("input_series", []) for extra in SCRAPE_COPIES]
    return {**doc, "rule_files": [str(rules)]}


@needs_promtool
def test_a_duplicate_copy_of_every_series_changes_no_alert(tmp_path: Path) -> None:
    """Every shipped promtool test, fed each series twice with the labels that differ between scrape paths
    (instance, job, pod, replica, prometheus): the same alerts fire, with exactly the same labels and values.
    So an alert evaluated by a cluster's Prometheus and by a global one on federated data carries the same
    labels (Alertmanager holds it once), and no count is doubled."""
    def run(rules: Path) -> subprocess.CompletedProcess[str]:
        files = []
        for path in TESTS:
            target = tmp_path / path.name
            target.write_text(yaml.safe_dump(duplicated(yaml.safe_load(path.read_text()), rules), sort_keys=False))
            files.append(str(target))
        return promtool("test", "rules", *files)

    assert with_labels('x{cluster="a", job="nightly"}', SCRAPE_COPIES[0]) == \
        'x{cluster="a", job="nightly", instance="10.0.0.7:9750", pod="backup-auditor-5d9c"}'
    assert with_labels("up", {"job": "j"}) == 'up{job="j"}'
    ok = run(RULES)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # a `sum` over the copies doubles the count in the description; a bare selector keeps instance and job
    counted = tmp_path / "sum.yaml"
    counted.write_text(RULES.read_text().replace("max by (cluster, namespace) (backup_auditor_volumes",
                                                 "sum by (cluster, namespace) (backup_auditor_volumes"))
    doubled = run(counted)
    assert doubled.returncode == 1 and "BackupAuditorVolumeUnprotected" in doubled.stdout + doubled.stderr
    bare = tmp_path / "bare.yaml"
    bare.write_text(RULES.read_text().replace("max by (cluster, namespace, schedule) (backup_auditor_schedule_paused)",
                                              "backup_auditor_schedule_paused"))
    labelled = run(bare)
    assert labelled.returncode == 1 and 'instance="10.0.0.7:9750"' in labelled.stdout + labelled.stderr


AGGREGATION = re.compile(r"\b(sum|max|min|avg|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)\s*"
                         r"(by|without)?\s*(\([^)]*\))?\s*\(")


def test_every_aggregation_keeps_the_cluster() -> None:
    """In the shipped rules and the global layer's rollups, every aggregation is `by (cluster, ...)`: nothing
    is summed across clusters, and nothing relies on labels a scrape path adds."""
    files = [RULES, FEDERATION / "backup-auditor-global-rules.yaml"]
    seen = 0
    for path in files:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                for op, kind, labels in AGGREGATION.findall(rule["expr"]):
                    seen += 1
                    where = f"{path.name}: {rule.get('alert') or rule.get('record')}: {op}"
                    assert kind == "by" and "cluster" in re.findall(r"\w+", labels), where
                for record in re.findall(r"\b(\w+:\w+:\w+)\b", rule["expr"]):
                    assert record.startswith("cluster:"), record
                if "record" in rule:
                    assert rule["record"].startswith("cluster:"), rule["record"]
    assert seen > 30
    assert AGGREGATION.findall("sum(x)") == [("sum", "", "")]


@needs_promtool
def test_the_federation_examples_are_valid(tmp_path: Path) -> None:
    for name in ("prometheus-cluster.yml", "prometheus-global.yml"):
        run = promtool("check", "config", str(FEDERATION / name))
        assert run.returncode == 0, run.stdout + run.stderr
        config = yaml.safe_load((FEDERATION / name).read_text())
        drop = [c for c in config["alerting"]["alert_relabel_configs"] if c["action"] == "labeldrop"]
        for label in (*config["global"]["external_labels"], "replica"):
            assert label == "cluster" or any(re.fullmatch(c["regex"], label) for c in drop), (name, label)
        assert all(job["honor_labels"] for job in config["scrape_configs"]), name
    labels = {name: yaml.safe_load((FEDERATION / name).read_text())["global"]["external_labels"]
              for name in ("prometheus-cluster.yml", "prometheus-global.yml")}
    assert "cluster" in labels["prometheus-cluster.yml"] and "cluster" not in labels["prometheus-global.yml"]
    amtool = shutil.which("amtool")
    if amtool:
        run = subprocess.run([amtool, "check-config", str(FEDERATION / "alertmanager.yml")], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
