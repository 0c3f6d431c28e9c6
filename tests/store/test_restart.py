"""A PostgreSQL restart in the middle of a round of scans: every scan is recorded, none exits 1.

Two writer processes record scans back to back while the server is restarted twice (``pg_ctl restart -m
fast``: open sessions are terminated, the socket is gone until the server is back), and ``auditor scan``
processes run across the restart. The store retries the transactions a restart breaks.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, select

from auditor.store import Store
from auditor.store import schema as s
from tests import factories as f
from tests.store.postgres import PostgresServer
from tests.store.scans import cluster, write_dump
from tests.store.test_concurrency import ROOT, consistent, writer

COUNT = 10  # scans per writer


def recorded(postgres: PostgresServer, url: str) -> int:
    """Scans in the store now (0 while the server is restarting)."""
    dbname = make_url(url).database
    try:
        with psycopg.connect(host=str(postgres.root), user="postgres", dbname=dbname, connect_timeout=2) as conn:
            row = conn.execute("SELECT count(*) FROM scans").fetchone()
            return int(row[0]) if row else 0
    except psycopg.OperationalError:
        return 0


def wait_for(postgres: PostgresServer, url: str, count: int, procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 120
    while recorded(postgres, url) < count:
        assert time.monotonic() < deadline, f"fewer than {count} scans after 120 s"
        assert all(p.poll() in (None, 0) for p in procs), [p.communicate() for p in procs if p.poll()]
        time.sleep(0.05)


@pytest.mark.slow
def test_a_restart_in_the_middle_of_a_scan_round_loses_no_scan(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.create_database()
    Store(url).close()
    dump = write_dump(tmp_path / "dump", cluster(schedule=f.schedule("daily")))
    writers = [writer("loop", url, str(dump), "prod", str(COUNT), "0", str(offset)) for offset in (0, 1)]
    wait_for(postgres, url, 3, writers)
    scans = [subprocess.Popen([sys.executable, "-m", "auditor", "scan", "--snapshot", str(dump), "--cluster-name",
                               f"cli-{i}", "--store", url, "-o", "json"], cwd=ROOT, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(3)]
    postgres.restart()  # while the writers are in their round and the scans start up
    wait_for(postgres, url, 10, writers)
    postgres.restart()
    outputs = [p.communicate(timeout=180) for p in writers]
    for p, (out, err) in zip(writers, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.count("recorded") == COUNT
    assert any("trying again" in err for _, err in outputs), "the restarts hit the writers' transactions"
    for p in scans:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    with Store(url) as store:
        total = consistent(store)
        rows = store.history("prod", limit=1000)
        with store.engine.connect() as conn:
            clusters = sorted(conn.execute(select(s.ClusterScan.cluster).where(
                s.ClusterScan.cluster.like("cli-%"))).scalars())
    assert len({r.as_of for r in rows}) == 2 * COUNT, "every scan of both writers is there"
    assert clusters == ["cli-0", "cli-1", "cli-2"], "every auditor scan across the restart is recorded"
    # a transaction whose COMMIT answer the restart cut off may have committed: at most one extra per restart
    assert 2 * COUNT + 3 <= total <= 2 * COUNT + 3 + 2
    log = (postgres.root / "server.log").read_text(errors="replace")
    assert log.count("database system is ready to accept connections") >= 3, "the server really restarted twice"
