"""Run an ``auditor`` command at an agreed instant (``python -m tests.executor.together GO_FILE ARGS...``).

Imports everything the command needs, prints ``ready``, waits until GO_FILE exists and holds an epoch
time, sleeps until then and runs ``auditor ARGS``: processes started seconds apart by a loaded machine
still start within a millisecond, as two cron jobs or two automation runs do. Their first call on the
history store is held until ``STORE_DELAY`` seconds after that instant too: the requests before it (the
kubeconfig, the Schedule, opening the store) take each process a different time, and the race that
matters is the store's, so every process reaches it in the same millisecond.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import auditor.executor.drill_io
import auditor.executor.runner  # noqa: F401 - imported before the agreed instant, not after it
from auditor.cli import main
from auditor.store import Store

STORE_DELAY = 3.0


def sleep_until(at: float) -> None:
    while time.time() < at:
        time.sleep(max(0.0, min(0.001, at - time.time())))


def hold_first_store_call(at: float) -> None:
    """Every process makes its first run lookup (resume, or begin) at ``at``."""
    held = [False]

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            if not held[0]:
                held[0] = True
                sleep_until(at)
            return method(*args, **kwargs)
        return call

    Store.unfinished_run = wrap(Store.unfinished_run)  # type: ignore[method-assign]
    Store.begin_run = wrap(Store.begin_run)  # type: ignore[method-assign]


def run(go: Path, args: list[str]) -> None:
    print("ready", flush=True)
    while not go.exists() or not go.read_text().strip():
        time.sleep(0.002)
    at = float(go.read_text())
    hold_first_store_call(at + STORE_DELAY)
    sleep_until(at)
    main(args, prog_name="auditor")


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2:])
