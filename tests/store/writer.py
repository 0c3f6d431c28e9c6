"""A separate process that records scans (``python -m tests.store.writer``), for the concurrency tests.

``loop URL DUMP CLUSTER COUNT START OFFSET``: wait until START (epoch seconds), then scan DUMP COUNT times
into the store at URL, one as-of minute apart from OFFSET, printing ``recorded <as_of>`` after each.
``hold URL DUMP MARKER``: write one scan's rows inside an open transaction, create MARKER, and wait to be
killed before committing.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor.pipeline import ScanOptions, run_scan
from auditor.recording import scan_and_record
from auditor.store import Store
from auditor.store.record import record_scan

BASE = datetime(2026, 11, 20, tzinfo=UTC)


def loop(url: str, dump: str, cluster: str, count: int, start: float, offset: int) -> None:
    while time.time() < start:
        time.sleep(0.005)
    for i in range(count):
        as_of = BASE + timedelta(minutes=offset + 2 * i)
        scan_and_record(ScanOptions(snapshots=(Path(dump),), cluster_name=cluster, as_of=as_of, store=url))
        print(f"recorded {as_of.isoformat()}", flush=True)


def hold(url: str, dump: str, marker: str) -> None:
    result = run_scan(ScanOptions(snapshots=(Path(dump),), cluster_name="prod", as_of=BASE))
    from auditor.output.document import build_document

    store = Store(url)
    with store._writer() as session, session.begin():
        record_scan(session, result, build_document(result), datetime.now(UTC))
        session.flush()
        Path(marker).touch()
        time.sleep(120)
    raise SystemExit("not killed")


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "loop":
        loop(args[0], args[1], args[2], int(args[3]), float(args[4]), int(args[5]))
    else:
        hold(args[0], args[1], args[2])
