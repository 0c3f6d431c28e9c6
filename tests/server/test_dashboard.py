"""The Grafana dashboard, offline: importable shape, variables, the panels the issue asks for, known metrics.
(That every panel query returns data from a real Prometheus is tests/server/test_prometheus.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD: dict[str, Any] = json.loads((ROOT / "deploy/grafana/backup-auditor.json").read_text())
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]


def test_variables() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert list(variables) == ["datasource", "cluster", "namespace"]
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("cluster", "namespace"):
        var = variables[name]
        assert var["type"] == "query" and var["datasource"] == DATASOURCE
        assert var["includeAll"] and var["multi"] and var["allValue"] == ".*"
        assert "label_values(backup_auditor_" in var["query"]["query"] and f", {name})" in var["query"]["query"]
    assert '{cluster=~"$cluster"}' in variables["namespace"]["query"]["query"]


def test_every_panel_uses_the_datasource_variable_and_filters_by_cluster() -> None:
    assert DASHBOARD["uid"] and DASHBOARD["title"] and "id" not in DASHBOARD
    for panel in PANELS:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE
            if "build_info" not in target["expr"]:
                assert 'cluster=~"$cluster"' in target["expr"], (panel["title"], target["expr"])
            if re.search(r"backup_auditor_(volumes|volume_|namespace_)", target["expr"]):
                assert 'namespace=~"$namespace"' in target["expr"], (panel["title"], target["expr"])


def test_layout_is_valid() -> None:
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in DASHBOARD["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, panel["title"]
        cell = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cell & cells, f"{panel['title']} overlaps another panel"
        cells |= cell


def test_the_issue_s_panels_are_there() -> None:
    rows = [p["title"] for p in DASHBOARD["panels"] if p["type"] == "row"]
    assert rows == ["Coverage overview", "Unprotected and stale volumes", "RPO breaches", "Recovery point age",
                    "Schedules", "Storage locations and Velero", "Credentials", "Compliance", "etcd snapshots",
                    "Executor", "Scan health"]
    exprs = " ".join(t["expr"] for p in PANELS for t in p["targets"])
    for family in ("volumes", "volume_status", "volume_rpo_seconds", "volume_last_recovery_point_timestamp_seconds",
                   "namespace_oldest_last_recovery_point_timestamp_seconds", "schedule_last_success_timestamp_seconds",
                   "schedule_last_backup_phase", "storage_location_available",
                   "credential_last_rotated_timestamp_seconds", "compliance_score_ratio",
                   "compliance_coverage_ratio", "scan_timestamp_seconds", "scan_complete", "scan_success",
                   "etcd_snapshot_age_seconds", "etcd_snapshot_rpo_seconds", "etcd_self_managed", "leader",
                   "executor_runs_total", "executor_run_duration_seconds_sum",
                   "executor_job_last_run_timestamp_seconds"):
        assert f"backup_auditor_{family}" in exprs, family


def test_queries_use_documented_metrics_only() -> None:
    docs = (ROOT / "docs/metrics.md").read_text()
    types = dict(re.findall(r"^\| `(backup_auditor_[a-z_]+)` \| (\w+) \|", docs, re.M))
    for panel in PANELS:
        for target in panel["targets"]:
            for metric in re.findall(r"\b(backup_auditor_[a-z_]+)\b", target["expr"]):
                family = re.sub(r"_(sum|count)$", "", metric)  # a summary's two series
                assert metric in types or types.get(family) == "summary", (panel["title"], metric)
