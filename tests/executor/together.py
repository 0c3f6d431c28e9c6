"""Run an ``auditor`` command at an agreed instant (``python -m tests.executor.together GO_FILE ARGS...``).

Imports everything the command needs, prints ``ready``, waits until GO_FILE exists and holds an epoch
time, sleeps until then and runs ``auditor ARGS``: processes started seconds apart by a loaded machine
still start within a millisecond, as two cron jobs or two automation runs do. Their first call on the
history store is held until ``STORE_DELAY`` seconds after that instant too: the requests before it (the
kubeconfig, the Schedule, opening the store) take each process a different time, and the race that
matters is the store's, so every process reaches it in the same millisecond. The clock the commands name
their runs by reads the agreed instant: on a loaded machine a process woken late could otherwise cross a
second boundary and name a different run, which is a different identity, not the race under test.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import auditor.cli.drill
import auditor.cli.executor
import auditor.executor.drill_io
import auditor.executor.runner  # imported before the agreed instant, not after it
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


def freeze_naming_clock(at: float) -> None:
    """``datetime.now()`` in the commands that name runs returns ``at`` (see the module's docstring)."""

    class AgreedClock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return datetime.fromtimestamp(at, tz)

    auditor.cli.executor.datetime = AgreedClock  # type: ignore[misc]
    auditor.cli.drill.datetime = AgreedClock  # type: ignore[misc]


def run(go: Path, args: list[str]) -> None:
    print("ready", flush=True)
    while not go.exists() or not go.read_text().strip():
        time.sleep(0.002)
    at = float(go.read_text())
    hold_first_store_call(at + STORE_DELAY)
    freeze_naming_clock(at)
    sleep_until(at)
    main(args, prog_name="auditor")


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2:])
