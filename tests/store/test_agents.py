"""Ten agents (one process and one engine each) record into one real PostgreSQL at the same moment: every
scan is there, under its own cluster and kube-system uid, and no scan holds another agent's rows."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from auditor.store import Store
from auditor.store import schema as s
from auditor.store.compression import decompress
from tests import factories as f
from tests.store.postgres import PostgresServer
from tests.store.scans import backup, write_dump

ROOT = Path(__file__).resolve().parents[2]
AGENTS = 10
COUNT = 6  # scans per agent


def agent_cluster(i: int) -> list[Any]:
    """Agent i's cluster: its own kube-system uid and its own namespace, so any mixed row is visible."""
    ns = f"app-{i}"
    kube_system = f.namespace("kube-system")
    kube_system["metadata"]["uid"] = f"uid-{i}"
    pv = f"pv-{ns}"
    return [kube_system, f.namespace(f.VELERO_NS), f.node("node-a"), f.storage_class(default=True),
            f.snapshot_class(labels={"velero.io/csi-volumesnapshot-class": "true"}), f.velero_deployment(), f.bsl(),
            f.namespace(ns), f.pvc("data", ns, volume=pv), f.pv(pv, ns, "data"), f.pod("data-0", ns, {"data": "data"}),
            f.pvc("cache", ns), f.schedule("daily", includedNamespaces=[ns]), backup("daily-1", hours_ago=30)]


@pytest.mark.slow
def test_ten_agents_writing_at_once_lose_and_mix_nothing(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.create_database()
    dumps = [write_dump(tmp_path / f"dump-{i}", agent_cluster(i)) for i in range(AGENTS)]
    start = str(time.time() + 12)  # every agent has scanned and connected by then; the store is not created yet
    procs = [subprocess.Popen([sys.executable, "-m", "tests.store.agent", url, str(dump), f"agent-{i}", str(COUNT),
                               start], cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i, dump in enumerate(dumps)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.count("recorded") == COUNT
    with Store(url) as store, store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.Scan)).scalar_one() == AGENTS * COUNT
        rows = conn.execute(select(s.ClusterScan.id, s.ClusterScan.scan_id, s.ClusterScan.cluster,
                                   s.ClusterScan.cluster_uid, s.ClusterScan.as_of, s.ClusterScan.findings_open,
                                   s.ClusterScan.interval_seconds)).all()
        assert len(rows) == AGENTS * COUNT, "one cluster row per scan"
        by_cluster: dict[str, list[Any]] = {}
        for row in rows:
            by_cluster.setdefault(row.cluster, []).append(row)
        assert sorted(by_cluster) == sorted(f"agent-{i}" for i in range(AGENTS))
        for name, mine in by_cluster.items():
            i = name.split("-")[1]
            assert {r.cluster_uid for r in mine} == {f"uid-{i}"}
            assert {r.interval_seconds for r in mine} == {60.0}
            assert len({r.as_of for r in mine}) == COUNT, f"every scan of {name} is there once"
            for r in mine:
                volumes = conn.execute(select(s.Volume.namespace, s.Volume.pvc).where(
                    s.Volume.cluster_scan_id == r.id)).all()
                assert sorted(volumes) == [(f"app-{i}", "cache"), (f"app-{i}", "data")], "only its own volumes"
                identities = conn.execute(select(s.Finding.identity, s.Finding.status).where(
                    s.Finding.cluster_scan_id == r.id)).all()
                assert identities and all(f"|{name}|" in ident for ident, _ in identities), "only its findings"
                assert sum(st == "open" for _, st in identities) == r.findings_open, "whole: every finding row"
                doc = decompress(conn.execute(select(s.Scan.document).where(s.Scan.id == r.scan_id)).scalar_one())
                assert [c["name"] for c in doc["clusters"]] == [name]
                assert {v["namespace"] for v in doc["volumes"]} == {f"app-{i}"}
        ids = store.identities()
        assert [(a.name, a.uid, a.interval_seconds, a.other_uids) for a in ids] == [
            (f"agent-{i}", f"uid-{i}", 60.0, ()) for i in sorted(range(AGENTS), key=lambda n: f"agent-{n}")]
        fleet = store.fleet(max(r.as_of for r in rows))
        assert len(fleet) == AGENTS and not any(r.silent for r in fleet)
        assert all(r.latest is not None and r.latest.volumes_audited == 2 for r in fleet)
