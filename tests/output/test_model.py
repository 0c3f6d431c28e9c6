"""The report model: graceful with older documents, capped for print, trends from plain data."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson

from auditor.analyse.scan import ScanResult
from auditor.load.rules import load_catalog
from auditor.output.document import build_document
from auditor.output.report import charts
from auditor.output.report.build import BuildOptions, build_report
from auditor.output.report.history import History, day_outcome, trend_from_summaries
from auditor.output.report.html import render_html
from auditor.output.report.junit import junit_xml
from auditor.output.report.markdown import md, render_markdown
from auditor.output.report.model import PRINT
from auditor.output.report.source import SourceDocument


def report_of(doc: dict[str, Any], **options: Any) -> Any:
    source = SourceDocument(doc, orjson.dumps(doc))
    return build_report(source, BuildOptions(rules=load_catalog(), document_sha256="ab" * 32,
                                             document_name="scan.json", **options))


def test_a_plain_scan_document_renders_and_says_what_is_missing(demo_result: ScanResult) -> None:
    doc = build_document(demo_result)
    for key in ("compliance", "credentials", "exceptions", "schedules", "storage_locations", "results"):
        doc.pop(key, None)
    r = report_of(doc)
    html = render_html(r, {})
    assert "Compliance scores: not evaluated" in html
    assert html.count("Not in the scan document") == 2  # schedules, storage locations
    assert html.count("Not evaluated: the scan document carries no") == 2  # credentials, exceptions
    assert r.frameworks == () or not any(f.evaluated for f in r.frameworks)
    assert "not recorded" in junit_xml(doc, {}).decode()
    assert render_markdown(r, {})


def test_an_empty_scan_renders() -> None:
    doc = {"schema_version": "1", "tool_version": "0.1.0", "as_of": "2026-11-20T12:00:00Z", "clusters": [],
           "volumes": [], "findings": [], "summary": {}}
    r = report_of(doc)
    assert r.summary.headline == "No cluster was scanned."
    assert "No cluster was scanned." in render_html(r, {}, pdf=True)


def synthetic(volumes: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema_version": "1", "tool_version": "0.1.0", "as_of": "2026-11-20T12:00:00Z",
                           "clusters": [{"name": "big", "complete": True, "gaps": [], "error": None}],
                           "findings": [], "summary": {}}
    doc["volumes"] = [{"cluster": "big", "namespace": f"ns-{i % 50}", "pvc": f"data-{i}", "pv": None,
                       "storage_class": None, "status": "unprotected", "audited": True, "last_success": None,
                       "methods": [], "covered_by": [], "policy": "default", "rpo_seconds": 86400.0,
                       "retention_seconds": 604800.0, "reasons": ["no enabled schedule includes it"],
                       "recovery_points": []} for i in range(volumes)]
    doc["findings"] = [{"rule_id": "COV-001", "severity": "high", "status": "open", "cluster": "big",
                        "kind": "PersistentVolumeClaim", "namespace": v["namespace"], "name": v["pvc"],
                        "message": "outside every schedule", "evidence": {}} for v in doc["volumes"]]
    return doc


def test_print_caps_long_tables_and_says_where_the_rest_is() -> None:
    r = report_of(synthetic(PRINT.volumes + 40))
    files = {"html": "r.html", "csv-volumes": "r-volumes.csv", "csv-findings": "r-findings.csv"}
    printed = render_html(r, files, pdf=True)
    full = render_html(r, files)
    assert printed.count("<td>data-") == PRINT.volumes  # the appendix's PVC column
    assert "… and 40 more volumes" in printed
    assert f"… and {PRINT.volumes + 40 - (PRINT.findings_per_rule or 0):,} more COV-001 subjects" in printed
    assert "The full lists are in r.html, r-volumes.csv, r-findings.csv." in printed
    assert full.count("<td>data-") == PRINT.volumes + 40
    assert "more volumes" not in full


def test_history_gives_a_trend_and_the_scan_is_its_last_point(demo_result: ScanResult) -> None:
    doc = build_document(demo_result)
    as_of = demo_result.as_of
    trend = tuple((as_of.date() - timedelta(days=d), 0.5 + d / 100) for d in range(10, 0, -1))
    r = report_of(doc, history=History(trend=trend))
    assert r.trend[-1] == (as_of.date(), doc["summary"]["protected_ratio"])
    assert len(r.trend) == 11
    assert r.charts.trend is not None and "<polyline" in r.charts.trend
    assert "Trend (last 30 days)" in render_html(r, {})


def test_trend_from_the_store_takes_each_days_newest_scan() -> None:
    as_of = datetime(2026, 11, 20, 12, tzinfo=UTC)

    def summary(hours_ago: float, protected: int, audited: int = 10, error: str | None = None) -> Any:
        return SimpleNamespace(as_of=as_of - timedelta(hours=hours_ago), volumes_protected=protected,
                               volumes_audited=audited, error=error)

    class Store:
        def history(self, cluster: str | None = None, limit: int = 50) -> list[Any]:
            return {"a": [summary(50, 1), summary(49, 2), summary(30, 3, error="down"), summary(1, 5),
                          summary(24 * 40, 9)],
                    "b": [summary(1, 10)]}[cluster or ""]

    trend = trend_from_summaries(Store(), ["a", "b"], as_of)
    assert trend == ((date(2026, 11, 18), 0.2), (date(2026, 11, 20), 0.75))


def test_schedule_days_and_outcomes(demo_result: ScanResult) -> None:
    assert day_outcome(["Failed", "Completed"]) == "ok"
    assert day_outcome(["PartiallyFailed", "Failed"]) == "partial"
    assert day_outcome(["FailedValidation"]) == "failed"
    assert day_outcome(["InProgress"]) == "running"
    r = report_of(build_document(demo_result) | {"schedules": [{
        "cluster": "c", "namespace": "velero", "name": "nightly", "cron": "0 1 * * *", "enabled": True,
        "paused": False, "missed_runs": 0, "latest": {"phase": "Failed", "time": "2026-11-20T01:00:00Z"},
        "last_success": {"phase": "Completed", "time": "2026-11-19T01:00:00Z"},
        "runs": [{"time": "2026-11-20T01:00:00Z", "phase": "Failed"},
                 {"time": "2026-11-19T01:00:00Z", "phase": "Completed"}]}]})
    (s,) = r.schedules
    assert s.health == "failing" and s.success_rate == 0.5
    assert s.days == {date(2026, 11, 20): "failed", date(2026, 11, 19): "ok"}
    assert r.charts.heatmap is not None and r.days[-1] == r.meta.as_of.date() and len(r.days) == 30


def test_charts_escape_labels_and_are_valid_svg() -> None:
    hostile = '<script>alert(1)</script>"&'
    day = date(2026, 11, 20)
    svgs = [charts.donut([(hostile, 3, "#000"), ("b", 0, "#111")], hostile, hostile),
            charts.donut([("a", 0, "#000")], "n/a", "empty"),
            charts.stacked_bars([(hostile, {"protected": 2, "stale": 1})], {"protected": "#0f0", "stale": "#ff0"},
                                hostile),
            charts.columns([(hostile, 4, "#000"), ("b", 0, "#111")], hostile, marker_after=0, marker_label="RPO"),
            charts.trend_line([(day - timedelta(days=1), 0.4), (day, 0.6)], hostile, target=1.0),
            charts.heatmap([(hostile, {day: "ok"})], [day - timedelta(days=1), day], hostile)]
    for svg in svgs:
        assert "<script" not in svg
        ET.fromstring(str(svg))  # well-formed XML
    assert "&lt;script&gt;" in svgs[0]


def test_markdown_escape() -> None:
    assert md("[x](http://evil) <img src=x> *a* |") == r"\[x\]\(http://evil\) &lt;img src=x&gt; \*a\* \|"
    assert md("line\nbreak") == "line break"


def test_framework_focus(demo_result: ScanResult) -> None:
    doc = copy.deepcopy(build_document(demo_result))
    r = report_of(doc, focus=("dora",))
    assert {f.framework for f in r.frameworks} == {"dora"}


def test_framework_summary_scores(demo_result: ScanResult) -> None:
    doc = build_document(demo_result)
    fleet = report_of(doc)
    rollup = {r["framework"]: r["score"] for r in doc["compliance_rollup"]}
    assert {f.framework: f.score for f in fleet.summary.frameworks} == rollup
    assert all("demo-prod" in f.by_cluster and "demo-staging" in f.by_cluster for f in fleet.summary.frameworks)
    one = report_of(doc | {"compliance": [c for c in doc["compliance"] if c["cluster"] == "demo-prod"]})
    assert {f.framework: f.score for f in one.summary.frameworks} == {
        c["framework"]: c["score"] for c in doc["compliance"] if c["cluster"] == "demo-prod"}


def test_executor_runs_are_evidence_in_the_report(demo_result: ScanResult) -> None:
    doc = build_document(demo_result)
    assert doc["executor_runs"] == [], "no store, no runs"
    assert "None recorded: the auditor" in render_html(report_of(doc), {})
    doc["executor_runs"] = [
        {"cluster": "demo-prod", "kind": "Restore", "namespace": "velero", "target": "daily-apps",
         "object": "daily-apps-drill-<b>x</b>", "status": "succeeded", "started_at": "2026-11-20T10:00:00+00:00",
         "finished_at": "2026-11-20T10:04:10+00:00", "duration_seconds": 250.0, "outcome": "Completed"},
        {"cluster": "demo-prod", "kind": "Backup", "namespace": "velero", "target": "daily-apps",
         "object": "daily-apps-20261120090000", "status": "failed", "started_at": "2026-11-20T09:00:00+00:00",
         "finished_at": None, "duration_seconds": None, "outcome": "Backup velero/x is still InProgress after 3 s"},
    ]
    r = report_of(doc)
    assert r.runs is not None and [x.status for x in r.runs] == ["succeeded", "failed"]
    html = render_html(r, {})
    start = html.index("restore drills run by the auditor")
    section = html[start:html.index("</section>", start)]
    assert "velero/daily-apps-drill-&lt;b&gt;x&lt;/b&gt;" in section and "<b>x</b>" not in section
    assert "4m10s" in section and "still InProgress after 3 s" in section
    del doc["executor_runs"]
    assert "executor runs come from the history store" in render_html(report_of(doc), {})


def test_a_saved_scan_document_carries_schedules_and_storage(demo_result: ScanResult) -> None:
    """`auditor report --from-scan` of an `auditor scan -o json` file shows every section a live report shows."""
    doc = orjson.loads(orjson.dumps(build_document(demo_result)))  # as saved and read back
    assert {s["name"] for s in doc["schedules"]} >= {"daily-apps", "media-csi"}
    assert any(s["kind"] == "BackupStorageLocation" for s in doc["storage_locations"])
    html = render_html(report_of(doc), {})
    assert "Not in the scan document" not in html
