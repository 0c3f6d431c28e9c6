#!/usr/bin/env python3
"""Benchmark ``auditor report``: the demo (HTML + PDF) and a PDF at the large benchmark size.

    python bench/report.py [--scan FILE] [--volumes 20000] [--keep DIR]

1. Demo: ``auditor report --demo --format html,pdf`` end to end (interpreter start, scan, render, write).
2. Large: a scan document at the large benchmark's size (20,000 volumes in 2,000 namespaces, one finding
   per volume, 200 schedules with a month of runs, ~41,000 passed checks, six frameworks) is
   synthesised in this process — or ``--scan FILE`` reads a real one (``auditor scan --snapshot
   bench/data/large -o json``; a scan of that size takes minutes and gigabytes of its own, which is
   ``bench/scan.py``'s business) — then ``auditor report --from-scan FILE --format pdf`` and
   ``--format html,csv`` run, each measured alone.

Each run is its own child process; wall time and peak RSS come from ``os.wait4``. Limits (exit 1 when
exceeded): demo ≤ 5 s; large PDF ≤ 30 s and ≤ 800 MB peak RSS. The PDF caps its long tables (and says
where the full lists are), which is what keeps it within them.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
AUDITOR = str(ROOT / ".venv" / "bin" / "auditor") if (ROOT / ".venv" / "bin" / "auditor").exists() else "auditor"
LIMITS = {"demo": (5.0, None), "large pdf": (30.0, 800.0)}
AS_OF = "2026-11-20T12:00:00Z"


def measure(label: str, argv: Sequence[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out, err = proc.stdout.read() if proc.stdout else b"", proc.stderr.read() if proc.stderr else b""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1: a cluster was unreachable, which a report still reports
        sys.exit(f"{label}: exit {code}\n{out.decode()}\n{err.decode()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def synthetic_document(volumes: int, seed: int = 1) -> dict[str, Any]:
    """A scan document shaped like the large benchmark's (``report_document`` keys included)."""
    from auditor.load.frameworks import frameworks_dir, load_frameworks

    rnd = random.Random(seed)
    namespaces = max(volumes // 10, 1)
    vols, findings, results = [], [], []
    for i in range(volumes):
        ns = f"team-{i % namespaces:04d}"
        stale = rnd.random() < 0.94
        point = {"time": f"2026-11-{rnd.randint(10, 18):02d}T02:00:00Z", "method": "csi-snapshot", "tool": "velero",
                 "source": f"Backup velero/sched-{i % 200:03d}-20261118020000", "evidence": "volumeinfo"}
        vols.append({"cluster": "bench-large", "namespace": ns, "pvc": f"data-app-{i}", "pv": f"pvc-{i:08x}",
                     "storage_class": "ceph-rbd", "status": "stale" if stale else "unprotected", "audited": True,
                     "last_success": point["time"] if stale else None, "methods": ["csi-snapshot"] if stale else [],
                     "covered_by": [f"velero/sched-{i % 200:03d}"] if stale else [], "policy": "default",
                     "rpo_seconds": 86400.0, "retention_seconds": 604800.0,
                     "reasons": [f"newest recovery point ({point['source']}, csi-snapshot) is 2d old, beyond the RPO "
                                 "of 1d"] if stale else [f"no enabled schedule includes namespace {ns}"],
                     "recovery_points": [point] if stale else []})
        rule = "FRS-001" if stale else "COV-001"
        findings.append({"rule_id": rule, "severity": "high", "status": "open", "cluster": "bench-large",
                         "kind": "PersistentVolumeClaim", "namespace": ns, "name": f"data-app-{i}",
                         "message": f"PVC {ns}/data-app-{i}: " + vols[-1]["reasons"][0],
                         "evidence": {"status": vols[-1]["status"], "rpo_seconds": 86400.0}})
        for r in ("COV-002", "COV-003"):
            results.append({"rule_id": r, "severity": "high", "status": "pass", "cluster": "bench-large",
                            "kind": "PersistentVolumeClaim", "namespace": ns, "name": f"data-app-{i}", "message": ""})
    schedules = [{"cluster": "bench-large", "namespace": "velero", "name": f"sched-{s:03d}", "tool": "velero",
                  "cron": "0 2 * * *", "enabled": True, "paused": False, "phase": "Enabled", "problem": None,
                  "interval_seconds": 86400.0, "ttl_seconds": 604800.0, "backups": 250, "missed_runs": 0,
                  "latest": {"name": f"sched-{s:03d}-20261120020000", "phase": "Completed",
                             "time": "2026-11-20T02:00:00Z", "errors": 0, "warnings": 0, "failure_reason": None},
                  "last_success": {"name": f"sched-{s:03d}-20261120020000", "phase": "Completed",
                                   "time": "2026-11-20T02:00:00Z", "errors": 0, "warnings": 0,
                                   "failure_reason": None},
                  "runs": [{"time": f"2026-{10 + (d > 19)}-{(d % 30) + 1:02d}T02:00:00Z",
                            "phase": rnd.choice(("Completed",) * 8 + ("PartiallyFailed", "Failed")),
                            "errors": 0, "warnings": 0} for d in range(30)]} for s in range(200)]
    compliance = [{"cluster": "bench-large", "framework": f.id, "name": f.name, "score": 0.66, "coverage": 1.0,
                   "controls": [{"control_id": c.id, "title": c.title, "rules": list(c.rules), "status": "fail",
                                 "passed": 41000, "failed": 20000, "not_evaluated": 0, "excepted": 0}
                                for c in f.controls]} for f in load_frameworks(frameworks_dir())]
    by_status = {s: sum(v["status"] == s for v in vols) for s in ("protected", "stale", "unprotected", "unknown")}
    return {
        "schema_version": "1", "tool_version": "bench", "as_of": AS_OF,
        "clusters": [{"name": "bench-large", "complete": True, "gaps": [], "error": None,
                      "source": "snapshot:bench/data/large", "server_version": "v1.33.5", "unknown_kinds": {},
                      "counts": {"namespaces": namespaces, "pvcs": volumes, "pvs": volumes, "pods": 2 * volumes,
                                 "schedules": 200, "backups": 50000}}],
        "volumes": vols, "findings": findings, "compliance": compliance, "credentials": [], "exceptions": None,
        "schedules": schedules, "storage_locations": [], "results": results,
        "summary": {"clusters": 1, "clusters_complete": 1, "volumes": volumes, "volumes_audited": volumes,
                    "volumes_by_status": by_status, "protected_ratio": 0.0, "findings": len(findings),
                    "findings_by_severity": {"critical": 0, "high": len(findings), "medium": 0, "low": 0, "info": 0},
                    "checks": {"pass": len(results), "open": len(findings), "excepted": 0, "not-evaluated": 0,
                               "error": 0}},
    }


def pages(pdf: Path) -> str:
    try:
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60).stdout
    except OSError:
        return "?"
    return next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scan", type=Path, help="a saved scan document to report on (default: synthesised)")
    parser.add_argument("--volumes", type=int, default=20000, help="size of the synthesised document")
    parser.add_argument("--keep", type=Path, help="write the reports here and keep them")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    out = args.keep or work / "out"
    failed = False
    try:
        figures: list[tuple[str, float, float, float, str]] = []
        demo = [AUDITOR, "report", "--demo", "--format", "html,pdf", "--out", str(out / "demo")]
        wall, cpu, rss = measure("demo", demo)
        figures.append(("demo", wall, cpu, rss, f"{pages(next((out / 'demo').glob('*.pdf')))} pages"))
        scan = args.scan
        if scan is None:
            started = time.perf_counter()
            scan = work / "large-scan.json"
            scan.write_bytes(orjson.dumps(synthetic_document(args.volumes)))
            print(f"synthesised a {args.volumes:,}-volume scan document ({scan.stat().st_size / 1e6:.1f} MB) in "
                  f"{time.perf_counter() - started:.1f} s")
        for label, formats in (("large pdf", "pdf"), ("large html+csv", "html,csv")):
            wall, cpu, rss = measure(label, [AUDITOR, "report", "--from-scan", str(scan), "--format", formats,
                                        "--out", str(out / "large")])
            pdf = next((out / "large").glob("*.pdf"), None)
            figures.append((label, wall, cpu, rss, f"{pages(pdf)} pages" if formats == "pdf" and pdf else ""))
        print(f"{'run':<16} {'wall s':>8} {'cpu s':>7} {'peak RSS MB':>12}  limit")
        for label, wall, cpu, rss, note in figures:
            max_wall, max_rss = LIMITS.get(label, (None, None))
            ok = (max_wall is None or wall <= max_wall) and (max_rss is None or rss <= max_rss)
            failed |= not ok
            limit = " and ".join(x for x in (f"≤ {max_wall:g} s" if max_wall else "",
                                             f"≤ {max_rss:g} MB" if max_rss else "") if x)
            verdict = "" if ok else "EXCEEDED "
            print(f"{label:<16} {wall:>8.2f} {cpu:>7.2f} {rss:>12.0f}  {limit or '—'} {verdict}{note}")
        print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; on a busy machine wall time "
              "exceeds CPU time)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
