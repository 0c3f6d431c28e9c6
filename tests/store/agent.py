"""One agent for the hub tests (``python -m tests.store.agent URL DUMP CLUSTER COUNT START``): scans its dump
once, then records it COUNT times into the store at URL, one as-of minute apart, starting together with the
other agents at START (epoch seconds), printing ``recorded <as_of>`` after each. Its own engine, its own
process: what ``auditor serve --store`` in each cluster does."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor.output.document import build_document
from auditor.pipeline import ScanOptions, run_scan
from auditor.store import Store

BASE = datetime(2026, 11, 20, tzinfo=UTC)
INTERVAL = 60.0


def main(url: str, dump: str, cluster: str, count: int, start: float) -> None:
    result = run_scan(ScanOptions(snapshots=(Path(dump),), cluster_name=cluster, as_of=BASE))
    with Store(url) as store:
        while time.time() < start:
            time.sleep(0.005)
        for i in range(count):
            as_of = BASE + timedelta(minutes=i)
            scan = replace(result, as_of=as_of)
            store.record_scan(scan, build_document(scan), interval=INTERVAL)
            print(f"recorded {as_of.isoformat()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
