"""Two processes writing at once lose nothing; a writer killed with SIGKILL leaves the store consistent."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, text

from auditor.store import Store
from auditor.store import schema as s
from tests import factories as f
from tests.store.scans import cluster, write_dump

ROOT = Path(__file__).resolve().parents[2]


def writer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.store.writer", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def consistent(store: Store) -> int:
    """Every scan is whole: one cluster row, its volume, as many finding rows as it counted; returns scans."""
    with store.engine.connect() as conn:
        scans = conn.execute(select(func.count()).select_from(s.Scan)).scalar_one()
        rows = conn.execute(select(s.ClusterScan.id, s.ClusterScan.findings_open)).all()
        assert len(rows) == scans
        for cs_id, findings_open in rows:
            volumes = conn.execute(select(func.count()).where(s.Volume.cluster_scan_id == cs_id)).scalar_one()
            findings = conn.execute(select(func.count()).where(s.Finding.cluster_scan_id == cs_id)).scalar_one()
            assert (volumes, findings) == (1, findings_open), f"cluster scan {cs_id} is partial"
        if store.engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    return int(scans)


def test_two_processes_writing_at_once_lose_nothing(store_url: str, tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "dump", cluster(schedule=f.schedule("daily")))
    start = str(time.time() + 3)  # both start together, on a store neither has created yet
    procs = [writer("loop", store_url, str(dump), "prod", "8", start, str(offset)) for offset in (0, 1)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.count("recorded") == 8
    with Store(store_url) as store:
        assert consistent(store) == 16
        rows = store.history("prod", limit=100)
        assert len({r.as_of for r in rows}) == 16, "every scan of both writers is there"
        assert all(r.volumes_audited == 1 for r in rows)


def test_a_writer_killed_inside_its_transaction_leaves_nothing(store_url: str, tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "dump", cluster(schedule=f.schedule("daily")))
    marker = tmp_path / "inside"
    proc = writer("hold", store_url, str(dump), str(marker))
    deadline = time.time() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with Store(store_url, busy_timeout=10) as store:
        assert consistent(store) == 0, "the uncommitted scan is gone"
        store.record_report(format="json", path="after-kill.json", manifest={})  # locked: fails after 10 s
        assert consistent(store) == 0


def test_a_writer_killed_at_a_random_moment_leaves_whole_scans(store_url: str, tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "dump", cluster(schedule=f.schedule("daily")))
    rng = random.Random(7)
    recorded = 0
    for round_ in range(2):
        proc = writer("loop", store_url, str(dump), "prod", "100", "0", str(1000 * round_))
        assert proc.stdout is not None
        for _ in range(2):
            assert proc.stdout.readline().startswith("recorded"), proc.stderr and proc.stderr.read()
        time.sleep(rng.uniform(0, 0.05))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        with Store(store_url) as store:
            now = consistent(store)
        assert now >= recorded + 2
        recorded = now
