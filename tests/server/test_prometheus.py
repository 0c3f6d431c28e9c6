"""Against the real thing: Debian's Prometheus scrapes ``auditor serve`` watching the API test server seeded
with the demo cluster (judged now, so its November data is old; an old etcd snapshot, a scheduled job that
fails), and a second ``auditor serve`` over two broken clusters (no etcd snapshot, a Lease it may not take,
executor runs in its store); Debian's Alertmanager delivers to a webhook on loopback."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import yaml

from .conftest import STACK_TOKEN, Stack
from .stack import DASHBOARD, RULES, firing, http_get, prom_query, wait_until
from .test_rules import alert_table

VARIABLES = {"$cluster": ".*", "$namespace": ".*", "$__rate_interval": "1m", "${datasource}": "prometheus"}
METRIC = re.compile(r"\b(backup_auditor_[a-z_]+)\b")

#: Alerts the demo cluster raises when judged days after its data was written (Prometheus runs the
#: rules with every ``for`` at 0s).
FIRING_ON_DEMO = {
    "BackupAuditorVolumeRPOExceeded", "BackupAuditorVolumeUnprotected", "BackupAuditorScheduleFailing",
    "BackupAuditorSchedulePartiallyFailed", "BackupAuditorSchedulePaused", "BackupAuditorScheduleInvalid",
    "BackupAuditorScheduleMissedRuns", "BackupAuditorBackupStuck", "BackupAuditorStorageLocationUnavailable",
    "BackupAuditorNodeAgentDegraded", "BackupAuditorDefaultRepositoryPassword",
    "BackupAuditorCredentialNotRotated", "BackupAuditorComplianceScoreLow", "BackupAuditorEtcdSnapshotStale",
    "BackupAuditorExecutorJobFailing", "BackupAuditorPreflightNotReady",
}
#: What the second auditor adds: demo-broken (judged at the demo's own time, Velero down, Roles forbidden, its
#: etcd without a snapshot, the executor's Lease forbidden) and demo-gone (answers 401).
FIRING_ON_BROKEN = {
    "demo-broken": {"BackupAuditorVolumeProtectionUnknown", "BackupAuditorVeleroDown", "BackupAuditorScanIncomplete",
                    "BackupAuditorEtcdSnapshotMissing", "BackupAuditorExecutorNoLeader",
                    "BackupAuditorCriticalFinding"},  # SYS-001: Velero down
    "demo-gone": {"BackupAuditorClusterScanFailed"},
}
#: Need a hung or vanished auditor, or (GOV-002) a change between two recorded scans: promtool's unit tests
#: (deploy/prometheus/tests) make them fire.
QUIET = {"BackupAuditorScanStale", "BackupAuditorAbsent", "BackupAuditorProtectionWeakened",
         "BackupAuditorAgentSilent", "BackupAuditorStoreWritesPending", "BackupAuditorClusterNameClaimed"}


def panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            out.append((f"{panel['title']} / {target['refId']}", expr))
    return out


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def test_expectations_cover_every_alert() -> None:
    names = {r["alert"] for r in alert_rules()}
    broken = set().union(*FIRING_ON_BROKEN.values())
    assert FIRING_ON_DEMO | broken | QUIET == names
    assert not FIRING_ON_DEMO & broken
    assert not (FIRING_ON_DEMO | broken) & QUIET


def test_every_dashboard_panel_returns_data(stack: Stack) -> None:
    empty, errors = [], []
    for title, expr in panel_queries():
        answer = prom_query(stack.prometheus_url, expr)
        if answer["status"] != "success":
            errors.append(f"{title}: {answer.get('error')}")
        elif not answer["data"]["result"]:
            empty.append(title)
    assert not errors, errors
    assert not empty, f"panels without data: {empty}"


def test_every_alert_expression_parses_and_reads_existing_series(stack: Stack) -> None:
    for rule in alert_rules():
        answer = prom_query(stack.prometheus_url, rule["expr"])
        assert answer["status"] == "success", (rule["alert"], answer.get("error"))
        for metric in set(METRIC.findall(rule["expr"])):
            assert prom_query(stack.prometheus_url, metric)["data"]["result"], f"{rule['alert']}: no {metric}"
        has_data = bool(answer["data"]["result"])
        assert has_data == (rule["alert"] not in QUIET), (rule["alert"], answer["data"]["result"])


def test_prometheus_fires_exactly_the_expected_alerts(stack: Stack) -> None:
    expected = {"demo-prod": FIRING_ON_DEMO, **FIRING_ON_BROKEN}

    def by_cluster() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for alert in firing(stack.prometheus_url):
            out.setdefault(alert["labels"].get("cluster", ""), set()).add(alert["labels"]["alertname"])
        return out

    wait_until(lambda: all(by_cluster().get(c, set()) >= names for c, names in expected.items()), 20,
               what=f"alerts to fire: {expected} (firing: {by_cluster()})")
    seen = by_cluster()
    assert set(seen) == set(expected)  # every alert names its cluster
    assert seen["demo-prod"] == FIRING_ON_DEMO  # a healthy Velero, a readable cluster: nothing more
    assert seen["demo-gone"] == {"BackupAuditorClusterScanFailed"}
    assert not set().union(*seen.values()) & QUIET
    for alert in firing(stack.prometheus_url):
        assert alert["labels"]["severity"] in ("critical", "warning", "info")


def test_every_open_critical_finding_has_its_alert_firing(stack: Stack) -> None:
    """On the real Prometheus: for each cluster and critical rule with open findings, the alert docs/metrics.md
    names for the rule fires for that cluster (BackupAuditorCriticalFinding with the rule's label)."""
    table = alert_table()
    answer = prom_query(stack.prometheus_url,
                        'sum by (cluster, rule) (backup_auditor_findings{severity="critical", status="open"}) > 0')
    open_critical = {(r["metric"]["cluster"], r["metric"]["rule"]) for r in answer["data"]["result"]}
    assert ("demo-broken", "SYS-001") in open_critical  # Velero down
    assert {r for _, r in open_critical} >= {"CRD-001", "LOC-001", "SYS-001"}

    def missing() -> set[tuple[str, str]]:
        alerts = firing(stack.prometheus_url)
        out = set()
        for cluster, rule in open_critical:
            name = re.findall(r"\bBackupAuditor[A-Za-z]+\b", table[rule][1])[0]
            if not any(a["labels"]["alertname"] == name and a["labels"].get("cluster") == cluster
                       and a["labels"]["severity"] == "critical"
                       and a["labels"].get("rule", rule) == rule for a in alerts):
                out.add((cluster, rule))
        return out

    wait_until(lambda: not missing(), 20, what=f"alerts for every open critical finding (missing: {missing()})")


def test_failed_backup_reaches_the_webhook(stack: Stack) -> None:
    """Backup → Failed in the API server; the metric changes within 5 s; Prometheus fires; Alertmanager delivers."""
    schedule = "daily-apps"
    backups = [b for b in stack.kube.list_objects("velero.io", "v1", "backups", "velero")
               if b["metadata"].get("labels", {}).get("velero.io/schedule-name") == schedule]
    newest = max(backups, key=lambda b: b["metadata"]["creationTimestamp"])
    assert newest["status"]["phase"] == "Completed"
    series = f'backup_auditor_schedule_last_backup_phase{{cluster="demo-prod",namespace="velero",phase="Failed",' \
             f'schedule="{schedule}"}}'

    def metric() -> str:
        status, body = http_get(stack.auditor_url + "/metrics")
        assert status == 200
        line = next(x for x in body.decode().splitlines() if x.startswith(series))
        return line.rsplit(" ", 1)[1]

    def is_firing() -> bool:
        return any(a["labels"]["alertname"] == "BackupAuditorScheduleFailing"
                   and a["labels"].get("schedule") == schedule for a in firing(stack.prometheus_url))

    assert metric() == "0.0"
    assert not is_firing()
    failed = {**newest, "status": {**newest["status"], "phase": "Failed", "failureReason": "test: bucket gone"}}
    started = time.monotonic()
    stack.kube.put_object(failed)
    try:
        wait_until(lambda: metric() == "1.0", 5.0, 0.02, what="the metric to show the failed backup")
        latency = time.monotonic() - started
        wait_until(is_firing, 20, what="Prometheus to fire BackupAuditorScheduleFailing")
        delivered = wait_until(
            lambda: [a for a in stack.webhook.alerts()
                     if a["labels"].get("alertname") == "BackupAuditorScheduleFailing"
                     and a["labels"].get("schedule") == schedule and a["status"] == "firing"],
            20, what="Alertmanager to deliver the alert to the webhook")
        end_to_end = time.monotonic() - started
        alert = delivered[0]
        assert alert["labels"]["severity"] == "warning"
        assert alert["labels"]["cluster"] == "demo-prod"
        assert alert["annotations"]["description"] == (
            f"The newest finished backup of schedule velero/{schedule} on cluster demo-prod ended Failed.")
        assert alert["annotations"]["runbook_url"].endswith("/docs/runbooks/BackupAuditorScheduleFailing.md")
        print(f"failed backup → metric {latency:.2f}s, → webhook {end_to_end:.2f}s")
    finally:
        stack.kube.put_object(newest)
    wait_until(lambda: metric() == "0.0", 5.0, what="the metric to recover")


@pytest.mark.parametrize("path", ["/metrics", "/api/v1/scan", "/healthz", "/readyz"])
def test_endpoints_answer_while_prometheus_scrapes(stack: Stack, path: str) -> None:
    for base in (stack.auditor_url, stack.broken_url):
        status, body = http_get(base + path, headers={"Authorization": f"Bearer {STACK_TOKEN}"})
        assert status == 200 and body
    assert http_get(stack.auditor_url + "/api/v1/scan")[0] == 401, "the scan document needs the token"
