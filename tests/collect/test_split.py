"""One live cluster read in two processes (``collect/split.py``): a forked child lists Velero's Backups and
PodVolumeBackups while the scan lists the rest. The inventory is the one a single process reads, faults included
(403, 404, 500, a stall, a malformed page, an expired continue token, a missing CRD); a child that dies, hangs,
or sends what cannot be pickled or unpickled leaves its kinds to the scan, which reads them itself; what a read
raises is raised as in one process; no child outlives the read (Ctrl-C, termination); and the read is split
only where one cluster is read at a time by the main thread, without a raw sink."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kubernetes import client

from auditor.cli import main
from auditor.collect import split
from auditor.collect.clusters import kubeconfig_targets
from auditor.collect.kinds import KINDS
from auditor.collect.live import LiveSource, RetryPolicy
from auditor.errors import ConfigError
from auditor.model.inventory import Inventory
from tests.bench_generator import AS_OF, generate
from tests.collect.test_parallel_processes import _objects, _proc_session, _same
from tests.kubeapi.server import KubeAPIServer

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
PAGE = 40  # several pages of every large kind
BACKUPS = next(k for k in KINDS if k.resource == "backups.velero.io")
PVBS = next(k for k in KINDS if k.resource == "podvolumebackups.velero.io")
PARENT = os.getpid()


def _children() -> set[int]:
    """This process's living children (zombies included), its server's threads coming and going meanwhile."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(OSError):
            found.update(int(p) for p in (task / "children").read_text().split())
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KubeAPIServer, Path]]:
    tmp = tmp_path_factory.mktemp("split")
    counts = {"namespaces": 8, "pvcs": 60, "pods": 120, "schedules": 4, "backups": 130, "pvbs": 170, "nodes": 3}
    data = generate(tmp / "data", counts, seed=14)
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed(_objects(data))
        yield server, server.write_kubeconfig(tmp / "kubeconfig", context="c1")


@pytest.fixture(autouse=True)
def free_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split whatever the test machine's load (the tests below are about what the split reads)."""
    monkeypatch.setattr(split, "core_free", lambda: True)


@pytest.fixture
def server(cluster: tuple[KubeAPIServer, Path]) -> Iterator[KubeAPIServer]:
    cluster[0].clear_faults()
    yield cluster[0]
    cluster[0].clear_faults()
    assert _children() == set(), "a reading child outlived its read"


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[split.SplitRead]:
    """Every reading child of the test, as the scan saw it once it had waited for it."""
    seen: list[split.SplitRead] = []
    wait = split.SplitRead.wait

    def spy(self: split.SplitRead) -> dict[int, split.KindRead]:
        seen.append(self)
        return wait(self)

    monkeypatch.setattr(split.SplitRead, "wait", spy)
    return seen


def read(cluster: tuple[KubeAPIServer, Path], split_read: bool, **kw: Any) -> Inventory:
    target = kubeconfig_targets(str(cluster[1]), ("c1",), False)[0]
    source = LiveSource(target.api_client, "c1", page_size=PAGE, retry=FAST, split_read=split_read, **kw)
    return dataclasses.replace(source.collect(), collected_at=None)


def in_child(kind_resource: str, act: Callable[[Any], Any]) -> Callable[..., Any]:
    """``LiveSource._list_kind`` doing ``act(page)`` first where it lists ``kind_resource`` in a child."""
    listed = LiveSource._list_kind

    def patched(self: LiveSource, kind: Any, namespace: Any, keep_raw: bool, page: Any, restart: Any) -> Any:
        if os.getpid() != PARENT and kind.resource == kind_resource:
            page = act(page) or page
        return listed(self, kind, namespace, keep_raw, page, restart)

    return patched


# --- the same inventory -------------------------------------------------------------------------------------


def test_the_child_reads_its_kinds_and_the_inventory_is_that_of_one_process(
        cluster: tuple[KubeAPIServer, Path], server: KubeAPIServer, children: list[split.SplitRead]) -> None:
    shown: dict[bool, dict[str, int]] = {True: {}, False: {}}
    one = read(cluster, False, progress=lambda r, n: shown[False].__setitem__(r, n))
    assert children == []
    two = read(cluster, True, progress=lambda r, n: shown[True].__setitem__(r, n))
    assert len(children) == 1
    child = children[0]
    assert child.failed is None and child.done
    assert sorted(child.reads) == [KINDS.index(BACKUPS), KINDS.index(PVBS)]
    assert child.usage is not None and child.usage[0] > 0, "the child's CPU and peak RSS were read when reaped"
    assert len(two.backups) == 130 and len(two.pod_volume_backups) == 170 and two.complete
    assert two == one
    _same(one, two)
    assert shown[True] == shown[False], "progress ends at the same count for every kind, the child's included"


def test_the_scan_document_is_byte_identical(cluster: tuple[KubeAPIServer, Path], server: KubeAPIServer,
                                             children: list[split.SplitRead], monkeypatch: pytest.MonkeyPatch,
                                             ) -> None:
    args = ["scan", "--kubeconfig", str(cluster[1]), "--as-of", AS_OF, "-o", "json"]
    split_doc = CliRunner().invoke(main, args, catch_exceptions=False)
    assert len(children) == 1, "the sequential live scan reads in two processes"
    monkeypatch.setattr(split, "ENABLED", False)
    one_doc = CliRunner().invoke(main, args, catch_exceptions=False)
    assert len(children) == 1
    assert split_doc.exit_code == one_doc.exit_code and split_doc.stdout_bytes == one_doc.stdout_bytes


# --- faults: the gaps of one process ---------------------------------------------------------------------------

FAULTS: dict[str, dict[str, Any]] = {
    "403": {"status": 403},
    "404": {"status": 404},
    "500": {"status": 500},
    "stall": {"stall": True},
    "malformed": {"status": 200, "body": b'{"kind": "PodVolumeBackupList", "items": "oops"}'},
    "expired-token": {"status": 410, "query": {"continue": "*"}, "times": 1},
    "reset": {"status": 200, "reset": True, "times": 1},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("kind", [BACKUPS, PVBS], ids=lambda k: k.plural)
def test_a_fault_on_the_childs_kinds_is_what_one_process_reads(cluster: tuple[KubeAPIServer, Path],
                                                               server: KubeAPIServer, children: list[split.SplitRead],
                                                               kind: Any, fault: str) -> None:
    path = rf"^/apis/velero\.io/v1/{kind.plural}$"
    server.add_fault(path_regex=path, **FAULTS[fault])
    one = read(cluster, False, request_timeout=0.5)
    server.clear_faults()
    hit = server.add_fault(path_regex=path, **FAULTS[fault])
    two = read(cluster, True, request_timeout=0.5)
    assert hit.hits >= 1 and len(children) == 1 and children[0].failed is None
    assert two == one
    if fault in ("expired-token", "reset"):
        assert two.complete and len(two.pod_volume_backups) == 170
    else:
        gap = two.gap_for(kind.resource)
        assert gap is not None and gap.reason != "not-served", two.gaps


def test_without_velero_no_child_is_forked_and_the_kinds_are_not_served(tmp_path: Path,
                                                                       children: list[split.SplitRead]) -> None:
    crds = ROOT / "tests" / "kubeapi" / "crds"
    with KubeAPIServer(crd_dirs=[crds / "snapshot"], builtin_namespaces=False) as s:
        s.seed(o for o in _objects(generate(tmp_path / "d", {"namespaces": 2, "pvcs": 5, "pods": 5, "schedules": 0,
                                                                     "backups": 0, "pvbs": 0, "nodes": 1}, seed=3))
               if "velero.io" not in o.get("apiVersion", ""))
        inv = read((s, s.write_kubeconfig(tmp_path / "kc", context="c1")), True)
    assert children == []
    assert {g.resource: g.reason for g in inv.gaps}[PVBS.resource] == "not-served"
    assert len(inv.pvcs) == 5


# --- the child's failures: its kinds are read here --------------------------------------------------------------


class _Unloadable:
    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _refuse, ()


def _refuse() -> None:
    raise ValueError("refused to unpickle")


def _kill_after_one_page(page: Any) -> Any:
    sent: list[int] = []

    def first_then_die(records: Any, items: Any) -> None:
        if sent:
            os.kill(os.getpid(), signal.SIGKILL)
        sent.append(1)
        page(records, items)

    return first_then_die


CHILD_FAILURES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "killed": (_kill_after_one_page, "killed by signal 9"),
    "exits": (lambda page: os._exit(3), "exited with status 3"),
    "unpicklable record": (lambda page: lambda records, items: page([*records, lambda: 0], items), "pickled"),
    "record that does not unpickle": (lambda page: lambda records, items: page([*records, _Unloadable()], items),
                                      "refused to unpickle"),
}


@pytest.mark.parametrize("failure", sorted(CHILD_FAILURES))
def test_a_child_that_fails_leaves_its_kinds_to_this_process(cluster: tuple[KubeAPIServer, Path],
                                                             server: KubeAPIServer, children: list[split.SplitRead],
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture, failure: str) -> None:
    one = read(cluster, False)
    act, why = CHILD_FAILURES[failure]
    monkeypatch.setattr(LiveSource, "_list_kind", in_child(PVBS.resource, act))
    with caplog.at_level(logging.WARNING, logger="auditor.collect.split"):
        two = read(cluster, True)
    assert len(children) == 1 and children[0].failed is not None and why in children[0].failed
    assert KINDS.index(BACKUPS) in children[0].reads and KINDS.index(PVBS) not in children[0].reads
    assert two == one
    assert f"reading {PVBS.resource} in this process" in caplog.text


def test_a_child_that_hangs_is_stopped_past_the_deadline(cluster: tuple[KubeAPIServer, Path], server: KubeAPIServer,
                                                         children: list[split.SplitRead],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """It is killed at the deadline plus the grace; its unfinished kind is read here, where the deadline has
    passed: the gap a read in one process records for what it had no time left for."""
    monkeypatch.setattr(split, "GRACE", 0.5)
    monkeypatch.setattr(LiveSource, "_list_kind", in_child(PVBS.resource, lambda page: time.sleep(60)))
    started = time.monotonic()
    inv = read(cluster, True, deadline=3.0)
    assert time.monotonic() - started < 3.0 + 0.5 + 3.0
    assert "overran the cluster's deadline" in (children[0].failed or "")
    gap = inv.gap_for(PVBS.resource)
    assert gap is not None and gap.reason == "error" and "deadline of 3s" in gap.message
    assert len(inv.backups) == 130 and inv.pods == read(cluster, False).pods, "the rest was read"


# --- what a read raises ----------------------------------------------------------------------------------------


class _UnsendableError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.hook = lambda: message  # cannot be pickled


def _raising(error: Callable[[], Exception], everywhere: bool) -> Callable[..., Any]:
    listed = LiveSource._list_kind

    def patched(self: LiveSource, kind: Any, *args: Any) -> Any:
        if kind.resource == PVBS.resource and (everywhere or os.getpid() != PARENT):
            raise error()
        return listed(self, kind, *args)

    return patched


@pytest.mark.parametrize("error", [lambda: ConfigError("bad input in a PodVolumeBackup"),
                                   lambda: _UnsendableError("a defect that cannot be pickled")],
                         ids=["sent", "unpicklable"])
def test_what_a_read_raises_is_raised_as_in_one_process(cluster: tuple[KubeAPIServer, Path], server: KubeAPIServer,
                                                        children: list[split.SplitRead],
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        error: Callable[[], Exception]) -> None:
    monkeypatch.setattr(LiveSource, "_list_kind", _raising(error, everywhere=True))
    with pytest.raises(Exception) as one:
        read(cluster, False)
    if isinstance(error(), ConfigError):  # sent as it is: raised in its turn, not read again
        monkeypatch.setattr(LiveSource, "_list_kind", _raising(error, everywhere=False))
    with pytest.raises(Exception) as two:
        read(cluster, True)
    assert type(two.value) is type(one.value) and str(two.value) == str(one.value)
    assert len(children) == 1


def test_an_error_raised_here_stops_the_read_and_the_child(cluster: tuple[KubeAPIServer, Path],
                                                           server: KubeAPIServer, children: list[split.SplitRead],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    listed = LiveSource._list_kind

    def pods_fail(self: LiveSource, kind: Any, *args: Any) -> Any:
        if kind.resource == "pods" and os.getpid() == PARENT:
            raise ConfigError("bad input in a pod")
        return listed(self, kind, *args)

    monkeypatch.setattr(LiveSource, "_list_kind", pods_fail)
    with pytest.raises(ConfigError, match="bad input in a pod"):
        read(cluster, True)
    assert len(children) == 1


# --- where the read is not split ---------------------------------------------------------------------------------


def test_no_split_with_a_raw_sink_another_thread_or_a_legacy_client(cluster: tuple[KubeAPIServer, Path],
                                                                    server: KubeAPIServer,
                                                                    children: list[split.SplitRead]) -> None:
    target = kubeconfig_targets(str(cluster[1]), ("c1",), False)[0]
    raws: list[Any] = []
    LiveSource(target.api_client, "c1", page_size=PAGE, split_read=True).collect(lambda kind, raw: raws.append(raw))
    assert raws and children == [], "a raw sink reads in one process"
    done: list[Inventory] = []
    thread = threading.Thread(target=lambda: done.append(read(cluster, True)))
    thread.start()
    thread.join(60)
    assert done and children == [], "a read on another thread than the main one is never forked"
    legacy = client.ApiClient(client.Configuration(host=server.url))
    LiveSource(legacy, "c1", page_size=PAGE, split_read=True).collect()
    assert children == []


def test_no_split_inside_the_worker_processes_of_parallel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--parallel`` reads each cluster in a worker process: none of them forks a reader of its own."""
    marks = tmp_path / "forks"
    start = split.SplitRead.start

    def noted(self: split.SplitRead, *args: Any) -> bool:
        with marks.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return start(self, *args)

    monkeypatch.setattr(split.SplitRead, "start", noted)
    data = generate(tmp_path / "d", {"namespaces": 2, "pvcs": 5, "pods": 5, "schedules": 1, "backups": 5,
                                     "pvbs": 5, "nodes": 1}, seed=5)
    with KubeAPIServer(builtin_namespaces=False) as one, KubeAPIServer(builtin_namespaces=False) as two:
        for s in (one, two):
            s.seed(_objects(data))
        from tests.kubeapi.server import write_merged_kubeconfig

        kubeconfig = write_merged_kubeconfig(tmp_path / "kc", {"one": one, "two": two}, "one")
        out = CliRunner().invoke(main, ["scan", "--kubeconfig", str(kubeconfig), "--context", "one", "--context",
                                        "two", "--parallel", "2", "-o", "json", "--as-of", AS_OF],
                                 catch_exceptions=False)
        assert out.exit_code in (0, 1), out.stderr
        assert not marks.exists(), "a worker process forked a reader"
        out = CliRunner().invoke(main, ["scan", "--kubeconfig", str(kubeconfig), "--context", "one", "-o", "json",
                                        "--as-of", AS_OF], catch_exceptions=False)
        assert out.exit_code in (0, 1), out.stderr
        assert marks.read_text().split() == [str(os.getpid())], "one cluster read at a time: split"


# --- no child outlives the scan -----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_termination_leaves_no_reading_process(how: signal.Signals, tmp_path: Path,
                                                         cluster: tuple[KubeAPIServer, Path],
                                                         server: KubeAPIServer) -> None:
    """A scan whose lists stall, interrupted while it and its child read: no traceback, no process left."""
    faults = [server.add_fault(path_regex=r"^/api/v1/pods$", stall=True),
              server.add_fault(path_regex=r"^/apis/velero\.io/v1/(backups|podvolumebackups)$", stall=True)]
    forced = ("import sys; from auditor.collect import split; split.core_free = lambda: True; "
              "from auditor.cli import main; sys.argv[0] = 'auditor'; main()")  # split whatever the machine's load
    scan = subprocess.Popen([sys.executable, "-c", forced, "scan", "--kubeconfig", str(cluster[1]), "-o", "json",
                             "--no-secret-values"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env={**os.environ, "AUDITOR_STORE": ""})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the scan reads pods and its child Backups, both stalled
        if all(f.hits for f in faults):
            break
        time.sleep(0.1)
    members = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
               and _proc_session(int(p.name)) == scan.pid]
    assert len(members) >= 2, members  # the scan and its reading child
    if how == signal.SIGINT:
        os.killpg(scan.pid, how)  # Ctrl-C on a terminal: the whole foreground group
    else:
        scan.send_signal(how)  # kill PID: the scan alone, its child dies with it
    _, stderr = scan.communicate(timeout=30)
    assert "Traceback" not in stderr, stderr[-2000:]
    time.sleep(0.5)
    left = [m for m in members if _proc_session(m) == scan.pid]
    assert left == [], f"processes of the scan left behind: {left}"




def test_the_child_starts_with_connections_of_its_own(cluster: tuple[KubeAPIServer, Path],
                                                      server: KubeAPIServer) -> None:
    """``forget_connections`` (what the child calls first) drops the inherited pools without closing them: the
    parent's kept connection still answers, and the next request opens a pool of its own."""
    api = kubeconfig_targets(str(cluster[1]), ("c1",), False)[0].api_client
    assert api.request("GET", "/version").status == 200
    inherited = api._pools[None]
    api.forget_connections()
    assert api._pools == {}
    assert api.request("GET", "/version").status == 200
    assert api._pools[None] is not inherited
    assert inherited.request("GET", server.url + "/version").status == 200


@pytest.mark.parametrize(("cpus", "load", "split_read"), [({0, 1}, 1.4, True), ({0, 1}, 2.6, False),
                                                          ({0}, 0.1, False), ({0, 1, 2, 3}, 3.5, True)])
def test_the_read_is_split_only_where_a_core_is_free(monkeypatch: pytest.MonkeyPatch, cpus: set[int],
                                                     load: float, split_read: bool) -> None:
    monkeypatch.undo()  # the real check, not the autouse stand-in
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: cpus)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert split.core_free() is split_read
    assert split.available() is split_read


@pytest.mark.parametrize(("files", "cores"), [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "50000 100000\n"}, 0.5),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu.max": "garbage\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "x\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_a_containers_cpu_limit_is_read_from_its_cgroup(tmp_path: Path, files: dict[str, str],
                                                        cores: float | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert split.cpu_quota(tmp_path) == cores


@pytest.mark.parametrize(("quota", "split_read"), [(None, True), (1.0, False), (1.9, False), (2.0, True)])
def test_a_pod_limited_to_one_core_reads_in_one_process(monkeypatch: pytest.MonkeyPatch, quota: float | None,
                                                        split_read: bool) -> None:
    monkeypatch.undo()  # the real check, not the autouse stand-in
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(16)))  # a large node
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    monkeypatch.setattr(split, "cpu_quota", lambda: quota)
    assert split.core_free() is split_read
