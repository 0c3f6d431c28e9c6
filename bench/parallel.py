#!/usr/bin/env python3
"""Several clusters read at once: threads against processes, dumps and live API servers.

    python bench/parallel.py [--clusters 4] [--scale 0.1] [--workers 4] [--keep DIR]

Generates ``--clusters`` dumps with bench/generate.py (``--scale`` of the large size), then times, each in a
fresh process:
  1. reading the dumps (``read_dump``): one at a time, in 4 threads, and in 4 forked processes that send each
     inventory back pickled (what a process pool costs: the records cross a pipe);
  2. ``auditor scan --snapshot ...`` with ``--parallel 1`` and ``--parallel N``;
  3. ``auditor scan --context ...`` against one API test server per cluster, each its own process
     (``python -m tests.kubeapi``), with ``--parallel 1`` and ``--parallel N``.
Prints wall time, peak RSS (ru_maxrss of the measuring process) and the speed-up against the 1.6x target.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
AS_OF = "2026-11-20T12:00:00Z"
TARGET = 1.6

READ = r"""
import pickle, resource, sys, time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from auditor.collect.dump import read_dump
from auditor.collect.live import gc_paused
from auditor.collect.secrets import SecretPolicy

mode, workers, dumps = sys.argv[1], int(sys.argv[2]), [Path(p) for p in sys.argv[3:]]

def read(path):
    with gc_paused():
        return read_dump(path, None, SecretPolicy(read_values=False))

start = time.perf_counter()
if mode == "sequential":
    inventories = [read(p) for p in dumps]
elif mode == "threads":
    with ThreadPoolExecutor(workers) as pool:
        inventories = list(pool.map(read, dumps))
else:
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        inventories = list(pool.map(read, dumps))
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{seconds:.2f} {rss:.0f} {children:.0f} {sum(len(i.pvcs) for i in inventories)}")
"""


def run(cmd: list[str], check: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if check and out.returncode:
        raise SystemExit(f"{cmd[:3]} failed ({out.returncode}): {out.stderr[-2000:]}")
    return out


def timed_scan(args: list[str]) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) of ``auditor scan ARGS -o json`` and its stdout."""
    probe = ("import resource, runpy, sys; sys.argv = ['auditor'] + sys.argv[1:];\n"
             "try:\n    runpy.run_module('auditor', run_name='__main__')\n"
             "finally:\n    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)")
    start = time.perf_counter()
    out = run([PYTHON, "-c", probe, "scan", *args, "--as-of", AS_OF, "--no-secret-values", "-o", "json"],
              env={**os.environ, "AUDITOR_STORE": ""})
    seconds = time.perf_counter() - start
    if out.returncode not in (0, 1, 3):
        raise SystemExit(f"scan failed ({out.returncode}): {out.stderr[-2000:]}")
    return seconds, float(out.stderr.strip().splitlines()[-1]), out.stdout


def serve(dump: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([PYTHON, "-m", "tests.kubeapi", "--seed", str(dump), "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "http://" in line:
            return proc, line[line.index("http://"):].split()[0]
    raise SystemExit(f"API test server for {dump} did not start: {log.read_text()[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this directory")
    parser.add_argument("--only", choices=("reads", "dumps", "live"), help="one of the three measurements")
    args = parser.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-parallel-"))
    dumps = []
    for i in range(args.clusters):
        dump = base / f"cluster-{i + 1}"
        if not dump.exists():
            run([PYTHON, str(ROOT / "bench" / "generate.py"), str(dump), "--scale", str(args.scale),
                 "--seed", str(i + 1)], check=True)
        dumps.append(dump)
    print(f"{args.clusters} dumps at scale {args.scale} in {base}; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")

    if args.only in (None, "reads"):
        reads(dumps, args.workers)
    if args.only in (None, "dumps"):
        scans(dumps, args.workers)
    if args.only in (None, "live"):
        live(dumps, args.workers, base)
    return 0


def reads(dumps: list[Path], workers: int) -> None:
    print("\nreading the dumps (read_dump only):")
    reads = {}
    for mode in ("sequential", "threads", "processes"):
        out = run([PYTHON, "-c", READ, mode, str(workers), *map(str, dumps)], check=True)
        seconds, rss, children, pvcs = out.stdout.split()
        reads[mode] = float(seconds)
        print(f"  {mode:<11} {float(seconds):7.2f} s   peak RSS {rss} MB (children {children} MB), {pvcs} PVCs")
    for mode in ("threads", "processes"):
        print(f"  {mode}: {reads['sequential'] / reads[mode]:.2f}x")



def scans(dumps: list[Path], workers: int) -> None:
    snapshot_args = [a for d in dumps for a in ("--snapshot", str(d))]
    print("\nauditor scan --snapshot (dumps):")
    one, rss1, doc1 = timed_scan([*snapshot_args, "--parallel", "1"])
    many, rss_n, doc_n = timed_scan([*snapshot_args, "--parallel", str(workers)])
    print(f"  --parallel 1 {one:7.2f} s  {rss1:.0f} MB;  --parallel {workers} {many:7.2f} s  {rss_n:.0f} MB;"
          f"  {one / many:.2f}x  (same document: {doc1 == doc_n})")


def live(dumps: list[Path], workers: int, base: Path) -> None:
    print("\nauditor scan --context (one API test server process per cluster):")
    procs = []
    try:
        config: dict[str, list[object]] = {"clusters": [], "users": [], "contexts": []}
        for i, dump in enumerate(dumps):
            proc, url = serve(dump, base / f"server-{i + 1}.log")
            procs.append(proc)
            name = dump.name
            config["clusters"].append({"name": name, "cluster": {"server": url}})
            config["users"].append({"name": name, "user": {"token": "bench"}})
            config["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
        kubeconfig = base / "kubeconfig"
        kubeconfig.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", **config,
                                          "current-context": dumps[0].name}))
        contexts = ["--kubeconfig", str(kubeconfig), *(a for d in dumps for a in ("--context", d.name))]
        one, rss1, doc1 = timed_scan([*contexts, "--parallel", "1"])
        many, rss_n, doc_n = timed_scan([*contexts, "--parallel", str(workers)])
        speedup = one / many
        print(f"  --parallel 1 {one:7.2f} s  {rss1:.0f} MB;  --parallel {workers} {many:7.2f} s  {rss_n:.0f} MB;"
              f"  {speedup:.2f}x (target >= {TARGET}x: {'met' if speedup >= TARGET else 'NOT met'}; "
              f"same document: {doc1 == doc_n})")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
