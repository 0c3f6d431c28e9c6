#!/usr/bin/env python3
"""Compare ways of turning list JSON into records, per kind, on a benchmark data set (docs/decoding.md).

    python bench/decode.py [--data bench/data/large] [--repeat 3]

For each big kind's file (pods, PVs, PVCs, Backups, PodVolumeBackups) it times, in this process with the
cyclic GC paused as the scan pauses it: parsing only (``json.loads``, ``orjson.loads``, ``msgspec`` into
dicts, ``msgspec`` into the typed wire values), and the whole way to records (``orjson.loads`` + the checked
reader, and the typed decode + records as the scan does it). CPU seconds (``process_time``) are printed beside
wall seconds: on a shared machine they are the steadier figure. The fastest of ``--repeat`` runs is kept.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import orjson  # noqa: E402

from auditor.collect import decode  # noqa: E402
from auditor.collect.fields import FieldReader  # noqa: E402
from auditor.collect.kinds import BY_GROUP_KIND, TYPED  # noqa: E402

FILES = {
    "pods.json": ("", "Pod"),
    "persistentvolumes.json": ("", "PersistentVolume"),
    "persistentvolumeclaims.json": ("", "PersistentVolumeClaim"),
    "backups.json": ("velero.io", "Backup"),
    "podvolumebackups.json": ("velero.io", "PodVolumeBackup"),
}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(CPU s, wall s) of the fastest run, with the GC paused."""
    best: tuple[float, float] | None = None
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        c0, w0 = time.process_time(), time.perf_counter()
        result = fn()
        c1, w1 = time.process_time(), time.perf_counter()
        gc.enable()
        del result
        if best is None or c1 - c0 < best[0]:
            best = (c1 - c0, w1 - w0)
    assert best is not None
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data" / "large")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} cores, load average {load}, "
          f"msgspec {msgspec.__version__}, orjson {orjson.__version__}")
    ways = ("json.loads", "orjson.loads", "msgspec (dicts)", "msgspec typed", "orjson + checked", "typed + records")
    print(f"{'file':<28} {'MB':>6} {'objects':>8}  " + "  ".join(f"{w:>16}" for w in ways) + "   (CPU s)")
    totals = dict.fromkeys(ways, 0.0)
    for name, key in FILES.items():
        path = args.data / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        typed = TYPED[key]
        resource = BY_GROUP_KIND[key]
        count = len(orjson.loads(data)["items"])

        def checked(data: bytes = data, resource: Any = resource) -> list[Any]:
            return [resource.slim(FieldReader(item, "bench")) for item in orjson.loads(data)["items"]]

        def typed_records(data: bytes = data, typed: decode.Typed = typed) -> list[Any]:
            return typed.page_records(data)[0]

        runs = {
            "json.loads": lambda data=data: json.loads(data),
            "orjson.loads": lambda data=data: orjson.loads(data),
            "msgspec (dicts)": lambda data=data: msgspec.json.decode(data),
            "msgspec typed": lambda data=data, typed=typed: typed.page.decode(data),
            "orjson + checked": checked,
            "typed + records": typed_records,
        }
        cpu = {way: timed(fn, args.repeat)[0] for way, fn in runs.items()}
        for way in ways:
            totals[way] += cpu[way]
        print(f"{name:<28} {len(data) / 1e6:6.1f} {count:8d}  " + "  ".join(f"{cpu[w]:16.2f}" for w in ways))
    print(f"{'total':<44}  " + "  ".join(f"{totals[w]:16.2f}" for w in ways))
    return 0


if __name__ == "__main__":
    sys.exit(main())
