"""What a forked child of a scan does first, shared by the two places that fork (``parallel``, ``split``)."""

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
