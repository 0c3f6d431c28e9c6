"""Read several clusters at once (``--parallel N``): a pool of threads, results in the order asked.

Threads, not processes: a live read mostly waits for API servers, and the records a worker builds are the
records the scan keeps, shared with the rest of the run instead of pickled back from a child (which cost as
much as reading a dump: docs/failure-model.md, "Several clusters at once"). Each task reads and analyses one
cluster and catches what that cluster's failure raises; its own deadline bounds a stalled one, and a slow
cluster never holds another's task. Only an error that stops the whole run (bad input) travels out, from the
first cluster, in order, that raised it: the same error a sequential run stops on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from auditor.collect.live import Progress

T = TypeVar("T")

#: Clusters read at once when ``--parallel`` is not given (never more than there are clusters).
DEFAULT_PARALLEL = 4


def workers_for(clusters: int, requested: int | None) -> int:
    """How many clusters to read at once: ``requested`` (``--parallel``), else min(4, clusters); at least 1."""
    wanted = DEFAULT_PARALLEL if requested is None else requested
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
