"""The child processes ``bench/scan.py`` measures besides ``auditor`` itself (run as ``python bench/scan.py
--child-...``): a raw paginated fetch, the in-process analysis, and the scan (its own CPU and peak RSS apart from
its reading child's; with the read split or not; with a page-prefetch thread)."""

from __future__ import annotations

import contextlib
import gc
import json
import resource
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

#: The six kinds the comparisons fetch: (kubectl name, API list path).
SIX_KINDS = (
    ("pv", "/api/v1/persistentvolumes"),
    ("pvc", "/api/v1/persistentvolumeclaims"),
    ("pods", "/api/v1/pods"),
    ("schedules.velero.io", "/apis/velero.io/v1/schedules"),
    ("backups.velero.io", "/apis/velero.io/v1/backups"),
    ("podvolumebackups.velero.io", "/apis/velero.io/v1/podvolumebackups"),
)


def child_raw_fetch(url: str, gc_off: bool, page_size: int = 500) -> dict[str, Any]:
    """Fetch the six kinds page by page with urllib + json.loads; pages are dropped once counted."""
    headers = {"Authorization": "Bearer bench", "Accept": "application/json"}
    counts: dict[str, int] = {}
    parse = 0.0
    total_bytes = pages = 0
    started = time.perf_counter()
    for name, path in SIX_KINDS:
        token = ""
        n = 0
        while True:
            query = f"?limit={page_size}" + (f"&continue={urllib.parse.quote(token)}" if token else "")
            with urllib.request.urlopen(urllib.request.Request(url + path + query, headers=headers)) as resp:
                body = resp.read()
            t0 = time.perf_counter()
            if gc_off:
                gc.disable()
            page = json.loads(body)
            if gc_off:
                gc.enable()
            parse += time.perf_counter() - t0
            total_bytes += len(body)
            pages += 1
            n += len(page.get("items") or ())
            token = (page.get("metadata") or {}).get("continue") or ""
            del page, body
            if not token:
                break
        counts[name] = n
    return {"seconds": time.perf_counter() - started, "parse_seconds": parse, "bytes": total_bytes,
            "pages": pages, "counts": counts}


def child_analysis(directory: str, as_of: str, gc_paused: bool) -> dict[str, Any]:
    """``read_dump`` then ``analyse_cluster`` + ``evaluate``, timed separately, in this process."""
    from auditor.analyse.coverage import analyse_cluster
    from auditor.checks import evaluate
    from auditor.collect.dump import read_dump
    from auditor.collect.heap import gc_paused as pause
    from auditor.config import AuditConfig
    from auditor.load.rules import load_catalog
    from auditor.model.time import parse_time

    when = parse_time(as_of)
    t0 = time.perf_counter()
    with pause() if gc_paused else contextlib.nullcontext():  # as run_scan reads a snapshot
        inv = read_dump(Path(directory))
    t1 = time.perf_counter()
    rules = load_catalog()
    config = AuditConfig()
    t2 = time.perf_counter()
    with pause() if gc_paused else contextlib.nullcontext():
        analysis = analyse_cluster(inv, config, when)
        t3 = time.perf_counter()
        findings = evaluate(analysis, rules)
    t4 = time.perf_counter()
    import resource

    return {"read_dump": t1 - t0, "load_catalog": t2 - t1, "analyse": t3 - t2, "evaluate": t4 - t3,
            "volumes": len(analysis.volumes), "findings": len(findings),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


#: The last line a scan run by :func:`child_scan` writes to stderr: its own and its reaped children's usage.
USAGE_MARK = "bench-usage "


def child_scan(args: list[str], split: bool | None = None, prefetch: bool = False) -> int:
    """``auditor scan ARGS`` as the ``auditor`` command runs it; then, on stderr, the CPU seconds and peak RSS of
    this process, of its reaped children, and of each reading child of a split read (``collect/split.py``).
    ``split``: None as the scan decides (a core free), True read in two processes whatever the machine's load,
    False in one (``collect.split.ENABLED``). ``prefetch``: pages fetched one ahead in a
    worker thread (``live.PREFETCH``), not in turn as the scan does: what overlapping the API server with decoding
    is worth."""
    from auditor.collect import live
    from auditor.collect import split as split_read

    live.PREFETCH = prefetch
    if split is not None:
        split_read.ENABLED = split
        split_read.core_free = lambda: True
    readers: list[tuple[float, float]] = []  # each reading child's CPU seconds and peak RSS, once reaped
    close = split_read.SplitRead.close

    def noted(self: split_read.SplitRead) -> None:
        close(self)
        if self.usage is not None and self.usage not in readers:
            readers.append(self.usage)

    split_read.SplitRead.close = noted  # type: ignore[method-assign]
    from auditor.cli import main as auditor_main

    sys.argv = ["auditor", *args]
    code = 0
    try:
        auditor_main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        sys.stdout.flush()
        print(USAGE_MARK + json.dumps({"cpu": me.ru_utime + me.ru_stime, "rss_mb": me.ru_maxrss / 1024,
                                       "children_cpu": children.ru_utime + children.ru_stime,
                                       "children_rss_mb": children.ru_maxrss / 1024,
                                       "readers": readers}), file=sys.stderr)
    return code
