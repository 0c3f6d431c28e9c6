"""The crash tests' one move: start a run, SIGKILL it once it created its object, run it again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from tests.kubeapi.server import KubeAPIServer
from tests.kubeapi.velero_sim import VeleroSimulator


def kill_once_created_then_rerun(args: list[str], created: Callable[[], Any], server: KubeAPIServer,
                                 step: float = 0.05) -> subprocess.CompletedProcess[str]:
    """``args`` runs until ``created()`` is truthy (no controller yet: it waits on an object that never moves),
    is killed with SIGKILL, and runs again in a later second (a fresh name would be a second object) with the
    simulated Velero and snapshot controllers moving things along; returns the rerun."""
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not created() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert created(), "the first run created its object"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    time.sleep(1.1)
    with VeleroSimulator(server, step=step) as controller:
        rerun = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert not controller.errors
    return rerun
