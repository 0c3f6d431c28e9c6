"""Several clusters read at once (``--parallel``): order kept, one cluster's failure or stall holds no other,
the progress line stays one readable line. (That the document equals a sequential run's, byte for byte, is
tests/test_scan_parity.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from auditor import demo
from auditor.collect.parallel import ClusterProgress, in_order, workers_for
from auditor.errors import InputError
from auditor.pipeline import ScanOptions, collect_inventories
from tests.bench_generator import generate
from tests.kubeapi.seeding import read_file
from tests.kubeapi.server import KubeAPIServer, write_merged_kubeconfig

ROOT = Path(__file__).resolve().parents[2]


def test_workers_default_to_four_and_never_exceed_the_clusters() -> None:
    assert [workers_for(n, None) for n in (0, 1, 2, 4, 9)] == [1, 1, 2, 4, 4]
    assert workers_for(10, 8) == 8 and workers_for(3, 8) == 3 and workers_for(5, 1) == 1


def test_dumps_default_to_one_at_a_time_and_parallel_is_as_asked() -> None:
    """Dumps are CPU-bound only: one after another unless --parallel asks for workers; live clusters at once."""
    from auditor.pipeline import scan_workers

    assert [workers_for(n, None, cpu_bound=True) for n in (1, 2, 9)] == [1, 1, 1]
    assert workers_for(9, 4, cpu_bound=True) == 4
    dumps = tuple(Path(f"d{i}") for i in range(5))
    assert scan_workers(ScanOptions(snapshots=dumps), 5) == 1
    assert scan_workers(ScanOptions(snapshots=dumps, parallel=3), 5) == 3
    assert scan_workers(ScanOptions(contexts=("a", "b", "c")), 3) == 3


def test_tasks_run_at_once_and_results_come_in_the_order_asked() -> None:
    started: list[int] = []
    barrier = threading.Barrier(3, timeout=5)

    def task(i: int, delay: float) -> int:
        started.append(i)
        barrier.wait()  # all three run at the same time, or this times out
        time.sleep(delay)
        return i

    tasks = [lambda d=d, i=i: task(i, d) for i, d in enumerate((0.3, 0.0, 0.1))]
    assert list(in_order(tasks, 3)) == [0, 1, 2]
    assert sorted(started) == [0, 1, 2]
    # one worker: each task in the caller's thread, when its turn comes
    seen: list[str] = []
    assert list(in_order([lambda: seen.append(threading.current_thread().name) or 1], 1)) == [1]
    assert seen == [threading.current_thread().name]


def test_the_error_of_the_first_failing_cluster_in_order_is_raised() -> None:
    def fail(message: str, after: float) -> int:
        time.sleep(after)
        raise InputError(message)

    tasks = [lambda: 1, lambda: fail("second", 0.2), lambda: fail("third", 0.0)]
    with pytest.raises(InputError, match="second"):
        list(in_order(tasks, 3))


def test_dumps_read_at_once_are_those_read_one_by_one() -> None:
    dumps = (demo.CLUSTER_DIRS[demo.STAGING_NAME], demo.CLUSTER_DIRS[demo.CLUSTER_NAME])
    one = list(collect_inventories(ScanOptions(snapshots=dumps, parallel=1, secret_values=False)))
    two = list(collect_inventories(ScanOptions(snapshots=dumps, parallel=2, secret_values=False)))
    assert [name for name, _, _ in two] == [demo.STAGING_NAME, demo.CLUSTER_NAME]
    assert [inv for _, inv, _ in one] == [inv for _, inv, _ in two]


def test_the_progress_line_of_several_clusters() -> None:
    lines: list[str] = []
    progress = ClusterProgress(lines.append, ["prod-eu", "prod-us", "dr"])

    def read(cluster: str) -> None:
        report = progress.for_cluster(cluster)
        for page in range(1, 51):
            report("persistentvolumeclaims", page * 500)
        progress.finished(cluster)

    threads = [threading.Thread(target=read, args=(c,)) for c in ("prod-eu", "prod-us", "dr")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(lines) == 3 * 51
    assert all(line.count("\n") == 0 and " clusters read · " in line for line in lines)
    assert "prod-eu: persistentvolumeclaims 25,000" in "".join(lines)
    assert lines[-1] == "3/3 clusters read · …"
    done = [int(line.split("/", 1)[0]) for line in lines]
    assert done == sorted(done)  # the count of clusters read never goes back


class TimedRequests(list[Any]):
    """The API test server's request log, with the time each request was answered."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)


def _objects(directory: Path) -> list[dict[str, Any]]:
    return [o for p in sorted(directory.glob("*.json")) for o in read_file(p)]


def test_a_stalled_and_a_failing_cluster_hold_no_other(tmp_path: Path) -> None:
    """Four contexts read at once: an API server whose every list stalls (first in the order), one that rejects
    the auditor, two healthy demo clusters. The healthy two are read completely while the stall goes on, the
    stalled one ends at its deadline as gaps, the rejected one is an error; the run ends within the deadline."""
    deadline = 20.0  # long enough for the healthy reads on a loaded machine
    stalled = KubeAPIServer(builtin_namespaces=False).start()
    stalled.add_fault(path_regex=r"^/api/v1/|^/apis/[^/]+/[^/]+/", stall=True)
    stalled.seed(_objects(demo.CLUSTER_DIRS[demo.STAGING_NAME]))
    gone = KubeAPIServer().start()
    gone.add_fault(None, r"^/version$", status=401)
    healthy = {}
    for name in (demo.CLUSTER_NAME, demo.STAGING_NAME):
        server = KubeAPIServer(builtin_namespaces=False).start()
        server.seed(_objects(demo.CLUSTER_DIRS[name]))
        server.requests = TimedRequests()
        healthy[name] = server
    servers = {"stalled": stalled, "gone": gone, **healthy}
    try:
        kubeconfig = write_merged_kubeconfig(tmp_path / "kubeconfig", servers, "stalled")
        started = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "auditor", "scan", "--kubeconfig", str(kubeconfig),
                              *(a for n in servers for a in ("--context", n)), "--parallel", "4",
                              "--request-timeout", "30s", "--cluster-deadline", f"{deadline:g}s",
                              "--as-of", "2026-11-20T12:00:00Z", "--no-secret-values", "-o", "json"],
                             capture_output=True, text=True, timeout=120, cwd=ROOT,
                             env={**os.environ, "AUDITOR_STORE": ""})
        elapsed = time.monotonic() - started
    finally:
        for server in servers.values():
            server.stop()
    assert run.returncode == 1, run.stderr[-2000:]  # a cluster could not be scanned
    doc = json.loads(run.stdout)
    rows = {c["name"]: c for c in doc["clusters"]}
    assert list(rows) == list(servers)
    assert rows["gone"]["error"] and rows["gone"]["complete"] is False
    assert rows["stalled"]["error"] is None and rows["stalled"]["complete"] is False
    assert any(f"deadline of {deadline:g}s" in g["message"] for g in rows["stalled"]["gaps"])
    for name, server in healthy.items():
        assert rows[name]["complete"] is True and rows[name]["gaps"] == [], name
        assert [v for v in doc["volumes"] if v["cluster"] == name and v["status"] != "unknown"], name
        # read while the stalled cluster was still waiting: its last request came before that deadline
        assert max(server.requests.times) < started + deadline, (name, max(server.requests.times) - started)
    assert elapsed < deadline + 20, f"deadline {deadline:g}s, the run took {elapsed:.1f}s"


def test_dumps_scanned_at_once_hold_each_clusters_records_once(tmp_path: Path) -> None:
    """Four generated dumps. With --parallel 4 each is read, analysed and judged in a worker process and comes
    back pickled: what the scan keeps (each cluster's records, analysis and results) stays within a quarter of
    what a sequential run keeps (one process shares strings and label maps between clusters; each cluster's
    pickle brings its own), and its peak adds one cluster's unpickling at a time: within 40% of the sequential
    peak at this small size (18% at bench/parallel.py's --scale 0.1, where the records weigh more)."""
    import tracemalloc

    from auditor.pipeline import run_scan

    counts = {"namespaces": 30, "pvcs": 300, "pods": 600, "schedules": 6, "backups": 600, "pvbs": 900, "nodes": 6}
    dumps = []
    for seed in range(4):
        dumps.append(generate(tmp_path / f"cluster-{seed}", counts, seed=seed))

    def measured(parallel: int) -> tuple[int, int]:
        options = ScanOptions(snapshots=tuple(dumps), parallel=parallel, secret_values=False)
        run_scan(options)  # imports and caches, outside the measurement
        tracemalloc.start()
        try:
            result = run_scan(options)
            assert [c.name for c in result.clusters] == [d.name for d in dumps]
            return tracemalloc.get_traced_memory()  # kept (the result is alive), peak
        finally:
            tracemalloc.stop()

    (one_kept, one_peak), (four_kept, four_peak) = measured(1), measured(4)
    assert four_kept <= one_kept * 1.25, f"--parallel 4 kept {four_kept / 1e6:.1f} MB, one at a time " \
                                         f"{one_kept / 1e6:.1f} MB"
    assert four_peak <= one_peak * 1.4, f"--parallel 4 peaked at {four_peak / 1e6:.1f} MB, one at a time " \
                                        f"{one_peak / 1e6:.1f} MB"


def test_a_live_scan_of_several_clusters_reports_one_line_for_all(tmp_path: Path) -> None:
    """The CLI's progress (``show`` for whole lines) gets lines naming each cluster being read, ending with every
    cluster done; one cluster at a time, it gets the plain (kind, objects) reports, as before."""
    servers = {}
    try:
        for name in (demo.CLUSTER_NAME, demo.STAGING_NAME):
            server = KubeAPIServer(builtin_namespaces=False).start()
            server.seed(_objects(demo.CLUSTER_DIRS[name]))
            servers[name] = server
        kubeconfig = write_merged_kubeconfig(tmp_path / "kubeconfig", servers, demo.CLUSTER_NAME)

        class Recorder:
            def __init__(self) -> None:
                self.reports: list[tuple[str, int]] = []
                self.lines: list[str] = []

            def __call__(self, resource: str, count: int) -> None:
                self.reports.append((resource, count))

            def show(self, line: str) -> None:
                self.lines.append(line)

        for parallel in (2, 1):
            recorder = Recorder()
            options = ScanOptions(kubeconfig=str(kubeconfig), contexts=tuple(servers), parallel=parallel,
                                  secret_values=False)
            read = list(collect_inventories(options, recorder))
            assert [name for name, inventory, _ in read if inventory is not None and inventory.complete] == \
                list(servers)
            if parallel == 2:
                assert not recorder.reports and recorder.lines[-1] == "2/2 clusters read · …"
                text = "\n".join(recorder.lines)
                assert f"{demo.CLUSTER_NAME}: " in text and f"{demo.STAGING_NAME}: " in text
            else:
                assert recorder.reports and not recorder.lines
    finally:
        for server in servers.values():
            server.stop()
