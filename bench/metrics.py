#!/usr/bin/env python3
"""Benchmark ``auditor serve``'s ``/metrics``: scrape time at the large benchmark size, cached vs uncached,
and the failed-backup-to-metric latency.

    python bench/metrics.py [--volumes 20000 --namespaces 2000 --schedules 200] [--snapshot DIR]
                            [--scrapes 20] [--flips 10]

1. The scan result: by default the demo cluster's analysis replicated to the large benchmark size of
   ``bench/generate.py`` (20,000 PVCs in 2,000 namespaces, 200 schedules) — seconds instead of minutes;
   ``--snapshot DIR`` scans a real dump instead (e.g. ``bench/data/large``, which takes minutes).
2. Uncached: the same collector behind prometheus_client's own HTTP server, which renders per scrape.
   Cached: ``auditor serve``'s HTTP server, which renders once per scan. Both on 127.0.0.1, plain and gzip.
3. Latency: the API test server seeded with the demo cluster, a real ``auditor serve`` watching it; a
   Backup is switched between Completed and Failed ``--flips`` times and ``/metrics`` polled every 10 ms.

Prints figures; exits non-zero when a target is missed (cached scrape ≤ 0.2 s, latency ≤ 5 s).
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from prometheus_client import CollectorRegistry, start_http_server  # noqa: E402

from auditor import demo  # noqa: E402
from auditor.analyse.scan import ScanResult  # noqa: E402
from auditor.cli.shared import build_options  # noqa: E402
from auditor.output.metrics import ClusterHealth, MetricsInput, ScanCollector, render  # noqa: E402
from auditor.pipeline import run_scan  # noqa: E402
from auditor.server.http import AuditorHTTPServer  # noqa: E402
from auditor.server.state import Current, Snapshot  # noqa: E402
from auditor.server.watch import WatchStats  # noqa: E402

CACHED_TARGET = 0.2
LATENCY_TARGET = 5.0


def synthetic(volumes: int, namespaces: int, schedules: int) -> ScanResult:
    """The demo's demo-prod analysis, replicated: every volume and schedule a real verdict of the demo."""
    base = run_scan(build_options(demo=True))
    cluster = next(c for c in base.clusters if c.name == demo.CLUSTER_NAME)
    analysis = cluster.analysis
    assert analysis is not None
    vols = tuple(msgspec.structs.replace(v, namespace=f"ns-{i % namespaces:04d}", pvc=f"data-{i:05d}")
                 for i, v in zip(range(volumes), _cycle(analysis.volumes), strict=False))
    states = {}
    for j, state in zip(range(schedules), _cycle(tuple(analysis.schedules.values())), strict=False):
        schedule = msgspec.structs.replace(state.schedule, meta=msgspec.structs.replace(state.schedule.meta,
                                                                                    name=f"schedule-{j:03d}"))
        states[schedule.meta.key] = replace(state, schedule=schedule)
    large = replace(analysis, volumes=vols, schedules=states)
    return replace(base, clusters=(replace(cluster, analysis=large),))


def _cycle(items: tuple[Any, ...]) -> Any:
    while True:
        yield from items


def timed_get(url: str, gzip_ok: bool) -> tuple[float, int]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
    elapsed = time.perf_counter() - started
    if gzip_ok and response.headers.get("Content-Encoding") == "gzip":
        gzip.decompress(body)
    return elapsed, len(body)


def scrape_series(url: str, n: int, gzip_ok: bool) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(n):
        elapsed, size = timed_get(url, gzip_ok)
        times.append(elapsed)
    return times, size


def describe(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.4f}s  p95 {p95:.4f}s  max {ordered[-1]:.4f}s"


def bench_scrapes(result: ScanResult, scrapes: int) -> float:
    data = MetricsInput(result, tuple(ClusterHealth(c.name, time.time(), 1.0, True, 300.0, 1, 0)
                                      for c in result.clusters))
    started = time.perf_counter()
    text = render(data)
    first = time.perf_counter() - started
    series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    print(f"exposition: {series:,} series, {len(text) / 1e6:.1f} MB; one render {first:.2f}s")

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScanCollector(data))
    uncached_server, _ = start_http_server(0, "127.0.0.1", registry)
    uncached = f"http://127.0.0.1:{uncached_server.server_address[1]}/metrics"
    started = time.perf_counter()
    snapshot = Snapshot(data, ready=True, seq=1)
    publish = time.perf_counter() - started
    cached_server = AuditorHTTPServer("127.0.0.1", 0, Current(snapshot), WatchStats(), lambda: (True, "ok"))
    threading.Thread(target=cached_server.serve_forever, daemon=True).start()
    cached = f"http://127.0.0.1:{cached_server.port}/metrics"
    print(f"publish (render + swap, once per scan): {publish:.2f}s")
    worst = 0.0
    try:
        for name, url, n in (("uncached (prometheus_client, renders per scrape)", uncached, max(3, scrapes // 4)),
                             ("cached (auditor serve)", cached, scrapes)):
            for gz in (False, True):
                times, size = scrape_series(url, n, gz)
                print(f"  {name:50s} {'gzip' if gz else 'text'}: {describe(times)}  ({size / 1e6:.2f} MB, n={n})")
                if url == cached:
                    worst = max(worst, statistics.median(times))
    finally:
        uncached_server.shutdown()
        cached_server.shutdown()
    return worst


def bench_latency(flips: int) -> float:
    from tests.kubeapi.server import KubeAPIServer

    kube = KubeAPIServer(builtin_namespaces=False).start()
    kube.seed_dir(demo.CLUSTER_DIR)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-metrics-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    kubeconfig = kube.write_kubeconfig(tmp / "kubeconfig", context=demo.CLUSTER_NAME)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "auditor"), "serve", "--kubeconfig", str(kubeconfig),
         "--velero-catalog", f"{demo.CLUSTER_NAME}={demo.CATALOG_DIR}", "--config", str(demo.CONFIG_FILE),
         "--fingerprint-key-file", str(tmp / "key"), "--listen", "127.0.0.1:0"],
        stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        match = re.search(r"serving on (http://\S+)", proc.stderr.readline())
        assert match, "auditor serve did not start"
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        url = match.group(1) + "/metrics"
        while not _ready(match.group(1) + "/readyz"):
            time.sleep(0.05)
        backups = [b for b in kube.list_objects("velero.io", "v1", "backups", "velero")
                   if b["metadata"].get("labels", {}).get("velero.io/schedule-name") == "daily-apps"]
        newest = max(backups, key=lambda b: b["metadata"]["creationTimestamp"])
        series = ('backup_auditor_schedule_last_backup_phase{cluster="demo-prod",namespace="velero",'
                  'phase="Failed",schedule="daily-apps"} ')
        latencies = []
        time.sleep(1.5)  # let the watches connect
        for i in range(flips):
            phase, expect = ("Failed", "1.0") if i % 2 == 0 else ("Completed", "0.0")
            started = time.perf_counter()
            kube.put_object({**newest, "status": {**newest["status"], "phase": phase}})
            while True:
                text = urllib.request.urlopen(url).read().decode()
                if series + expect in text:
                    break
                if time.perf_counter() - started > 30:
                    raise SystemExit("the metric did not change within 30 s")
                time.sleep(0.01)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.5)
        print(f"failed-backup-to-metric latency (demo-prod via the API test server, {flips} flips): "
              f"{describe(latencies)}  min {min(latencies):.3f}s")
        return max(latencies)
    finally:
        proc.terminate()
        proc.wait(10)
        kube.stop()


def bench_latency_at_scale(seed: Path, flips: int) -> float:
    """The same latency against a generated dump (``bench/data/large``) served by ``python -m tests.kubeapi`` in
    its own process: the first scan is a full read, each flip's rescan comes from the watch cache."""
    import json

    sys.path.insert(0, str(ROOT / "bench"))
    from scan import Server, write_kubeconfig  # type: ignore[import-not-found]

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-latency-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    server = Server(seed, tmp / "server.log").start()
    print(f"API test server seeded from {seed} in {server.ready_seconds:.1f}s")
    kubeconfig = write_kubeconfig(tmp / "kubeconfig", server.url)
    headers = {"Authorization": "Bearer bench", "Accept": "application/json"}

    def api(method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(server.url + path, data=data, method=method, headers={
            **headers, **({"Content-Type": "application/merge-patch+json"} if data else {})})
        return json.loads(urllib.request.urlopen(request).read())

    schedules = api("GET", "/apis/velero.io/v1/namespaces/velero/schedules?limit=1")["items"]
    name = schedules[0]["metadata"]["name"]
    items = api("GET", f"/apis/velero.io/v1/namespaces/velero/backups?labelSelector=velero.io/schedule-name%3D{name}")
    newest = max(items["items"], key=lambda b: b["metadata"]["creationTimestamp"])["metadata"]["name"]
    path = f"/apis/velero.io/v1/namespaces/velero/backups/{newest}"  # Velero's CRDs have no status subresource
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "auditor"), "serve", "--kubeconfig", str(kubeconfig),
         "--no-secret-values", "--listen", "127.0.0.1:0", "--interval", "1h"], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        match = re.search(r"serving on (http://\S+)", proc.stderr.readline())
        assert match, "auditor serve did not start"
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
        started = time.perf_counter()
        while not _ready(match.group(1) + "/readyz"):
            time.sleep(0.2)
        print(f"first (full) scan published after {time.perf_counter() - started:.1f}s")
        url = match.group(1) + "/metrics"
        series = f'backup_auditor_schedule_last_backup_phase{{cluster="bench",namespace="velero",phase="Failed",' \
                 f'schedule="{name}"}} '
        time.sleep(15)  # let every watch list its kind and connect (until then an event rescan is a full read)
        latencies = []
        for i in range(flips):
            phase, expect = ("Failed", "1.0") if i % 2 == 0 else ("Completed", "0.0")
            started = time.perf_counter()
            api("PATCH", path, {"status": {"phase": phase}})
            while True:
                if series + expect in urllib.request.urlopen(url).read().decode():
                    break
                if time.perf_counter() - started > 120:
                    raise SystemExit("the metric did not change within 120 s")
                time.sleep(0.05)
            latencies.append(time.perf_counter() - started)
            time.sleep(3.0)  # event rescans wait one scan's duration after the previous one (the half-busy guard)
        scans = [line.strip() for line in lines if "scan " in line and "finished in" in line]
        print("serve's own scan log:", *scans[-(flips + 1):], sep="\n  ")
        print(f"failed-backup-to-metric latency at scale ({flips} flips): {describe(latencies)}  "
              f"min {min(latencies):.3f}s  each: {', '.join(f'{x:.2f}' for x in latencies)}")
        return max(latencies)
    finally:
        proc.terminate()
        proc.wait(30)
        server.stop()


def _ready(url: str) -> bool:
    try:
        return bool(urllib.request.urlopen(url).status == 200)
    except urllib.error.HTTPError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=20000)
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--snapshot", type=Path, help="scan this dump instead of the synthetic result")
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--flips", type=int, default=10)
    parser.add_argument("--latency-seed", type=Path, help="measure the latency against this generated dump "
                        "(e.g. bench/data/large) instead of the demo")
    args = parser.parse_args()
    if args.latency_seed:
        latency = bench_latency_at_scale(args.latency_seed, args.flips)
        print(f"target: latency ≤ {LATENCY_TARGET}s: {'met' if latency <= LATENCY_TARGET else 'MISSED'}")
        return 0 if latency <= LATENCY_TARGET else 1
    started = time.perf_counter()
    if args.snapshot:
        result = run_scan(build_options(snapshots=(args.snapshot,)))
        print(f"scanned {args.snapshot} in {time.perf_counter() - started:.1f}s")
    else:
        result = synthetic(args.volumes, args.namespaces, args.schedules)
        print(f"synthetic result: {args.volumes:,} PVCs, {args.namespaces:,} namespaces, {args.schedules} schedules "
              f"({time.perf_counter() - started:.1f}s)")
    cached = bench_scrapes(result, args.scrapes)
    latency = bench_latency(args.flips)
    ok = cached <= CACHED_TARGET and latency <= LATENCY_TARGET
    print(f"targets: cached scrape ≤ {CACHED_TARGET}s: {'met' if cached <= CACHED_TARGET else 'MISSED'}; "
          f"latency ≤ {LATENCY_TARGET}s: {'met' if latency <= LATENCY_TARGET else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
