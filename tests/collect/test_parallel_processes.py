"""Live clusters read at once in worker processes (``collect.parallel.read_in_processes``): each inventory comes
back equal to the one read in this process, in the order asked; a child that fails, crashes, hangs or is killed
is its cluster's error and holds no other; bad input stops the run as a sequential one does; no child outlives
the run (an error, a consumer that stops, Ctrl-C)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auditor import demo
from auditor.collect import parallel
from auditor.collect.dump import read_dump
from auditor.collect.live import Progress
from auditor.collect.parallel import ClusterProgress, read_in_processes
from auditor.collect.secrets import SecretPolicy
from auditor.errors import ClusterAccessError, InputError
from auditor.model.inventory import Inventory
from tests.bench_generator import generate
from tests.kubeapi.seeding import read_file
from tests.kubeapi.server import KubeAPIServer, write_merged_kubeconfig

ROOT = Path(__file__).resolve().parents[2]
KEY = b"process-test-fingerprint-key-0123456789"


def _children() -> set[int]:
    """This process's living children (zombies included: a child not reaped is still there)."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


def _generated(tmp_path: Path) -> Path:
    counts = {"namespaces": 12, "pvcs": 90, "pods": 160, "schedules": 5, "backups": 120, "pvbs": 150, "nodes": 4}
    return generate(tmp_path / "generated", counts, seed=11)


def _same(a: Any, b: Any, where: str = "inventory") -> None:
    """Equal, and of the same type all the way down (a tuple stays a tuple, a datetime keeps its zone)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} became {type(b).__name__}"
    if isinstance(a, datetime):
        assert a == b and a.tzinfo == b.tzinfo and a.isoformat() == b.isoformat(), where
    elif isinstance(a, msgspec.Struct):
        for name in a.__struct_fields__:
            _same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys or their order differ"
        for key in a:
            _same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, tuple | list):
        assert len(a) == len(b), f"{where}: {len(a)} items became {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} became {b!r}"


def test_inventories_read_in_worker_processes_come_back_equal(tmp_path: Path) -> None:
    """The demo's clusters, the API test server's dump and a generated cluster (with fingerprinted credentials),
    each read by a child and sent back: equal to the same dump read here, every field of every record of the
    same type (tuples, frozensets, tz-aware datetimes, None against empty, gaps and warnings)."""
    policy = SecretPolicy(read_values=True, key=KEY)
    dumps = [*demo.CLUSTER_DIRS.values(), ROOT / "tests" / "kubeapi" / "testdata", _generated(tmp_path)]
    reads = [(str(d), lambda _, d=d: read_dump(d, None, policy)) for d in dumps]
    results = list(read_in_processes(reads, 2, 60.0))
    assert [name for name, _, _ in results] == [str(d) for d in dumps]
    for (name, inventory, error), directory in zip(results, dumps, strict=True):
        assert error is None and inventory is not None, (name, error)
        expected = read_dump(directory, None, policy)
        assert inventory == expected
        _same(expected, inventory, directory.name)
    fingerprinted = [s for _, inv, _ in results if inv for s in inv.secrets if s.fingerprints]
    assert fingerprinted, "no credential was fingerprinted: the policy did not reach the children"
    assert _children() == set()


def _crash(_: Progress | None) -> Inventory:
    os._exit(3)


def _killed(_: Progress | None) -> Inventory:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def _unreachable(_: Progress | None) -> Inventory:
    raise ClusterAccessError("cluster gone: cannot reach the API server")


def _defect(_: Progress | None) -> Inventory:
    raise KeyError("metadata")


def _fine(name: str, delay: float = 0.0) -> Callable[[Progress | None], Inventory]:
    def read(progress: Progress | None) -> Inventory:
        for page in (1, 2):
            time.sleep(delay / 2)
            if progress is not None:
                progress("pods", page * 500)
        return Inventory(cluster=name, source=f"live:{name}")
    return read


def test_a_failing_crashing_or_killed_child_is_its_clusters_error_and_holds_no_other() -> None:
    lines: list[str] = []
    reads = [("crashed", _crash), ("a", _fine("a", 0.2)), ("killed", _killed), ("gone", _unreachable),
             ("defect", _defect), ("b", _fine("b"))]
    progress = ClusterProgress(lines.append, [name for name, _ in reads])
    results = {name: (inv, error) for name, inv, error in read_in_processes(reads, 3, 60.0, progress)}
    assert list(results) == [name for name, _ in reads]
    assert results["a"][0] == Inventory(cluster="a", source="live:a") and results["a"][1] is None
    assert results["b"][0] is not None
    assert results["crashed"] == (None, "the process reading cluster crashed exited with status 3 before "
                                        "sending its results")
    assert results["killed"][0] is None and "killed by signal 9" in (results["killed"][1] or "")
    assert results["gone"] == (None, "cluster gone: cannot reach the API server")
    assert results["defect"] == (None, "reading failed: KeyError: 'metadata'")
    # progress crossed the pipe: each page, then every cluster done
    assert "a: pods 1,000" in "\n".join(lines) and lines[-1] == "6/6 clusters read · …"
    assert _children() == set()


def test_bad_input_stops_the_run_with_the_first_clusters_error_in_order() -> None:
    def bad(message: str) -> Callable[[Progress | None], Inventory]:
        def read(_: Progress | None) -> Inventory:
            raise InputError(message, file="pods.json", field="items[3].metadata")
        return read

    results = read_in_processes([("a", _fine("a")), ("b", bad("second")), ("c", bad("third"))], 3, 60.0)
    assert next(results)[0] == "a"
    with pytest.raises(InputError, match=r"pods.json, field items\[3\].metadata: second"):
        next(results)
    assert _children() == set()


def test_a_child_that_overruns_its_deadline_is_killed_and_holds_no_other(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(_: Progress | None) -> Inventory:
        time.sleep(600)
        raise AssertionError("unreachable")

    monkeypatch.setattr(parallel, "DEADLINE_GRACE", 1.0)
    started = time.monotonic()
    results = list(read_in_processes([("hung", hang), ("a", _fine("a"))], 2, 1.0))
    assert time.monotonic() - started < 30
    assert results[0][:2] == ("hung", None) and "killed by signal 9" in (results[0][2] or "")
    assert results[1][1] is not None
    assert _children() == set()


def test_leaving_early_stops_every_child_running_or_waiting() -> None:
    def slow(_: Progress | None) -> Inventory:
        time.sleep(600)
        raise AssertionError("unreachable")

    results = read_in_processes([("a", _fine("a")), ("slow", slow), ("waiting", slow)], 2, None)
    assert next(results)[0] == "a"
    assert len(_children()) == 2  # one reading, one waiting for its turn
    results.close()
    assert _children() == set()


def _objects(directory: Path) -> list[dict[str, Any]]:
    return [o for p in sorted(directory.glob("*.json")) for o in read_file(p)]


def _proc_session(pid: int) -> int | None:
    """The session of a living process (None: gone, or a zombie whose reaping is up to init)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[3])


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_termination_leaves_no_reading_process(how: signal.Signals, tmp_path: Path) -> None:
    """A scan of two stalled clusters, interrupted while its children read (Ctrl-C, or the scan alone
    terminated): it ends without a traceback and no process of its session is left."""
    servers = {}
    try:
        for name in ("one", "two"):
            server = KubeAPIServer(builtin_namespaces=False).start()
            server.add_fault(path_regex=r"^/api/v1/|^/apis/[^/]+/[^/]+/", stall=True)
            server.seed(_objects(demo.CLUSTER_DIRS[demo.STAGING_NAME]))
            servers[name] = server
        kubeconfig = write_merged_kubeconfig(tmp_path / "kubeconfig", servers, "one")
        scan = subprocess.Popen([sys.executable, "-m", "auditor", "scan", "--kubeconfig", str(kubeconfig),
                                 "--context", "one", "--context", "two", "--parallel", "2", "--no-secret-values",
                                 "-o", "json"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, env={**os.environ, "AUDITOR_STORE": ""})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both clusters' children are reading (their lists stall)
            if sum(len(s.requests) for s in servers.values()) >= 4:
                break
            time.sleep(0.1)
        session = scan.pid
        members = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                   and _proc_session(int(p.name)) == session]
        assert len(members) >= 3, members  # the scan and its two children
        if how == signal.SIGINT:
            os.killpg(session, how)  # Ctrl-C on a terminal: the whole foreground group
        else:
            scan.send_signal(how)  # kill PID: the scan alone, its children die with it
        _, stderr = scan.communicate(timeout=30)
        assert "Traceback" not in stderr, stderr[-2000:]
        time.sleep(0.5)
        left = [m for m in members if _proc_session(m) == session]
        assert left == [], f"processes of the scan left behind: {left}"
    finally:
        for server in servers.values():
            server.stop()
