"""``auditor report --from-store``: the report set from each cluster's newest scan in a real PostgreSQL hub,
with the fleet rollup, per-cluster sections, trends and old scans marked; one-line errors for a store that
cannot be read (exit 1, naming the host, never the password) and an unknown cluster (exit 2)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditor.cli import main
from auditor.store import Store
from tests import factories as f
from tests.store.postgres import PostgresServer
from tests.store.scans import DAY, cluster, record, scan

T0 = datetime(2026, 11, 18, 12, tzinfo=UTC)
AT = (T0 + DAY + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")  # eu-1 and us-1 scanned an hour before


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def hub(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """eu-1 and us-1 scanned on two days (protected); ap-1 once, three days before, without a schedule."""
    url = postgres.create_database()
    tmp = tmp_path_factory.mktemp("hub")
    scan(url, cluster(schedule=None, backups=[]), T0 - 2 * DAY, tmp, name="ap-1")
    for day in (0, 1):
        for name in ("eu-1", "us-1"):
            last = scan(url, cluster(schedule=f.schedule("daily")), T0 + day * DAY, tmp, name=name)
    [us] = last.clusters  # then an attempt on us-1 that could not read it: the report keeps the scan before
    failed = replace(last, as_of=T0 + DAY + timedelta(minutes=30),
                     clusters=(replace(us, analysis=None, results=(), error="connection refused"),))
    with Store(url) as store:
        record(store, failed)
    return url


def files(result: Result) -> dict[str, Path]:
    assert result.exit_code == 0, result.stderr
    out = {}
    for line in result.stdout.splitlines():
        path = Path(line)
        key = "sha256" if path.name.endswith(".sha256") else "manifest" if path.name.endswith(".manifest.json") \
            else path.suffix.lstrip(".")
        out[key] = path
    return out


def test_the_fleet_report_from_the_store(hub: str, tmp_path: Path) -> None:
    done = run("report", "--from-store", hub, "--as-of", AT, "--format", "html,pdf,json,md,csv", "--out",
               str(tmp_path))
    written = files(done)
    assert {"html", "pdf", "json", "md", "csv", "manifest"} <= set(written)
    doc = json.loads(written["json"].read_text())
    rows = {r["cluster"]: r for r in doc["fleet"]["clusters"]}
    assert sorted(rows) == ["ap-1", "eu-1", "us-1"]
    assert [c["name"] for c in doc["clusters"]] == ["ap-1", "eu-1", "us-1"]
    assert rows["eu-1"]["as_of"] == "2026-11-19T12:00:00Z" and rows["eu-1"]["age_seconds"] == 3600
    assert not rows["eu-1"]["stale"] and not rows["us-1"]["stale"]
    assert rows["ap-1"]["stale"] and rows["ap-1"]["age_seconds"] == 3 * 86400 + 3600
    assert len(rows["eu-1"]["trend"]) == 2, "each cluster's trend comes from its history"
    assert rows["us-1"]["newest_attempt_error"] == "connection refused"
    assert rows["us-1"]["as_of"] == "2026-11-19T12:00:00Z", "the newest scan that read it"
    summary = doc["summary"]
    assert summary["clusters"] == 3 and summary["volumes_audited"] == 3
    assert summary["volumes_by_status"]["unprotected"] == 1, "ap-1's volume, from its newest scan"
    assert {v["cluster"] for v in doc["volumes"]} == {"ap-1"}, "the lists keep what needs attention"
    assert {x["severity"] for x in doc["findings"]} <= {"critical", "high"}
    assert "ap-1" in {x["cluster"] for x in doc["findings"]}
    assert sum(summary["findings_by_severity"].values()) >= len(doc["findings"])
    assert {r["framework"] for r in doc["compliance_rollup"]} and all(
        set(r["clusters"]) == {"ap-1", "eu-1", "us-1"} for r in doc["compliance_rollup"])

    html = written["html"].read_text()
    assert "Fleet backup compliance report" in html and 'id="fleet"' in html
    fleet = html[html.index('id="fleet"'):html.index("</section>", html.index('id="fleet"'))]
    assert all(name in fleet for name in ("ap-1", "eu-1", "us-1"))
    assert fleet.count('class="badge s-old"') == 1 and "3d1h" in fleet.replace(" ", "")
    assert "Audited volumes within RPO, per day" in html, "the fleet trend from the store"
    assert "newest attempt failed: connection refused" in fleet
    assert 'id="scope"' in html and html.count("scan of 2026-11-19 12:00 UTC") == 2
    md = written["md"].read_text()
    assert "### Fleet: each cluster's newest scan" in md and "| ap\\-1 |" in md and "**old**" in md
    assert written["pdf"].read_bytes().startswith(b"%PDF")


def test_cluster_narrows_and_detail_all_lists_everything(hub: str, tmp_path: Path) -> None:
    done = run("report", "--from-store", hub, "--as-of", AT, "--cluster", "us-1", "--cluster", "eu-1",
               "--fleet-detail", "all", "--format", "json,html", "--out", str(tmp_path))
    doc = json.loads(files(done)["json"].read_text())
    assert [r["cluster"] for r in doc["fleet"]["clusters"]] == ["us-1", "eu-1"]
    assert {v["cluster"] for v in doc["volumes"]} == {"eu-1", "us-1"} and len(doc["volumes"]) == 2
    assert doc["summary"]["volumes_by_status"]["protected"] == 2
    assert doc["fleet"]["listed"] is None
    html = files(done)["html"].read_text()
    fleet = html[html.index('id="fleet"'):html.index("</section>", html.index('id="fleet"'))]
    assert "ap-1" not in fleet, "ap-1 is no cluster of this report (eu-1's scan may still find its agent silent)"


def test_fail_on_reads_the_whole_counts(hub: str, tmp_path: Path) -> None:
    done = run("report", "--from-store", hub, "--as-of", AT, "--format", "json", "--fail-on", "high",
               "--out", str(tmp_path))
    assert done.exit_code == 3, done.stderr
    clean = run("report", "--from-store", hub, "--as-of", AT, "--cluster", "eu-1", "--format", "json",
                "--fail-on", "critical", "--out", str(tmp_path))
    assert clean.exit_code == 0, clean.stderr


def test_an_unknown_cluster_is_exit_2(hub: str, tmp_path: Path) -> None:
    done = run("report", "--from-store", hub, "--cluster", "eu-1", "--cluster", "mars-9", "--out", str(tmp_path))
    assert done.exit_code == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "no cluster mars-9" in done.stderr and "known: ap-1, eu-1, us-1" in done.stderr
    assert not list(tmp_path.iterdir()), "nothing written"


def test_an_unreachable_store_is_exit_1_naming_the_host(tmp_path: Path) -> None:
    done = run("report", "--from-store", "postgresql://auditor:sekret-pw@127.0.0.1:1/hub", "--out", str(tmp_path),
               env={"AUDITOR_STORE_RETRY_SECONDS": "0"})
    assert done.exit_code == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "127.0.0.1" in done.stderr and "sekret-pw" not in done.stderr
    missing = run("report", "--from-store", str(tmp_path / "none.db"), "--out", str(tmp_path))
    assert missing.exit_code == 1 and "no history store at" in missing.stderr


def test_from_store_reads_no_cluster(hub: str, tmp_path: Path) -> None:
    done = run("report", "--from-store", hub, "--demo", "--out", str(tmp_path))
    assert done.exit_code == 2 and "--from-store reads no cluster: it excludes --demo" in done.stderr
