#!/usr/bin/env python3
"""Several clusters scanned at once: dumps and live API servers, --parallel 1 against --parallel N.

    python bench/parallel.py [--clusters 4] [--scale 0.1] [--workers 4] [--rounds 3] [--keep DIR]
                             [--only reads|dumps|live] [--latency MS] [--apart]

Generates ``--clusters`` dumps with bench/generate.py (``--scale`` of the large size), then times, each in a
fresh process:
  1. reading the dumps (``read_dump``): one at a time, in 4 threads, and in 4 forked worker processes that send
     each inventory back pickled (``collect.parallel.read_in_processes``);
  2. ``auditor scan --snapshot ...`` with ``--parallel 1`` and ``--parallel N``;
  3. ``auditor scan --context ...`` against one API test server per cluster, each its own process
     (``python -m tests.kubeapi``), with ``--parallel 1`` and ``--parallel N``.
With ``--parallel N`` a scan reads, analyses and judges each cluster in a worker process
(``pipeline.ClusterJudge``). Scans 2 and 3 alternate (1, N, 1, N, ...) ``--rounds`` times, so that a machine
shared with other work slows both alike, and print each run and the medians: wall time, CPU seconds (the
scan's own, then its worker processes'), peak RSS (ru_maxrss of the scan, and of its largest worker), the
speed-up against the 1.6x target (live: API servers in their own processes; dumps: the same target, printed
for comparison) and the peak RSS of --parallel N over --parallel 1: memory must stay within the sum of the
records, which a sequential run of every cluster already holds (target: at most 1.25x the sequential peak; the
workers' peaks are printed beside it, not added: a child's RSS counts the pages it shares with the scan).
The load average is printed with each run: on a shared machine wall times swing, CPU seconds less.

``--latency MS`` holds every request to the API test servers that long (``python -m tests.kubeapi
--latency``): an API server across a network, where a reader waits for each page; on loopback it waits for
almost nothing and the scan is CPU-bound. ``--apart`` adds a third scan to each live round: every cluster in a
``scan --context`` process of its own, all at once, each writing its own document. No pickling, no merging:
what two cores give when clusters share nothing, the most ``--parallel`` could reach (its ratio is printed
beside the target as the ceiling, not as a result).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import scan as scan_bench  # noqa: E402  (bench/scan.py: the API test server in its own process)

SCAN_ENV = {**os.environ, "AUDITOR_STORE": ""}  # no history store: a scan only reads and prints
PYTHON = sys.executable
AS_OF = "2026-11-20T12:00:00Z"
TARGET = 1.6
RSS_TARGET = 1.25  # peak RSS of --parallel N over --parallel 1 (the sum of the records: sequential holds them all)

READ = r"""
import resource, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from auditor.collect.dump import read_dump
from auditor.collect.heap import gc_paused
from auditor.collect.parallel import read_in_processes
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
else:  # what scan --context does with live clusters: forked children, inventories pickled back
    inventories = [inv for _, inv, _ in read_in_processes([(str(p), lambda _, p=p: read(p)) for p in dumps],
                                                          workers, None)]
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


Timed = tuple[float, float, str, float, float, float]


PROBE = ("import resource, runpy, sys; sys.argv = ['auditor'] + sys.argv[1:];\n"
         "try:\n    runpy.run_module('auditor', run_name='__main__')\n"
         "finally:\n    u = resource.getrusage(resource.RUSAGE_SELF)\n"
         "    c = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
         "    print(u.ru_utime + u.ru_stime, u.ru_maxrss / 1024, c.ru_utime + c.ru_stime, c.ru_maxrss / 1024,\n"
         "          file=sys.stderr)")


def scan_command(args: list[str]) -> list[str]:
    """``auditor scan ARGS -o json`` under a probe that prints its CPU seconds and peak RSS, and its children's,
    as the last line of its stderr."""
    return [PYTHON, "-c", PROBE, "scan", *args, "--as-of", AS_OF, "--no-secret-values", "-o", "json"]


def probed(returncode: int, stdout: str, stderr: str) -> tuple[str, float, float, float, float]:
    """A probed scan's document digest, CPU seconds, peak RSS (MB), children's CPU and largest peak RSS."""
    if returncode not in (0, 1, 3):
        raise SystemExit(f"scan failed ({returncode}): {stderr[-2000:]}")
    cpu, rss, child_cpu, child_rss = stderr.strip().splitlines()[-1].split()
    digest = hashlib.sha256(stdout.encode()).hexdigest()
    return digest, float(cpu), float(rss), float(child_cpu), float(child_rss)


def timed_scan(args: list[str]) -> Timed:
    """Seconds, peak RSS (MB) of ``auditor scan ARGS -o json``, its stdout's digest, its CPU seconds, its worker
    processes' CPU seconds and the largest worker's peak RSS (MB). Only the digest is kept: a scan's peak RSS
    (ru_maxrss) starts from this process's RSS when it forks the scan (Linux keeps it across exec), so this
    process must stay small however many documents it compares."""
    start = time.perf_counter()
    out = run(scan_command(args), env=SCAN_ENV)
    seconds = time.perf_counter() - start
    digest, cpu, rss, child_cpu, child_rss = probed(out.returncode, out.stdout, out.stderr)
    return seconds, rss, digest, cpu, child_cpu, child_rss


def timed_apart(scans: list[list[str]]) -> Timed:
    """Every scan of ``scans`` in a process of its own, all started at once: the seconds until the last ends,
    the largest peak RSS, the digest of their documents in order, their CPU seconds summed (each scan's own,
    then its children's) and their children's largest peak RSS."""
    start = time.perf_counter()
    procs = [subprocess.Popen(scan_command(args), cwd=ROOT, env=SCAN_ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in scans]
    outs = [(p, *p.communicate()) for p in procs]
    seconds = time.perf_counter() - start
    each = [probed(p.returncode, out, err) for p, out, err in outs]
    digest = hashlib.sha256("".join(e[0] for e in each).encode()).hexdigest()
    return (seconds, max(e[2] for e in each), digest, sum(e[1] for e in each), sum(e[3] for e in each),
            max(e[4] for e in each))


def stamp() -> str:
    """When, and how busy the machine was (the 1-minute load average): wall times depend on it."""
    return f"{time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()[0]:.1f}"


def show(label: str, run: Timed) -> None:
    seconds, rss, _, cpu, child_cpu, child_rss = run
    workers_part = (f"  + children {child_cpu:5.2f} s CPU, largest peak RSS {child_rss:4.0f} MB"
                    if child_cpu >= 0.05 else "")
    print(f"  {label:<13} {seconds:7.2f} s wall  {cpu:7.2f} s CPU  peak RSS {rss:6.0f} MB{workers_part}  "
          f"({stamp()})", flush=True)


def alternate(args: list[str], workers: int, rounds: int, separately: list[list[str]] | None = None,
              ) -> tuple[list[Timed], list[Timed], list[Timed]]:
    """``--parallel 1`` and ``--parallel N`` in turn, ``rounds`` times each; with ``separately``, each round
    also runs those scans as processes of their own, all at once (:func:`timed_apart`)."""
    ones, manys, aparts = [], [], []
    for _ in range(rounds):
        ones.append(timed_scan([*args, "--parallel", "1"]))
        show("--parallel 1", ones[-1])
        manys.append(timed_scan([*args, "--parallel", str(workers)]))
        show(f"--parallel {workers}", manys[-1])
        if separately:
            aparts.append(timed_apart(separately))
            show(f"{len(separately)} apart", aparts[-1])
    return ones, manys, aparts


def median(runs: list[Timed]) -> Timed:
    """Each measure's median over the runs (the document: the first run's)."""
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[0][2],
            statistics.median(r[3] for r in runs), statistics.median(r[4] for r in runs),
            statistics.median(r[5] for r in runs))


def compare(ones: list[Timed], manys: list[Timed], workers: int, what: str) -> None:
    """--parallel 1 against --parallel N: medians of wall, CPU, peak RSS; the speed-up and the memory ratio."""
    one, many = median(ones), median(manys)
    print(f"  medians of {len(ones)} alternating runs each:")
    show("--parallel 1", one)
    show(f"--parallel {workers}", many)
    speedup, memory = one[0] / many[0], many[1] / one[1]
    print(f"  {what} speed-up {speedup:.2f}x (each round: "
          f"{', '.join(f'{a[0] / b[0]:.2f}x' for a, b in zip(ones, manys, strict=True))}); target >= {TARGET}x on "
          f"{os.cpu_count()} cores: {'ok' if speedup >= TARGET else 'MISS'}")
    print(f"  CPU seconds: {one[3] + one[4]:.2f} one at a time ({one[3]:.2f} the scan's own + {one[4]:.2f} its "
          f"split reader's, live), {many[3] + many[4]:.2f} with workers ({many[3]:.2f} the scan's own + "
          f"{many[4]:.2f} its workers')")
    print(f"  peak RSS --parallel {workers} / --parallel 1: {memory:.2f}  (target <= {RSS_TARGET}: "
          f"{'ok' if memory <= RSS_TARGET else 'MISS'}; the sequential run holds every cluster's records)")
    if many[4] >= 0.05:
        print(f"  with the workers: {many[1]:.0f} MB + at most {workers} x {many[5]:.0f} MB = "
              f"{many[1] + workers * many[5]:.0f} MB at most (a worker's RSS counts pages it shares with the scan)")
    same = all(r[2] == ones[0][2] for r in [*ones, *manys])
    print(f"  same document in every run: {same}  (ended {stamp()})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each scan")
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this directory")
    parser.add_argument("--only", choices=("reads", "dumps", "live"), help="one of the three measurements")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS",
                        help="milliseconds each API request waits (an API server across a network; default 0)")
    parser.add_argument("--apart", action="store_true",
                        help="live: also time every cluster in its own scan process, all at once (the ceiling)")
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
        scans(dumps, args.workers, args.rounds)
    if args.only in (None, "live"):
        live(dumps, args.workers, base, args.rounds, args.latency, args.apart)
    return 0


def reads(dumps: list[Path], workers: int) -> None:
    print(f"\nreading the dumps (read_dump only), {stamp()}:")
    reads = {}
    for mode in ("sequential", "threads", "processes"):
        out = run([PYTHON, "-c", READ, mode, str(workers), *map(str, dumps)], check=True)
        seconds, rss, children, pvcs = out.stdout.split()
        reads[mode] = float(seconds)
        print(f"  {mode:<11} {float(seconds):7.2f} s   peak RSS {rss} MB (children {children} MB), {pvcs} PVCs")
    for mode in ("threads", "processes"):
        print(f"  {mode}: {reads['sequential'] / reads[mode]:.2f}x")



def scans(dumps: list[Path], workers: int, rounds: int) -> None:
    snapshot_args = [a for d in dumps for a in ("--snapshot", str(d))]
    print(f"\nauditor scan --snapshot (dumps), {stamp()}:")
    ones, manys, _ = alternate(snapshot_args, workers, rounds)
    compare(ones, manys, workers, "dumps")


def live(dumps: list[Path], workers: int, base: Path, rounds: int, latency: float = 0.0,
         apart: bool = False) -> None:
    where = f"{latency:g} ms per request" if latency else "loopback, no added latency"
    print(f"\nauditor scan --context (one API test server process per cluster; {where}), {stamp()}:")
    servers: list[scan_bench.Server] = []
    try:
        config: dict[str, list[object]] = {"clusters": [], "users": [], "contexts": []}
        for i, dump in enumerate(dumps):
            server = scan_bench.Server(dump, base / f"server-{i + 1}.log", latency=latency).start()
            servers.append(server)
            url = server.url
            name = dump.name
            config["clusters"].append({"name": name, "cluster": {"server": url}})
            config["users"].append({"name": name, "user": {"token": "bench"}})
            config["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
        kubeconfig = base / "kubeconfig"
        kubeconfig.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", **config,
                                          "current-context": dumps[0].name}))
        contexts = ["--kubeconfig", str(kubeconfig), *(a for d in dumps for a in ("--context", d.name))]
        separately = [["--kubeconfig", str(kubeconfig), "--context", d.name] for d in dumps] if apart else None
        ones, manys, aparts = alternate(contexts, workers, rounds, separately)
        compare(ones, manys, workers, f"live ({where})")
        if aparts:
            ceiling(ones, aparts, len(dumps))
    finally:
        for server in servers:
            server.stop()


def ceiling(ones: list[Timed], aparts: list[Timed], clusters: int) -> None:
    """What separate processes, sharing nothing, gained over --parallel 1 in the same rounds."""
    one, apart = median(ones), median(aparts)
    print(f"  ceiling: {clusters} scans in processes of their own, all at once: {apart[0]:.2f} s wall, "
          f"{apart[3] + apart[4]:.2f} s CPU (each round: "
          f"{', '.join(f'{a[0] / b[0]:.2f}x' for a, b in zip(ones, aparts, strict=True))}); "
          f"median {one[0] / apart[0]:.2f}x over --parallel 1: no --parallel can go past this on this machine")


if __name__ == "__main__":
    sys.exit(main())
