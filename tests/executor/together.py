"""Run an ``auditor`` command at an agreed instant (``python -m tests.executor.together GO_FILE ARGS...``).

Imports everything the command needs, prints ``ready``, waits until GO_FILE exists and holds an epoch
time, sleeps until then and runs ``auditor ARGS``: processes started seconds apart by a loaded machine
still race within a millisecond, as two cron jobs or two automation runs do.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import auditor.executor.drill_io
import auditor.executor.runner
import auditor.store  # noqa: F401 - imported before the agreed instant, not after it
from auditor.cli import main


def run(go: Path, args: list[str]) -> None:
    print("ready", flush=True)
    while not go.exists() or not go.read_text().strip():
        time.sleep(0.002)
    at = float(go.read_text())
    while time.time() < at:
        time.sleep(max(0.0, min(0.001, at - time.time())))
    main(args, prog_name="auditor")


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2:])
