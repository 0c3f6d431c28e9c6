#!/usr/bin/env python3
"""Benchmark custom CEL rules: what 10 rules add to a scan of 10,000 volumes (target: < 1 s).

    python bench/custom_rules.py [--volumes 10000] [--repeat 3] [--libraries]

The demo cluster is analysed once; its volumes are repeated (renamed) up to ``--volumes``, and
``evaluate_custom`` runs the ten rules below on that analysis: every volume's scan-document entry is
built, converted once and judged by each rule, messages evaluated for the failures, as in a scan.
The best of ``--repeat`` runs (CPU time of the process: wall time on a loaded machine counts the
other processes too) is compared with the target.

``--libraries`` also times one rule's evaluation with the other Python CEL implementations when they
are installed (pure-Python ``cel-python``, the Rust binding ``common-expression-language``): the
figures recorded in docs/custom-rules.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 1.0

RULES = [
    ("status", 'volume.status == "protected"', None),
    ("two-methods", 'size(volume.methods) >= 2', 'volume.namespace.startsWith("shop")'),
    ("covered", 'size(volume.covered_by) > 0', None),
    ("fresh", 'volume.last_success != null && as_of - timestamp(volume.last_success) < duration("48h")', None),
    ("rpo", 'volume.rpo_seconds <= 86400', None),
    ("retention", 'volume.retention_seconds >= 604800', 'volume.policy != "default"'),
    ("not-mover-only", '!(size(volume.methods) == 1 && volume.methods[0] == "data-mover")', None),
    ("points", 'volume.recovery_points.exists(p, p.evidence != "aggregate-counts")', None),
    ("storage-class", 'volume.storage_class == null || !volume.storage_class.endsWith("-local")', None),
    ("no-reasons", 'volume.reasons.all(r, !r.contains("failed"))', 'volume.audited'),
]


def write_rules(directory: Path) -> None:
    for i, (name, assertion, match) in enumerate(RULES, 1):
        text = [f"id: BENCH-{i:03d}", f"title: {name}", "severity: medium", "subject: volume",
                f"assert: '{assertion}'",
                "message: '\"PVC \" + volume.namespace + \"/\" + volume.pvc + \" fails " + name + "\"'"]
        if match:
            text.append(f"match: '{match}'")
        (directory / f"bench-{i:03d}.yaml").write_text("\n".join(text) + "\n")


def large_analysis(volumes: int) -> Any:
    from auditor.cli.shared import build_options
    from auditor.pipeline import run_scan

    result = run_scan(build_options(demo=True))
    analysis = next(c.analysis for c in result.clusters if c.analysis is not None)
    base = analysis.volumes
    grown = tuple(msgspec.structs.replace(base[i % len(base)], pvc=f"{base[i % len(base)].pvc}-{i}", audited=True)
                  for i in range(volumes))
    return replace(analysis, volumes=grown)


def measure(volumes: int, repeat: int) -> float:
    from auditor.custom_rules.evaluate import evaluate_custom
    from auditor.custom_rules.loader import load_rule_dirs

    with tempfile.TemporaryDirectory() as tmp:
        write_rules(Path(tmp))
        rules = load_rule_dirs([Path(tmp)])
    analysis = large_analysis(volumes)
    best = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        results = evaluate_custom(analysis, rules)
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    statuses = {s: sum(1 for r in results if r.status == s) for s in ("pass", "open", "error")}
    print(f"{len(rules)} rules x {volumes} volumes: {len(results)} results {statuses}")
    print(f"wall {best:.3f} s, CPU {cpu:.3f} s (on a shared machine the CPU time is the cost; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return cpu


def compare_libraries(evaluations: int = 2000) -> None:
    """One rule (assert + entry conversion) on one volume entry, per evaluation, in each library."""
    from auditor.cli.shared import build_options
    from auditor.output.document import volume_entry
    from auditor.pipeline import run_scan

    result = run_scan(build_options(demo=True))
    entry = next(volume_entry(v) for c in result.clusters if c.analysis for v in c.analysis.volumes)
    expression = 'volume.status == "protected" && size(volume.methods) >= 2'

    def timed(label: str, fn: Any) -> None:
        fn()
        start = time.perf_counter()
        for _ in range(evaluations):
            fn()
        print(f"  {label:<45} {(time.perf_counter() - start) / evaluations * 1e6:8.1f} us an evaluation")

    from cel_expr_python import cel

    from auditor.custom_rules.expressions import environment
    env = environment("volume")
    program = env.compile(expression)
    timed("cel-expr-python (C++, used)", lambda: program.eval(data={"volume": entry}).value())
    try:
        import cel as rust_cel  # type: ignore[import-not-found]

        rust = rust_cel.compile(expression)
        timed("common-expression-language (Rust)", lambda: rust.execute({"volume": entry}))
    except ImportError:
        print("  common-expression-language: not installed")
    try:
        import celpy  # type: ignore[import-not-found]

        celpy_env = celpy.Environment()
        prog = celpy_env.program(celpy_env.compile(expression))
        timed("cel-python (pure Python)", lambda: prog.evaluate({"volume": celpy.json_to_cel(entry)}))
    except ImportError:
        print("  cel-python: not installed")
    del cel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--libraries", action="store_true", help="also compare the CEL libraries installed")
    args = parser.parse_args()
    seconds = measure(args.volumes, args.repeat)
    verdict = "OK" if seconds < TARGET_SECONDS else "OVER TARGET"
    print(f"custom rules added {seconds:.3f} s (target < {TARGET_SECONDS:.1f} s for 10 rules x 10,000 volumes): "
          f"{verdict}")
    if args.libraries:
        compare_libraries()
    return 0 if seconds < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
