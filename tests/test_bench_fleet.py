"""bench/fleet.py at a tiny size, so the fleet benchmark cannot rot: it fills a real PostgreSQL from concurrent
writers, times the fleet view and the fleet report, and prints each against its target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.store.postgres import server_bindir

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(server_bindir() is None, reason="PostgreSQL server binaries are not installed")
def test_the_fleet_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "fleet.py"), "--clusters", "3", "--size", "tiny",
                           "--scans", "2", "--writers", "3", "--dumps", "2", "--parallel-size", "tiny",
                           "--repeat", "1", "--latency", "1",
                           "--data-root", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "6 scans written" in out and "3 clusters of size tiny (200 volumes each)" in out
    assert "\nfleet view " in out and "best of 1" in out, "the real auditor fleet is timed"
    targets = out[out.index("\ntargets ("):]
    for line in ("fleet view (s)", "fleet report (s)", "of which CLI start-up", "live  speed-up", "dumps speed-up",
                 "live  peak RSS", "dumps peak RSS"):
        assert line in targets
    assert "load average" in targets.splitlines()[1]
    assert targets.count("(target ≤ 2)") == 2 and targets.count("(target ≤ 60)") == 2
    assert targets.count("target ≥ 1.6") == 1 and targets.count("(target ≤ 1.25)") == 2
    assert "ONE API server process, 1 ms per request" in targets, "the live scans' server answers 1 ms late"
    assert not (tmp_path / "data" / "tiny").exists(), "generated data is removed"
