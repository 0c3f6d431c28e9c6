"""``history`` and ``diff`` over a fleet: every cluster in the store by default, ``--cluster`` (repeatable) narrows,
and a cluster the store does not know is exit 2 naming it and listing the known ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditor.cli import main
from tests import factories as f
from tests.store.scans import DAY, cluster, scan

T0 = datetime(2026, 11, 18, 12, tzinfo=UTC)
NAMES = ("eu-1", "us-1", "ap-1")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def fleet(store_url: str, tmp_path: Path) -> str:
    """Three clusters with two scans each; the second scan of each cuts the schedule's TTL (a GOV-002 finding)."""
    for day, ttl in ((0, "720h0m0s"), (1, "24h0m0s")):
        for name in NAMES:
            scan(store_url, cluster(schedule=f.schedule("daily", ttl=ttl)), T0 + day * DAY, tmp_path, name=name)
    return store_url


def test_history_defaults_to_every_cluster_and_narrows(fleet: str) -> None:
    rows = json.loads(run("history", "--store", fleet, "-o", "json").stdout)["scans"]
    assert sorted({r["cluster"] for r in rows}) == sorted(NAMES)
    assert len(rows) == 6
    one = json.loads(run("history", "--store", fleet, "--limit", "1", "-o", "json").stdout)["scans"]
    assert sorted(r["cluster"] for r in one) == sorted(NAMES), "--limit is per cluster: every cluster is shown"
    assert {r["as_of"] for r in one} == {"2026-11-19T12:00:00Z"}
    two = json.loads(run("history", "--store", fleet, "--cluster", "us-1", "--cluster", "eu-1", "-o", "json").stdout)
    assert [r["cluster"] for r in two["scans"]] == ["us-1", "us-1", "eu-1", "eu-1"]
    table = run("history", "--store", fleet, "--cluster", "ap-1")
    assert table.exit_code == 0 and "ap-1" in table.stdout and "eu-1" not in table.stdout


def test_diff_defaults_to_every_cluster_and_narrows(fleet: str) -> None:
    diffs = json.loads(run("diff", "--store", fleet, "-o", "json").stdout)["clusters"]
    assert sorted(d["cluster"] for d in diffs) == sorted(NAMES)
    for d in diffs:
        assert ("GOV-002", "daily") in [(x["rule_id"], x["name"]) for x in d["new"]], d["cluster"]
    two = json.loads(run("diff", "--store", fleet, "--cluster", "ap-1", "--cluster", "us-1", "-o", "json").stdout)
    assert sorted(d["cluster"] for d in two["clusters"]) == ["ap-1", "us-1"]
    text = run("diff", "--store", fleet, "--cluster", "eu-1").stdout
    assert "cluster eu-1" in text and "cluster us-1:" not in text  # eu-1's GOV-006 may name us-1's agent


@pytest.mark.parametrize("command", ["history", "diff"])
def test_an_unknown_cluster_is_exit_2_listing_the_known_ones(fleet: str, command: str) -> None:
    done = run(command, "--store", fleet, "--cluster", "eu-1", "--cluster", "mars-9")
    assert done.exit_code == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "no cluster mars-9 in the history store" in done.stderr
    assert "known: ap-1, eu-1, us-1" in done.stderr
    assert done.stdout == ""
