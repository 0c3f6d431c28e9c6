"""A fleet report judges GOV-006 (silent agent) and GOV-007 (one name, two uids) once, from the store's
identities at its as-of time: every agent's stored scan carries them about the other clusters, and taken from
the scans one silent agent would be listed and counted once per observing cluster."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auditor.cli import main
from auditor.output.report.csv_files import unneutralize
from auditor.store import Store
from tests import factories as f
from tests.output.test_formats import validate_sarif
from tests.store.scans import backup, cluster, record, scan
from tests.store.test_fleet import T0, agent_scan

HOUR = timedelta(hours=1)
SILENCE = "the agent of cluster c has recorded no scan"
RISK = "1 cluster: Auditor agent silent (GOV-006)"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def objects() -> list[Any]:
    return cluster(schedule=f.schedule("daily"), backups=[backup("daily-1", hours_ago=1)])


def written(result: Result) -> dict[str, Path]:
    assert result.exit_code == 0, result.stderr
    paths = [Path(p) for p in result.stdout.split()]
    return {p.suffix.lstrip("."): p for p in paths if not p.name.endswith((".manifest.json", ".sha256"))}


@pytest.fixture
def fleet(sqlite_url: str, tmp_path: Path) -> str:
    """a, b and c recorded by `scan --store` (silent after 2 h); c once at T0, a and b every hour until T0+3h:
    the newest scans of a and b each judge c silent (GOV-006)."""
    scan(sqlite_url, objects(), T0, tmp_path, name="c")
    for hour in (1, 2, 3):
        for name in ("a", "b"):
            scan(sqlite_url, objects(), T0 + hour * HOUR, tmp_path, name=name)
    return sqlite_url


def test_the_store_scans_each_carry_the_silent_agent(fleet: str) -> None:
    """The defect's cause, and what single scans keep: each observer's scan has its own GOV-006 on c."""
    with Store(fleet, create=False) as store:
        newest = {s.cluster: s.scan_id for s in store.latest_scans()}
        for name in ("a", "b"):
            found = [x for x in store.document(newest[name])["findings"] if x["rule_id"] == "GOV-006"]
            assert [(x["cluster"], x["name"]) for x in found] == [(name, "c")]


def test_one_silent_agent_is_one_finding_counted_once(fleet: str, tmp_path: Path) -> None:
    at = (T0 + 3 * HOUR + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    files = written(run("report", "--from-store", fleet, "--as-of", at, "--format", "json,html,pdf,md",
                        "--out", str(tmp_path / "out")))
    text = files["json"].read_text()
    doc = json.loads(text)
    assert text.count('"rule_id": "GOV-006"') == 1, "one GOV-006 finding in the whole document"
    [silent] = doc["fleet"]["findings"]
    assert (silent["rule_id"], silent["cluster"], silent["name"], silent["status"]) == ("GOV-006", "c", "c", "open")
    assert silent["evidence"]["age_seconds"] == 3 * 3600 + 60
    assert not [x for x in doc["findings"] if x["rule_id"] in ("GOV-006", "GOV-007")], "not per cluster"
    rows = {p["cluster"]: p["findings_by_severity"] for p in doc["summary"]["per_cluster"]}
    assert rows["a"] == rows["b"] == rows["c"], "a and b carry no finding about c"
    summary = doc["summary"]
    assert summary["fleet_findings"] == 1
    assert summary["findings_by_severity"]["high"] == 3 * rows["a"]["high"] + 1, "counted once"
    assert summary["findings"] == 3 * sum(rows["a"].values()) + 1

    html = files["html"].read_text()
    fleet_section = html[html.index('id="fleet"'):html.index("</section>", html.index('id="fleet"'))]
    assert fleet_section.count(SILENCE) == 1 and fleet_section.count('class="fleet-finding"') == 1
    assert html.count(RISK) == 1, "one risk of one cluster in the summary"
    assert html.count(SILENCE) == 2, "the fleet section and the risk's example, nowhere per cluster"
    md = files["md"].read_text()
    assert md.count("has recorded no scan") == 2 and md.count("**GOV\\-006**") == 1, "fleet list and risk"
    if shutil.which("pdftotext"):
        pdf = " ".join(subprocess.run(["pdftotext", str(files["pdf"]), "-"], capture_output=True, text=True,
                                      check=True).stdout.split())
        assert pdf.count(SILENCE) == 2 and pdf.count(RISK) == 1 and "Fleet findings" in pdf


def test_csv_sarif_and_junit_hold_the_fleet_finding_once(fleet: str, tmp_path: Path) -> None:
    """The files read from the document's findings agree with the JSON: the silent agent once, on cluster c."""
    at = (T0 + 3 * HOUR + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run("report", "--from-store", fleet, "--as-of", at, "--format", "json,csv,sarif,junit",
                 "--out", str(tmp_path / "out"))
    files = written(result)
    doc = json.loads(files["json"].read_text())
    own = len(doc["findings"])
    [silent] = doc["fleet"]["findings"]

    [findings_csv] = [Path(p) for p in result.stdout.split() if p.endswith("-findings.csv")]
    rows = list(csv.DictReader(io.StringIO(findings_csv.read_text(), newline="")))
    found = [r for r in rows if r["rule_id"] == "GOV-006"]
    assert [(r["cluster"], r["kind"], r["name"], r["status"]) for r in found] == [("c", "Cluster", "c", "open")]
    assert unneutralize(found[0]["message"]) == silent["message"] and len(rows) == own + 1

    log = json.loads(files["sarif"].read_text())
    validate_sarif(log)
    results = log["runs"][0]["results"]
    hits = [r for r in results if r["ruleId"] == "GOV-006"]
    assert len(hits) == 1 and hits[0]["message"]["text"] == silent["message"]
    assert hits[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "c/-/Cluster/c"
    rules = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    assert hits[0]["ruleIndex"] == rules.index("GOV-006")
    assert len(results) == sum(1 for f in doc["findings"] if f["status"] in ("open", "excepted")) + 1

    root = ET.fromstring(files["xml"].read_bytes())
    [suite] = [s for s in root if (s.get("name") or "").startswith("GOV-006")]
    assert [c.get("name") for c in suite] == ["c/-/Cluster/c"] and suite.get("failures") == "1"
    assert [f.get("message") for f in suite.iter("failure")] == [silent["message"]]


def test_narrowed_to_observers_the_silent_agent_is_not_judged(fleet: str, tmp_path: Path) -> None:
    at = (T0 + 3 * HOUR + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    files = written(run("report", "--from-store", fleet, "--as-of", at, "--cluster", "a", "--cluster", "b",
                        "--format", "json", "--out", str(tmp_path / "out")))
    doc = json.loads(files["json"].read_text())
    assert doc["fleet"]["findings"] == [] and '"rule_id": "GOV-006"' not in files["json"].read_text()


def test_one_name_two_uids_is_one_finding_per_cluster(sqlite_url: str, tmp_path: Path) -> None:
    """Two agents claiming prod: the report judges GOV-007 from the store's identities, one finding per claimant,
    under the name the report shows it by."""
    with Store(sqlite_url) as store:
        for minutes in (0, 5):
            for uid in ("aaaaaaaa-1", "bbbbbbbb-2"):
                at = T0 + timedelta(minutes=minutes)
                record(store, agent_scan(tmp_path / f"{uid}{minutes}", "prod", uid, at), interval=300)
    at = (T0 + timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    files = written(run("report", "--from-store", sqlite_url, "--as-of", at, "--format", "json",
                        "--out", str(tmp_path / "out")))
    doc = json.loads(files["json"].read_text())
    claims = [(x["rule_id"], x["cluster"], x["evidence"]["uid"]) for x in doc["fleet"]["findings"]]
    assert claims == [("GOV-007", "prod (aaaaaaaa)", "aaaaaaaa-1"), ("GOV-007", "prod (bbbbbbbb)", "bbbbbbbb-2")]
    assert not [x for x in doc["findings"] if x["rule_id"] == "GOV-007"]


def test_per_cluster_scores_leave_the_fleet_rules_to_the_fleet(fleet: str, tmp_path: Path) -> None:
    """Each cluster's framework scores, controls and rollup checks in a fleet report are its scan's without
    GOV-006/007. a's newest scan judged b's agent (a pass) and c's (silent: a failure) in every framework that
    maps GOV-006, and GOV-007 could not be evaluated (no kube-system uid): its scores leave out that pass and
    that failure. c, recorded first, judged no other agent: its scores are those of the same objects scanned
    without a store. Taken from the stored scans as before, a's and b's scores counted the check about c."""
    at = T0 + 3 * HOUR + timedelta(minutes=1)
    alone = {fw.framework: fw for fw in scan(None, objects(), T0, tmp_path, name="alone").clusters[0].compliance}
    with Store(fleet, create=False) as store:
        newest = {s.cluster: s.scan_id for s in store.latest_scans()}
        stored = store.document(newest["a"])
    assert [(x["rule_id"], x["name"]) for x in stored["findings"] if x["rule_id"].startswith("GOV-00")
            and x["rule_id"] in ("GOV-006", "GOV-007")] == [("GOV-006", "c")]
    expected: dict[str, float | None] = {}
    for total in stored["compliance_rollup"]:  # a scan of one cluster: its exact distinct checks
        [entry] = [e for e in stored["compliance"] if e["framework"] == total["framework"]]
        judged = any("GOV-006" in c["rules"] for c in entry["controls"])
        passed, failed = total["passed"] - judged, total["failed"] - judged
        expected[total["framework"]] = round(passed / (passed + failed), 4)
        assert not judged or total["score"] != expected[total["framework"]], "the stored score counts them"
    assert any(total["score"] != expected[total["framework"]] for total in stored["compliance_rollup"])

    files = written(run("report", "--from-store", fleet, "--as-of", at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "--format", "json", "--out", str(tmp_path / "out")))
    doc = json.loads(files["json"].read_text())
    rows = {p["cluster"]: p["compliance"] for p in doc["summary"]["per_cluster"]}
    assert rows["a"] == rows["b"] == expected
    assert rows["c"] == {fw: s.score for fw, s in alone.items()}
    for entry in doc["compliance"]:
        assert "without_fleet_rules" not in entry
        assert entry["score"] == rows[entry["cluster"]][entry["framework"]]
        if entry["cluster"] == "c":
            want = alone[entry["framework"]]
            assert entry["coverage"] == want.coverage
            assert [(c["id"], c["passed"], c["failed"]) for c in entry["controls"]] == \
                [(c.control_id, c.passed, c.failed) for c in want.controls]
        assert not [c for c in entry["controls"] if c["status"] == "fail" and c["failed"] == 0]
    for total in doc["compliance_rollup"]:
        assert total["clusters"] == {"a": expected[total["framework"]], "b": expected[total["framework"]],
                                     "c": alone[total["framework"]].score}
