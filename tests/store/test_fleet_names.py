"""Two clusters claiming one name (different kube-system uids) are never merged: the fleet report, history and
diff show each as its name and the start of its uid; the fleet report's default lists are bounded per
cluster with a count of what they leave out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from auditor.cli import main
from auditor.output.report.fleet import PER_CLUSTER, FleetEntry, merge
from auditor.store import Store
from tests.store.scans import record
from tests.store.test_fleet import MIN, T0, agent_scan

AT = (T0 + 10 * MIN).strftime("%Y-%m-%dT%H:%M:%SZ")
UID_A, UID_B = "aaaaaaaa-1111-4000-8000-000000000001", "bbbbbbbb-2222-4000-8000-000000000002"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def two_prods(store_url: str, tmp: Path) -> None:
    """Two clusters named prod (uids A and B), two scans each; B's second scan lost its schedule."""
    with Store(store_url) as store:
        for minutes, b_schedule in ((0, True), (5, False)):
            record(store, agent_scan(tmp / f"a{minutes}", "prod", UID_A, T0 + minutes * MIN), interval=300)
            kw: dict[str, Any] = {} if b_schedule else {"schedule": None}
            record(store, agent_scan(tmp / f"b{minutes}", "prod", UID_B, T0 + minutes * MIN, **kw), interval=300)


def test_one_name_two_clusters_in_the_report_history_and_diff(store_url: str, tmp_path: Path) -> None:
    two_prods(store_url, tmp_path)
    shown = {"prod (aaaaaaaa)", "prod (bbbbbbbb)"}
    done = run("report", "--from-store", store_url, "--as-of", AT, "--format", "json,html", "--out",
               str(tmp_path / "out"))
    assert done.exit_code == 0, done.stderr
    [doc_path] = [Path(p) for p in done.stdout.split() if p.endswith(".json") and "manifest" not in p]
    doc = json.loads(doc_path.read_text())
    assert {r["cluster"] for r in doc["fleet"]["clusters"]} == shown
    assert {(r["name"], r["uid"]) for r in doc["fleet"]["clusters"]} == {("prod", UID_A), ("prod", UID_B)}
    assert {c["name"] for c in doc["clusters"]} == shown
    assert {p["cluster"] for p in doc["summary"]["per_cluster"]} == shown
    assert {v["cluster"] for v in doc["volumes"]} == {"prod (bbbbbbbb)"}, "only B's volume is unprotected"
    html = doc_path.with_suffix(".html").read_text()
    assert all(name in html for name in shown)

    rows = json.loads(run("history", "--store", store_url, "-o", "json").stdout)["scans"]
    assert sorted((r["cluster"], r["uid"]) for r in rows) == sorted([("prod", UID_A), ("prod", UID_B)] * 2)
    table = run("history", "--store", store_url).stdout
    assert "prod (aaaaaaaa)" in table and "prod (bbbbbbbb)" in table

    diffs = json.loads(run("diff", "--store", store_url, "-o", "json").stdout)["clusters"]
    assert sorted((d["cluster"], d["uid"]) for d in diffs) == [("prod", UID_A), ("prod", UID_B)]
    changed = {d["uid"]: [v["after"] for v in d["volumes"]] for d in diffs}
    assert changed == {UID_A: [], UID_B: ["unprotected"]}, "each compared with its own previous scan"
    text = run("diff", "--store", store_url).stdout
    assert "cluster prod (aaaaaaaa):" in text and "cluster prod (bbbbbbbb):" in text

    fleet = json.loads(run("fleet", "--store", store_url, "--as-of", AT, "-o", "json").stdout)
    claims = sorted((f["rule_id"], f["evidence"]["uid"]) for f in fleet["findings"] if f["rule_id"] == "GOV-007")
    assert claims == [("GOV-007", UID_A), ("GOV-007", UID_B)]


def entry(name: str) -> FleetEntry:
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    return FleetEntry(cluster=name, uid=f"uid-{name}", scan_id=1, as_of=at, at=at, silent_after=7200.0, error=None)


def part(name: str) -> dict[str, Any]:
    """A cluster with 30 stale and 30 unprotected volumes, 50 high and 5 low findings, 8 failing schedules."""
    volumes = [{"cluster": name, "namespace": f"ns-{i}", "pvc": "data", "status": status, "audited": True}
               for i, status in enumerate(["stale"] * 30 + ["unprotected"] * 30 + ["protected"] * 10)]
    findings = [{"cluster": name, "rule_id": "COV-001", "severity": "high", "status": "open", "name": f"v{i}"}
                for i in range(50)] + [{"cluster": name, "rule_id": "BSL-001", "severity": "low", "status": "open"}] * 5
    schedules = [{"cluster": name, "name": f"s{i}", "enabled": True, "missed_runs": i, "latest": {"phase": "Failed"}}
                 for i in range(8)]
    return {"clusters": [{"name": name, "complete": True}], "volumes": volumes, "findings": findings,
            "schedules": schedules,
            "per_cluster": {"cluster": name, "complete": True, "error": None,
                            "volumes_by_status": {"protected": 10, "stale": 30, "unprotected": 30, "unknown": 0},
                            "findings_by_severity": {"critical": 0, "high": 50, "medium": 0, "low": 5, "info": 0},
                            "compliance": {}}}


def test_the_summary_lists_the_worst_of_each_cluster_and_counts_the_rest() -> None:
    at = datetime(2026, 11, 20, 13, tzinfo=UTC)
    doc = merge([(entry("a"), part("a")), (entry("b"), part("b"))], at=at)
    for name in ("a", "b"):
        volumes = [v for v in doc["volumes"] if v["cluster"] == name]
        assert len(volumes) == PER_CLUSTER["volumes"] and {v["status"] for v in volumes} == {"unprotected"}, \
            "the worst first: unprotected before stale"
        assert [v["namespace"] for v in volumes] == sorted((v["namespace"] for v in volumes),
                                                           key=lambda n: int(n.split("-")[1])), "document order"
        schedules = [s["name"] for s in doc["schedules"] if s["cluster"] == name]
        assert schedules == ["s3", "s4", "s5", "s6", "s7"], "the most missed runs"
        assert len([f for f in doc["findings"] if f["cluster"] == name]) == PER_CLUSTER["findings"]
    rows = {r["cluster"]: r for r in doc["fleet"]["clusters"]}
    assert rows["a"]["omitted"] == {"volumes": 40, "findings": 30, "schedules": 3}
    assert doc["fleet"]["omitted"] == {"volumes": 80, "findings": 60, "schedules": 6}
    assert doc["fleet"]["per_cluster_limit"] == PER_CLUSTER
    assert doc["summary"]["volumes_by_status"] == {"protected": 20, "stale": 60, "unprotected": 60, "unknown": 0}
    assert doc["summary"]["findings_by_severity"]["high"] == 100, "counts cover everything"
    attention = merge([(entry("a"), part("a"))], at=at, detail="attention")
    assert len(attention["volumes"]) == 60 and len(attention["findings"]) == 50 and len(attention["schedules"]) == 8
    assert attention["fleet"]["omitted"] == {} and attention["fleet"]["per_cluster_limit"] is None
    everything = merge([(entry("a"), part("a"))], at=at, detail="all")
    assert len(everything["volumes"]) == 70 and len(everything["findings"]) == 55


def test_the_report_says_what_its_lists_leave_out() -> None:
    from auditor.load.rules import load_catalog
    from auditor.output.report.build import BuildOptions, build_report
    from auditor.output.report.html import render_html
    from auditor.output.report.source import SourceDocument

    doc = merge([(entry("a"), part("a")), (entry("b"), part("b"))], at=datetime(2026, 11, 20, 13, tzinfo=UTC))
    report = build_report(SourceDocument(doc, b"{}"), BuildOptions(rules=load_catalog()))
    assert "at most 20 volumes, 20 findings, 5 schedules" in report.fleet_lists
    assert "Left out of the lists: 80 volumes, 60 findings, 6 schedules" in report.fleet_lists
    assert {r.cluster: r.omitted for r in report.fleet} == {"a": "40 volumes, 30 findings, 3 schedules",
                                                            "b": "40 volumes, 30 findings, 3 schedules"}
    html = render_html(report)
    assert "left out of the lists: 40 volumes, 30 findings, 3 schedules" in html
    assert "Left out of the lists: 80 volumes" in html
