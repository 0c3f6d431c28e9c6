#!/usr/bin/env python3
"""Start-up cost of a live ``auditor scan``: CPU seconds and RSS of the process just before its first list.

    python bench/startup.py [--repeat 7] [--kubeconfig K --context C] [--root CHECKOUT]

Without ``--kubeconfig`` it serves ``tests/kubeapi/testdata`` with the API test server (its own process). Each
run is a fresh interpreter running ``auditor scan --kubeconfig K --context C -o json``; the first list request
(after ``/version`` and discovery) ends it, and it prints its CPU (user + system, interpreter start included),
``VmRSS``, and whether the ``kubernetes`` package was imported. The best and median of the runs are printed.
``--root`` probes another checkout of the project (e.g. an older commit's worktree) with the same server.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import os, resource, sys
from auditor.collect import live

def first_list(self, *args, **kwargs):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
    loaded = any(m == "kubernetes" or m.startswith("kubernetes.") for m in sys.modules)
    print("PROBE " + __import__("json").dumps({"cpu": usage.ru_utime + usage.ru_stime, "rss_mb": rss / 1024,
                                               "kubernetes": loaded}), file=sys.stderr, flush=True)
    os._exit(0)

live.LiveSource._read_kind = first_list
from auditor.cli.base import main
main(["scan", "--kubeconfig", sys.argv[1], "--context", sys.argv[2], "-o", "json"])
"""


def probe(kubeconfig: str, context: str, root: Path) -> dict[str, float]:
    run = subprocess.run([sys.executable, "-c", PROBE, kubeconfig, context], capture_output=True, text=True,
                         timeout=120, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    for line in run.stderr.splitlines():
        if line.startswith("PROBE "):
            return dict(json.loads(line[6:]))
    raise SystemExit(f"the probe did not reach a list:\n{run.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--kubeconfig")
    parser.add_argument("--context", default="test")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose auditor is probed")
    args = parser.parse_args()
    server = None
    kubeconfig = args.kubeconfig
    if kubeconfig is None:
        kubeconfig = str(Path(tempfile.mkdtemp(prefix="startup-")) / "kubeconfig")
        server = subprocess.Popen([sys.executable, "-m", "tests.kubeapi", "--seed", "tests/kubeapi/testdata",
                                   "--port", "0", "--kubeconfig", kubeconfig],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith("READY"):
                break
    try:
        runs = [probe(kubeconfig, args.context, args.root.resolve()) for _ in range(args.repeat)]
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    load = os.getloadavg()[0]
    for key, unit in (("cpu", "s"), ("rss_mb", "MB")):
        values = sorted(r[key] for r in runs)
        print(f"{key}: best {values[0]:.3f} {unit}, median {statistics.median(values):.3f} {unit}")
    print(f"kubernetes imported: {sorted({bool(r['kubernetes']) for r in runs})}; {len(runs)} runs, "
          f"load average {load:.2f}")


if __name__ == "__main__":
    main()
