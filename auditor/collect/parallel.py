"""Read several clusters at once (``--parallel N``), results in the order asked.

Clusters are read in worker processes (:func:`read_in_processes`): reading one is CPU-bound Python now
(decoding pages or files into records), so threads took turns on the GIL (0.91x on 2 cores). Each child does
what its caller asks with its cluster (a scan: read, analyse and judge it, ``pipeline.ClusterJudge``) and sends
the result back pickled; its log records go back too, and are handled here in its turn. Each cluster's own
deadline bounds a stalled one, and a slow or failing cluster never holds another. Only an error that stops the
whole run (bad input) travels out, from the first cluster, in order, that raised it: the same error a
sequential run stops on. :func:`in_order` runs plain tasks in the caller's thread, or in threads where a caller
still asks for them.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Generic, TypeVar

from auditor.collect.forking import die_with, how_it_ended
from auditor.collect.heap import gc_paused
from auditor.collect.live import Progress
from auditor.errors import AuditorError, ClusterAccessError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Clusters read at once when ``--parallel`` is not given (never more than there are clusters).
DEFAULT_PARALLEL = 4


def workers_for(clusters: int, requested: int | None, cpu_bound: bool = False) -> int:
    """How many clusters to read at once: ``requested`` (``--parallel``), else min(4, clusters), but one for
    ``cpu_bound`` work (dumps: nothing to wait on, so workers gain only on idle cores, and lost on a shared
    2-core machine: docs/failure-model.md); at least 1."""
    wanted = (1 if cpu_bound else DEFAULT_PARALLEL) if requested is None else requested
    return max(1, min(wanted, clusters))


def in_order(tasks: Sequence[Callable[[], T]], workers: int) -> Iterator[T]:
    """Each task's result, in the order of ``tasks``, running up to ``workers`` of them at once (one: each
    runs in the caller's thread when its turn comes, as a plain loop would)."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task()
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cluster")
    try:
        futures: list[Future[T]] = [pool.submit(task) for task in tasks]
        for future in futures:
            yield future.result()
    finally:
        # after an error (or a consumer that stopped early) nothing new starts; running reads end at their
        # deadline without being waited for
        pool.shutdown(wait=False, cancel_futures=True)


class ClusterProgress:
    """One progress line for clusters read at once: each cluster's kind and objects so far, clusters done.

    ``LiveSource`` reports (kind, objects) through :meth:`for_cluster`'s callback from its worker thread; the
    line is rebuilt under a lock and handed to ``show``."""

    def __init__(self, show: Callable[[str], None], clusters: Sequence[str]) -> None:
        self.show = show
        self.total = len(clusters)
        self.reading: dict[str, tuple[str, int]] = {}
        self.done: list[str] = []
        self.lock = threading.Lock()

    def for_cluster(self, cluster: str) -> Progress:
        def report(resource: str, count: int) -> None:
            with self.lock:
                self.reading[cluster] = (resource, count)
                line = self.line()
            self.show(line)

        return report

    def finished(self, cluster: str) -> None:
        with self.lock:
            self.reading.pop(cluster, None)
            self.done.append(cluster)
            line = self.line()
        self.show(line)

    def line(self) -> str:
        parts = [f"{name}: {resource} {count:,}" for name, (resource, count) in sorted(self.reading.items())]
        return f"{len(self.done)}/{self.total} clusters read · " + (" · ".join(parts) if parts else "…")


# --- clusters in worker processes ------------------------------------------------------------------

#: Seconds a worker process may run past its cluster's deadline (building the inventory read by then, analysing
#: and judging it, pickling and sending the result) before it is killed and its cluster reported as an error.
DEADLINE_GRACE = 30.0

#: What a worker does: reads its cluster (reporting progress) and returns what the caller needs of it, pickled
#: back (an inventory, or its analysis and results); raises ClusterAccessError when it cannot be read at all.
ClusterRead = Callable[[Progress | None], T]


def processes_available() -> bool:
    """Worker processes need ``fork``: a child starts with the parent's imports, configuration, fingerprint key
    and API clients (made, never connected: the parent does not use them), so it costs no start-up."""
    return hasattr(os, "fork")


class _Worker(Generic[T]):
    """One forked child reading one cluster, and the parent's ends of its two pipes."""

    def __init__(self, index: int, cluster: str) -> None:
        self.index, self.cluster = index, cluster
        self.pid = 0
        self.results_fd = -1  # parent reads: pickled messages
        self.go_fd = -1  # parent writes one byte when the child may start (closing it: never)
        self.started: float | None = None
        self.reaped = False
        self.status = 0
        self.stream: IO[bytes] | None = None
        self.result: tuple[str, T | None, str | None] | None = None
        self.raised: BaseException | None = None
        self.logs: list[tuple[str, dict[str, Any]]] = []  # the child's log records, handled here in its turn
        self.taken = False  # its result is here (or how it ended)


def read_in_processes(reads: Sequence[tuple[str, ClusterRead[T]]], workers: int, deadline: float | None,
                      lines: ClusterProgress | None = None) -> Iterator[tuple[str, T | None, str | None]]:
    """(cluster, its result or None, the error) for each of ``reads``, in their order, each read in a worker
    process, up to ``workers`` at once; a cluster that could not be read is an error, never a raise.

    Why processes: reading is CPU-bound Python now (decoding pages into records), so threads take turns on the
    GIL. Every child is forked here, before any thread of this run starts (a fork copies only the calling
    thread; locks another thread holds would stay held in the child); each waits on a pipe until a slot is
    free, so the clusters start in order. A child sends its progress and log records, then says it is done
    (its slot goes to the next one) and sends its result pickled (pickle keeps the records' shared strings,
    datetimes and empty mappings shared: msgpack decoding made 2.8x the objects; docs/failure-model.md). A
    thread per child here passes its progress on and keeps its log records. A child pickles its result before
    saying it is done (in parallel with the others, off this process's path); the caller's thread unpickles
    each result as soon as it is ready, whatever its order (unpickled at once in threads, they took turns on the
    GIL), and when a cluster's turn comes hands its log records to this process's log handlers (once, in the
    order of a sequential run) and yields its result. A cluster that cannot be read, a
    child that dies or overruns its deadline (plus :data:`DEADLINE_GRACE`) is that cluster's error; an
    ``AuditorError`` that stops the run (bad input) is raised when its cluster's turn comes, as a sequential run
    raises it. Leaving early (an error, Ctrl-C, a consumer that stops) kills and reaps every child.
    """
    children: list[_Worker[T]] = [_Worker(i, name) for i, (name, _) in enumerate(reads)]
    limit = None if deadline is None else deadline + DEADLINE_GRACE
    threads: list[threading.Thread] = []
    lock = threading.Lock()
    waiting = list(children)
    try:
        gc.freeze()  # the parent's objects stay out of the children's collections (no copy-on-write for them)
        for child, (_, read) in zip(children, reads, strict=True):
            _fork(child, read, children)
        finished: queue.SimpleQueue[_Worker[T]] = queue.SimpleQueue()
        for child in children:
            thread = threading.Thread(target=_receive, args=(child, lines, lock, waiting, finished), daemon=True,
                                      name=f"cluster {child.cluster}")
            thread.start()
            threads.append(thread)
        with lock:
            for _ in range(workers):
                _start_next(waiting)
        for child in children:
            while not child.taken:  # meanwhile, take any other child's result as soon as it is ready
                try:
                    ready = finished.get(timeout=0.2)
                except queue.Empty:
                    _kill_overdue(children, limit)
                    continue
                if ready.result is None:
                    _take(ready)
                ready.taken = True
            _replay(child)
            if child.raised is not None:
                raise child.raised
            assert child.result is not None
            yield child.result
    finally:
        _stop(children, threads, lock)


def _fork(child: _Worker[T], read: ClusterRead[T], siblings: list[_Worker[T]]) -> None:
    results_r, results_w = os.pipe()
    go_r, go_w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        code = 70  # what the parent reports if this child fails to send a result
        try:
            for fd in (results_r, go_w, *(f for s in siblings for f in (s.results_fd, s.go_fd) if f >= 0)):
                os.close(fd)
            _child(read, results_w, go_r, parent)
            code = 0
        except BaseException as exc:  # the parent reports this cluster's error
            log.debug("reading process failed: %s", exc, exc_info=True)
        finally:
            os._exit(code)
    os.close(results_w)
    os.close(go_r)
    child.pid, child.results_fd, child.go_fd = pid, results_r, go_w


def _child(read: ClusterRead[T], results_fd: int, go_fd: int, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends a child without a traceback; the parent reports
    die_with(parent)
    if os.read(go_fd, 1) != b"g":
        return  # the run ended before this cluster's turn
    gc.disable()  # the child lives for one read; its records have no cycles
    out = os.fdopen(results_fd, "wb", buffering=1 << 20)
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with lock:  # one pickler, one unpickler: their memos stay in step
            pickler.dump(message)
            out.flush()

    def progress(resource: str, count: int) -> None:
        send(("progress", resource, count))

    _forward_logs(send)

    message: tuple[Any, ...]
    try:
        message = ("done", read(progress))
    except ClusterAccessError as exc:
        message = ("error", str(exc))
    except AuditorError as exc:  # bad input: stops the run, as in a sequential one
        message = ("raise", exc)
    except Exception as exc:  # a defect on this cluster's data must not cost the other clusters
        log.warning("reading failed: %s: %.200s", type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        message = ("error", f"reading failed: {type(exc).__name__}: {str(exc)[:300]}")
    # pickled here before the parent takes it (in parallel with the other clusters, not on the parent's path),
    # by a pickler of its own: the parent unpickles it with a fresh unpickler
    result = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    send(("read",))  # the parent may start the next cluster, and takes this result when it is free
    with lock:
        out.write(result)
        out.flush()


def _forward_logs(send: Callable[[tuple[Any, ...]], None]) -> None:
    """In a child: each log record goes to the parent, which hands it to its own handlers when this cluster's
    turn comes (:func:`_replay`), so the user sees it once and in the order of a sequential run, never the
    children's lines interleaved. Records reach here past their logger's level and filters, as in the parent."""
    def call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
        send(("log", self.name, _portable(record)))

    logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]  # this child only


def _portable(record: logging.LogRecord) -> dict[str, Any]:
    """A record's attributes that survive pickling: the message formatted, a traceback as text."""
    data = dict(record.__dict__, msg=record.getMessage(), args=None, exc_info=None)
    if record.exc_info and not record.exc_text:
        data["exc_text"] = logging.Formatter().formatException(record.exc_info)
    return {k: v for k, v in data.items() if v is None or isinstance(v, str | int | float | bool)}


def _replay(child: _Worker[T]) -> None:
    """The child's log records, to this process's handlers (its logger's, up the hierarchy), in order."""
    logs, child.logs = child.logs, []
    for name, data in logs:
        logging.getLogger(name).callHandlers(logging.makeLogRecord(data))


def _start_next(waiting: list[_Worker[T]]) -> None:
    """Let the next waiting cluster, in order, start (under the lock)."""
    while waiting:
        child = waiting.pop(0)
        if child.go_fd < 0:
            continue
        try:
            os.write(child.go_fd, b"g")
        except OSError:  # it is gone already: its thread reports it
            continue
        finally:
            os.close(child.go_fd)
            child.go_fd = -1
        child.started = time.monotonic()
        return


def _receive(child: _Worker[T], lines: ClusterProgress | None, lock: threading.Lock,
             waiting: list[_Worker[T]], finished: queue.SimpleQueue[_Worker[T]]) -> None:
    """The parent's thread of one child: its progress until it has read its cluster (or how it ended)."""
    report = lines.for_cluster(child.cluster) if lines is not None else None
    try:
        child.stream = os.fdopen(child.results_fd, "rb", buffering=1 << 16)  # a pipe holds 64 KB
        child.results_fd = -1
        messages = pickle.Unpickler(child.stream)  # one for its messages before the result: one memo for them
        while True:
            try:
                message = messages.load()
            except (EOFError, pickle.UnpicklingError, ValueError, OSError):
                child.result = (child.cluster, None, _ended(child))
                return
            if message[0] == "log":
                child.logs.append((message[1], message[2]))
            elif message[0] != "progress":
                return  # read: the result follows, taken in its turn by the caller's thread
            elif report is not None:
                report(message[1], message[2])
    finally:
        with lock:
            _start_next(waiting)
        if lines is not None:
            lines.finished(child.cluster)
        finished.put(child)


def _take(child: _Worker[T]) -> None:
    """The result a child sends after reading its cluster: unpickled here, with the collector paused (the
    records have no cycles) and what survives frozen, as a cluster read in this process would be."""
    assert child.stream is not None
    try:
        with gc_paused():
            message = pickle.Unpickler(child.stream).load()
    except (EOFError, pickle.UnpicklingError, ValueError, OSError):
        child.result = (child.cluster, None, _ended(child))
        return
    finally:
        child.stream.close()
        _reap(child)
    if message[0] == "done":
        child.result = (child.cluster, message[1], None)
    elif message[0] == "error":
        child.result = (child.cluster, None, message[1])
    else:
        child.raised = message[1]


def _ended(child: _Worker[T]) -> str:
    """Why a child sent no result: its exit status once reaped."""
    _reap(child)
    how = how_it_ended(child.status)
    if os.WIFSIGNALED(child.status) and os.WTERMSIG(child.status) == signal.SIGKILL and child.started is not None:
        how += " (past its deadline, or by the system)"
    return f"the process reading cluster {child.cluster} {how} before sending its results"


def _reap(child: _Worker[T]) -> None:
    if not child.reaped and child.pid:
        with contextlib.suppress(ChildProcessError):
            _, child.status = os.waitpid(child.pid, 0)
        child.reaped = True


def _kill_overdue(children: list[_Worker[T]], limit: float | None) -> None:
    if limit is None:
        return
    now = time.monotonic()
    for child in children:
        if child.started is not None and not child.reaped and now - child.started > limit:
            log.warning("cluster %s: its reading process overran its deadline by %.0fs; stopped", child.cluster,
                        DEADLINE_GRACE)
            _signal(child, signal.SIGKILL)


def _signal(child: _Worker[T], sig: int) -> None:
    if child.pid and not child.reaped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, sig)


def _stop(children: list[_Worker[T]], threads: list[threading.Thread], lock: threading.Lock) -> None:
    """Kill every child still running or waiting, and reap them all: none outlives the run."""
    with lock:
        for child in children:
            if child.go_fd >= 0:
                os.close(child.go_fd)  # a waiting child reads the end of its pipe and exits
                child.go_fd = -1
            _signal(child, signal.SIGKILL)  # unless reaped: every child has sent its result or is not needed
    for thread in threads:
        thread.join(10)
    for child in children:
        if child.results_fd >= 0:  # never handed to a thread (a fork failed)
            os.close(child.results_fd)
            child.results_fd = -1
        if child.stream is not None:
            child.stream.close()
        _reap(child)
