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
                           "--data-root", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "6 scans written" in out and "3 clusters of size tiny (200 volumes each)" in out
    targets = out[out.index("\ntargets\n"):]
    for line in ("fleet view (s)", "fleet report (s)", "parallel 4 vs 1 speed-up"):
        assert line in targets
    assert targets.count("(target ≤ 2)") == 2 and targets.count("(target ≤ 60)") == 2
    assert "target ≥ 1.6" in targets or "skipped: auditor scan has no --parallel yet" in targets
    assert not (tmp_path / "data" / "tiny").exists(), "generated data is removed"
