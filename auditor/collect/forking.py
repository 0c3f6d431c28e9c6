"""What the two places that fork a scan's children (``parallel``, ``split``) share: a child's first step, and
how the parent words the way one ended."""

from __future__ import annotations

import ctypes
import os
import signal


def die_with(parent: int) -> None:
    """Have the kernel kill this child when the parent dies (Linux), so that no read outlives its scan."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


def how_it_ended(status: int) -> str:
    """A reaped child's wait status in words: "was killed by signal N" or "exited with status N"."""
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
