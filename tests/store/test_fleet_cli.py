"""``auditor fleet``: one row per cluster from a store agents write to; unreachable and too-new stores."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from auditor.store import Store
from auditor.store.migrate import head_revision
from tests.store.scans import record
from tests.store.test_concurrency import ROOT
from tests.store.test_fleet import MIN, T0, agent_scan


def auditor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fleet_lists_every_cluster_with_its_silence(store_url: str, tmp_path: Path) -> None:
    with Store(store_url) as store:
        record(store, agent_scan(tmp_path, "prod-eu", "uid-eu", T0), interval=60)
        record(store, agent_scan(tmp_path, "prod-us", "uid-us", T0 + 10 * MIN), interval=300)
        record(store, agent_scan(tmp_path, "prod-us", "uid-clone", T0 + 10 * MIN), interval=300)
    at = (T0 + 11 * MIN).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = auditor("fleet", "--store", store_url, "--as-of", at, "-o", "json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    rows = {(r["cluster"], r["uid"]): r for r in doc["clusters"]}
    assert list(rows) == [("prod-eu", "uid-eu"), ("prod-us", "uid-clone"), ("prod-us", "uid-us")]
    eu = rows[("prod-eu", "uid-eu")]
    assert (eu["silent"], eu["age_seconds"], eu["interval_seconds"], eu["complete"]) == (True, 660.0, 60.0, True)
    assert eu["volumes_by_status"]["protected"] == 1 and "soc2" in eu["compliance"]
    assert rows[("prod-us", "uid-us")]["silent"] is False
    assert rows[("prod-us", "uid-us")]["name_claimed_by"] == ["uid-clone"]
    assert doc["silent"] == 1
    found = sorted((f["rule_id"], f["cluster"], f["evidence"]["uid"]) for f in doc["findings"])
    assert found == [("GOV-006", "prod-eu", "uid-eu"), ("GOV-007", "prod-us", "uid-clone"),
                     ("GOV-007", "prod-us", "uid-us")]
    table = auditor("fleet", "--store", store_url, "--as-of", at, env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert "SILENT" in table.stdout and "prod-us (name claimed twice)" in table.stdout
    assert "GOV-006" in table.stdout and "11m" in table.stdout
    one = json.loads(auditor("fleet", "--store", store_url, "--as-of", at, "--cluster", "prod-eu", "-o",
                             "json").stdout)
    assert [r["cluster"] for r in one["clusters"]] == ["prod-eu"]


def test_an_empty_store_says_so(sqlite_url: str) -> None:
    Store(sqlite_url).close()
    run = auditor("fleet", "--store", sqlite_url)
    assert run.returncode == 0 and "no cluster recorded yet" in run.stdout


def test_an_unreachable_store_is_exit_1_naming_the_host_not_the_password() -> None:
    url = f"postgresql://auditor:s3cret-pw@127.0.0.1:{closed_port()}/hub"
    for command in (["fleet"], ["history"]):
        run = auditor(*command, "--store", url, env={"AUDITOR_STORE_RETRY_SECONDS": "0"})
        assert run.returncode == 1, run.stderr
        assert "127.0.0.1" in run.stderr and "s3cret" not in run.stderr + run.stdout, run.stderr
        assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1


def test_a_store_with_a_newer_schema_is_exit_2_with_both_versions(store_url: str) -> None:
    with Store(store_url) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    run = auditor("fleet", "--store", store_url)
    assert run.returncode == 2, run.stderr
    assert "0099" in run.stderr and head_revision() in run.stderr and "upgrade backup-auditor" in run.stderr
    assert "Traceback" not in run.stderr


def test_scan_with_a_store_judges_the_fleet(store_url: str, tmp_path: Path) -> None:
    """``auditor scan --store`` judges GOV-006 on the clusters the store knows and GOV-007 on its own name,
    as serve does."""
    from tests.store.scans import write_dump
    from tests.store.test_agents import agent_cluster

    with Store(store_url) as store:
        record(store, agent_scan(tmp_path, "prod-eu", "uid-eu", T0), interval=60)
        record(store, agent_scan(tmp_path, "prod-us", "uid-us", T0 + 10 * MIN), interval=300)
        record(store, agent_scan(tmp_path, "agent-1", "uid-clone", T0 + 10 * MIN), interval=300)
    dump = write_dump(tmp_path / "dump", agent_cluster(1))  # kube-system uid-1, named agent-1
    at = (T0 + 11 * MIN).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = auditor("scan", "--snapshot", str(dump), "--cluster-name", "agent-1", "--store", store_url,
                  "--as-of", at, "-o", "json")
    assert run.returncode in (0, 3), run.stderr
    results = [r for r in json.loads(run.stdout)["findings"] if r["rule_id"] in ("GOV-006", "GOV-007")]
    silent = sorted((r["name"], r["status"]) for r in results if r["rule_id"] == "GOV-006")
    assert silent == [("prod-eu", "open")], results  # prod-us and the clone scanned a minute ago
    [claim] = [r for r in results if r["rule_id"] == "GOV-007"]
    assert claim["status"] == "open" and claim["evidence"]["other_uids"] == ["uid-clone"]
