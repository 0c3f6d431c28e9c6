"""Read one live cluster in two processes: a forked child lists a few large kinds while this process lists the rest.

Why: a live scan's wall time is the client's CPU on one core (decoding pages into records); the API server uses
little, so on two cores the second one idled. After discovery this process forks ONE reader child, before the
read starts any thread (a fork copies only the calling thread). The child lists :data:`CHILD_KINDS` with a fresh
connection pool (never the parent's connections) and sends each page's records back pickled as it goes, a
length-prefixed frame per page over a pipe. Pickle keeps the strings, datetimes and mappings a page's records
share shared (msgpack lost that sharing: docs/failure-model.md); one pickler for the whole stream would share
them across pages too (3.8 MB less for 150,000 records), but its memo holds every object it has seen, and the
unpickler's here grew to 64 MB: more than the sharing saves, at the scan's peak. This process lists its own
kinds meanwhile and drains the pipe between its pages (no thread: a receiving thread would wait for the GIL while
the child's pipe filled), then waits for the rest.

Each kind comes back as it would have been read here: its records, or its gap, or the exception its read raised
(raised by the caller when that kind's turn comes, as a read in one process raises it). The caller applies them
to its builder in the order of the kinds table, so the inventory is the one a single process builds. Whatever
goes wrong with the child (it dies, hangs past the cluster's deadline plus :data:`GRACE`, sends what cannot be
pickled or unpickled) leaves its unfinished kinds out of the result: the caller reads those itself, within what
is left of the deadline. The child is always killed and reaped before :meth:`SplitRead.wait` returns, and the
kernel kills it if this process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import pickle
import select
import signal
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.collect.forking import die_with, how_it_ended
from auditor.collect.heap import gc_paused
from auditor.collect.resource import ResourceKind
from auditor.model.inventory import Gap

log = logging.getLogger(__name__)

#: The kinds the child lists (when served): on the large bench data they are half of the decoding CPU (50,000
#: Backups and 100,000 PodVolumeBackups against 40,051 pods, 20,000 PVCs and 19,899 PVs; docs/decoding.md).
CHILD_KINDS = frozenset({"backups.velero.io", "podvolumebackups.velero.io"})
#: Split reads at all (``bench/scan.py --split`` times the scan with it off).
ENABLED = True
#: Seconds the child may run past the cluster's deadline (finishing the page it decodes) before it is killed.
GRACE = 10.0
_PIPE_SIZE = 1 << 20  # the pipe holds about a dozen pages' records while this process decodes one of its own
_F_SETPIPE_SZ = 1031
_HEAD = struct.Struct("<I")  # a frame: its length, then one message pickled

#: Lists one kind: (kind, each page's records, a restart of the list) -> its gap, or None when read completely.
ListKind = Callable[[ResourceKind, Callable[[list[Any]], None], Callable[[], None]], Gap | None]


@dataclass
class KindRead:
    """One kind as read: its records and raw objects, or the gap that replaced them, or what its read raised."""

    records: list[Any] = field(default_factory=list)
    raws: list[dict[str, Any]] = field(default_factory=list)
    gap: Gap | None = None
    error: BaseException | None = None


def available() -> bool:
    """Forking needs ``fork`` and must happen on the main thread (a scan of ``auditor serve`` runs in a thread);
    it pays only where a core is free (:func:`core_free`)."""
    return ENABLED and hasattr(os, "fork") and threading.current_thread() is threading.main_thread() and core_free()


def core_free() -> bool:
    """At least two usable cores (the CPU affinity, within a container's CPU limit: :func:`cpu_quota`) and, over
    the last minute, fewer runnable tasks than cores. A child on a busy machine competes with the scan for the
    same cores: alternated against one process at load 3-4 on two cores, the split lost 6 pairs of runs in 8
    (docs/decoding.md). In a container the load average is the node's: a busy node keeps the read in one
    process, whatever the pod's own share."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cpu_quota()
    if quota is not None:
        cpus = min(cpus, int(quota))
    if cpus < 2:
        return False
    try:
        return os.getloadavg()[0] < cpus
    except OSError:  # no load average to read: assume the machine is the scan's
        return True


#: where a container's CPU limit is read: cgroup v2's ``cpu.max``, else v1's CFS quota and period
CGROUP = Path("/sys/fs/cgroup")


def cpu_quota(root: Path = CGROUP) -> float | None:
    """The cores a CPU limit allows this process (a Kubernetes pod's ``resources.limits.cpu``: ``1500m`` is
    1.5), or None without a limit. A pod limited to one core on a large node has every core in its affinity,
    and a second process would only share its quota. Read where the container runtime mounts the pod's own
    cgroup (``/sys/fs/cgroup``); anything unreadable counts as no limit."""
    try:
        text = (root / "cpu.max").read_text().split()
        if len(text) == 2:
            return None if text[0] == "max" else int(text[0]) / int(text[1])
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def read_split(kinds: Sequence[tuple[int, ResourceKind]], list_kind: ListKind,
               read_here: Callable[[ResourceKind, Callable[[], None]], KindRead], fresh: Callable[[], None],
               progress: Callable[[str, int], None] | None, ends_at: float | None) -> dict[int, KindRead]:
    """``kinds`` read in two processes (by index): :data:`CHILD_KINDS` by a forked child (``list_kind``, after
    ``fresh`` gave it connections of its own), the others here in their order (``read_here``, taking the child's
    pages between its own). A kind this process's read raised on is kept as its error, and no later one of its
    own is read (a read in one process stopped there too). Empty if no child could be forked."""
    child = SplitRead([(i, k) for i, k in kinds if k.resource in CHILD_KINDS], progress, ends_at)
    if not child.start(list_kind, fresh):
        return {}
    reads: dict[int, KindRead] = {}
    try:
        for i, kind in kinds:
            if i in child.kinds:
                continue
            try:
                reads[i] = read = read_here(kind, child.poll)
            except Exception as exc:  # raised in this kind's turn, as a read in one process raises it
                reads[i] = read = KindRead(error=exc)
            if read.error is not None:
                break
        with gc_paused():  # unpickled in bulk, no cycles among them: as the caller's reads
            reads.update(child.wait())
    finally:
        child.close()
    if child.usage is not None:
        log.debug("the reading child used %.2f s CPU, peak RSS %.0f MB", *child.usage)
    return reads


class _SendFailedError(Exception):
    """A message could not be pickled: the child says so and stops; the parent reads the rest itself."""


class SplitRead:
    """The parent's side of one reader child: its kinds, what has come back, and how it ended."""

    def __init__(self, kinds: Sequence[tuple[int, ResourceKind]], progress: Callable[[str, int], None] | None,
                 ends_at: float | None) -> None:
        self.kinds = dict(kinds)  # index in the kinds table -> kind
        self.progress = progress
        self.ends_at = ends_at  # monotonic end of the cluster's read (None: no deadline)
        self.reads: dict[int, KindRead] = {}  # kinds the child has finished
        self.failed: str | None = None  # why the child stopped before finishing
        self.done = False
        self.pid = 0
        self.fd = -1
        self.usage: tuple[float, float] | None = None  # the child's CPU seconds and peak RSS (MB), once reaped
        self._staged: dict[int, list[Any]] = {}
        self._inbox = bytearray()

    # --- the child ------------------------------------------------------------------------------------------

    def start(self, list_kind: ListKind, fresh: Callable[[], None]) -> bool:
        """Fork the child (False: no fork possible, the caller reads every kind itself)."""
        try:
            read_fd, write_fd = os.pipe()
        except OSError as exc:
            log.warning("reading in two processes: no pipe (%s); reading in one", exc)
            return False
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_fd, _F_SETPIPE_SZ, _PIPE_SIZE)
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            log.warning("reading in two processes: fork failed (%s); reading in one", exc)
            return False
        if pid == 0:  # the child: never returns into the caller's code
            code = 70
            try:
                os.close(read_fd)
                _child(list(self.kinds.items()), list_kind, fresh, write_fd, parent)
                code = 0
            except BaseException:
                pass  # the parent reports what it did not receive
            finally:
                os._exit(code)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.pid, self.fd = pid, read_fd
        return True

    # --- this process ---------------------------------------------------------------------------------------

    def poll(self) -> None:
        """Take what the child has sent so far, without waiting (called between this process's pages)."""
        ended = False
        while self.fd >= 0:
            try:
                chunk = os.read(self.fd, _PIPE_SIZE)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                ended = True
                break
            self._inbox += chunk
        self._frames()
        if ended and self.fd >= 0:
            self._closed()

    def wait(self) -> dict[int, KindRead]:
        """Every kind the child finished (the others are the caller's to read), once the child has ended or was
        stopped (past the deadline plus :data:`GRACE`)."""
        limit = None if self.ends_at is None else self.ends_at + GRACE
        while self.fd >= 0 and not self.done:
            left = None if limit is None else limit - time.monotonic()
            if left is not None and left <= 0:
                self._fail(f"it overran the cluster's deadline by {GRACE:g}s")
                break
            select.select([self.fd], [], [], 1.0 if left is None else min(left, 1.0))
            self.poll()
        self.close()
        if self.failed is not None:
            missing = [k.resource for i, k in sorted(self.kinds.items()) if i not in self.reads]
            log.warning("the process reading %s stopped: %s; reading %s in this process", ", ".join(
                k.resource for _, k in sorted(self.kinds.items())), self.failed, ", ".join(missing) or "nothing")
        return self.reads

    def close(self) -> None:
        """Stop the child unless it has finished, and reap it (idempotent: no child outlives the read)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.pid:
            if not self.done:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                _, status, usage = os.wait4(self.pid, 0)
                self.usage = (usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
                if self.failed is None and not self.done:
                    self.failed = f"it {how_it_ended(status)} before finishing"
            self.pid = 0

    def _closed(self) -> None:
        """The pipe's end: after "done" the child is finishing; before, it died."""
        os.close(self.fd)
        self.fd = -1
        if not self.done and self.failed is None:
            self.close()  # reaps it, and says how it ended

    def _fail(self, why: str) -> None:
        if self.failed is None:
            self.failed = why
        self.done = False
        self.close()

    def _frames(self) -> None:
        inbox = self._inbox
        while len(inbox) >= _HEAD.size and self.failed is None:
            (length,) = _HEAD.unpack_from(inbox)
            if len(inbox) < _HEAD.size + length:
                return
            frame = memoryview(inbox)[_HEAD.size:_HEAD.size + length]
            try:
                message = pickle.loads(frame)
            except Exception as exc:  # an object that does not unpickle here: the rest is read in this process
                self._fail(f"its records could not be read back ({type(exc).__name__}: {str(exc)[:200]})")
                return
            finally:
                frame.release()
            del inbox[:_HEAD.size + length]
            self._take(message)

    def _take(self, message: tuple[Any, ...]) -> None:
        tag = message[0]
        if tag == "page":
            _, index, records = message
            staged = self._staged.setdefault(index, [])
            staged.extend(records)
            if self.progress is not None:
                self.progress(self.kinds[index].resource, len(staged))
        elif tag == "reset":  # a 410 restarted the list: what came before is void
            self._staged[message[1]] = []
        elif tag == "end":
            _, index, gap = message
            records = self._staged.pop(index, [])
            self.reads[index] = KindRead([] if gap is not None else records, gap=gap)
        elif tag == "raise":  # the child stops there, as a read in one process would
            self.reads[message[1]] = KindRead(error=message[2])
            self.done = True
        elif tag == "failed":
            self._fail(message[2])
        else:  # "done"
            self.done = True


def _child(kinds: list[tuple[int, ResourceKind]], list_kind: ListKind, fresh: Callable[[], None], fd: int,
           parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the child just ends; the parent reports
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with(parent)
    gc.disable()  # the child lives for one read; its records have no cycles
    fresh()
    out = _Sender(fd)
    for index, kind in kinds:
        def page(records: list[Any], i: int = index) -> None:
            out.send(("page", i, records))

        def restart(i: int = index) -> None:
            out.send(("reset", i))

        try:
            gap = list_kind(kind, page, restart)
        except _SendFailedError as exc:
            out.send(("failed", index, str(exc)))
            return
        except Exception as exc:  # raised in one process too: the parent raises it in this kind's turn
            try:
                pickle.loads(pickle.dumps(exc))
                out.send(("raise", index, exc))
            except Exception:
                out.send(("failed", index, f"reading {kind.resource} raised {type(exc).__name__}, which cannot "
                                           "be sent"))
            return
        out.send(("end", index, gap))
    out.send(("done",))


class _Sender:
    """The child's end of the pipe: a frame per message (its length, then the message pickled)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise _SendFailedError(f"its records could not be pickled ({type(exc).__name__}: {str(exc)[:200]})") \
                from None
        view = memoryview(_HEAD.pack(len(data)) + data)
        while view:
            view = view[os.write(self.fd, view):]


