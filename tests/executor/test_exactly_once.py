"""Exactly once under concurrency: pairs of ``backup run``, ``backup snapshot`` and ``restore-drill`` processes
for the same identity, started at the same instant against one store (SQLite and a real PostgreSQL) and the
API test server with its simulated Velero. Every process exits 0; each identity has one record and one object;
of each pair one process recorded the run and created the object, the other says it adopted them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from auditor import demo
from auditor.store import Store
from tests.kubeapi import velero_sim as sim
from tests.kubeapi.server import KubeAPIServer
from tests.store.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ("snapshot.storage.k8s.io", "v1", "volumesnapshots", "shop")
PAIRS: dict[str, list[str]] = {
    "media-csi": ["backup", "run", "--schedule", "velero/media-csi", "--wait", "--timeout", "90s"],
    "daily-apps": ["backup", "run", "--schedule", "velero/daily-apps", "--wait", "--timeout", "90s"],
    "billing-hourly": ["backup", "run", "--schedule", "velero/billing-hourly", "--wait", "--timeout", "90s"],
    "data-postgres-0": ["backup", "snapshot", "shop/data-postgres-0", "--wait", "--timeout", "90s"],
    "drill": ["restore-drill", "--schedule", "velero/media-csi", "--timeout", "90s", "--verify-timeout", "60s"],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


def start_together(commands: list[list[str]], go: Path) -> list[subprocess.Popen[str]]:
    """Start every command, wait until all have imported, then release them at one instant (x.3 s of a second:
    far from a second boundary, so a pair computes the same time-stamped name)."""
    procs = [subprocess.Popen([sys.executable, "-m", "tests.executor.together", str(go), *args], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for args in commands]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", p.communicate()[1]
    at = int(time.time()) + 1.3
    tmp = go.with_suffix(".tmp")
    tmp.write_text(str(at))
    tmp.rename(go)
    return procs


def ours(server: KubeAPIServer, group: str, plural: str, namespace: str, prefix: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in server.list_objects(group, "v1", plural, namespace)
                  if o["metadata"]["name"].startswith(prefix))


@pytest.mark.slow
def test_concurrent_pairs_exit_0_with_one_record_and_one_object_each(store: str, tmp_path: Path) -> None:
    Store(store).close()  # the schema exists: the race under test is the run's, not the migration's
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        before = {(b["metadata"]["name"]) for b in server.list_objects("velero.io", "v1", "backups", "velero")}
        restores_before = {r["metadata"]["name"] for r in server.list_objects("velero.io", "v1", "restores", "velero")}
        commands = [[*args, "--kubeconfig", str(kubeconfig), "--store", store, "-o", "json"]
                    for args in PAIRS.values() for _ in range(2)]
        with sim.VeleroSimulator(server, step=0.05) as controller:
            procs = start_together(commands, tmp_path / "go")
            outputs = [p.communicate(timeout=300) for p in procs]
        backups = sorted(b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero")
                         if b["metadata"]["name"] not in before)
        restores = sorted(r["metadata"]["name"] for r in server.list_objects("velero.io", "v1", "restores", "velero")
                          if r["metadata"]["name"] not in restores_before)
        snapshots = ours(server, *SNAPSHOTS[:1], SNAPSHOTS[2], SNAPSHOTS[3], "data-postgres-0-auditor-")
    assert not controller.errors
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    with Store(store) as db:
        runs = db.runs(limit=100)

    # one object per identity: the pair converged on one name (same instant, same second)
    assert [b.rsplit("-", 1)[0] for b in backups] == ["billing-hourly", "daily-apps", "media-csi"], backups
    assert len(snapshots) == 1 and len(restores) == 1, (snapshots, restores)
    made = {*backups, *snapshots, *restores}
    # one record per identity, each ended
    assert sorted(r.object_name for r in runs) == sorted(made)
    assert all(r.status == "succeeded" and r.finished_at is not None for r in runs), [(r.identity, r.status)
                                                                                    for r in runs]
    # each pair: one recorded and created, the other adopted (the record, and the object)
    for i, name in enumerate(PAIRS):
        pair = [outputs[2 * i][1], outputs[2 * i + 1][1]]
        recorded = sum("recorded run " in err for err in pair)
        adopted = sum(("adopted run " in err or "resuming unfinished run " in err) for err in pair)
        assert (recorded, adopted) == (1, 1), (name, pair)
        kind = "Restore" if name == "drill" else "VolumeSnapshot" if name.startswith("data-") else "Backup"
        created = Counter("created" if f"created {kind} " in err else "adopted" if f"adopted existing {kind} " in err
                          else "?" for err in pair)
        assert created == Counter({"created": 1, "adopted": 1}), (name, pair)
    drills = [json.loads(out) for (out, _), args in zip(outputs, commands, strict=True) if args[0] == "restore-drill"]
    assert all(d["passed"] for d in drills) and len({d["restore"] for d in drills}) == 1
