"""Which store errors are worth another attempt, and the bounded backoff between attempts.

A PostgreSQL restart, a failover or a fast shutdown makes every open transaction fail (admin shutdown,
server closed the connection) and new connections fail for a few seconds (connection refused, "the
database system is shutting down/starting up"); two writers may also meet a serialization failure or a
deadlock. All of these succeed when the same transaction is run again a little later, and running it
again is safe: every store write is one transaction, and an executor run's identity is unique, so a run
recorded twice is adopted, never doubled. Anything else (a constraint, a missing table, a bad password,
SQLite's own lock after its busy timeout) fails at once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: SQLSTATEs that a retry can cure: connection exceptions (class 08), serialization failure, deadlock,
#: admin/crash shutdown and "cannot connect now" (shutting down, starting up, in recovery).
TRANSIENT_STATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03"})
RETRY_FOR = 30.0  # seconds of retrying in total before the error is reported
RETRY_ENV = "AUDITOR_STORE_RETRY_SECONDS"  # overrides RETRY_FOR (0: fail at the first error)
FIRST_DELAY, MAX_DELAY = 0.25, 4.0


def retry_seconds() -> float:
    """How long to keep retrying: ``AUDITOR_STORE_RETRY_SECONDS``, else 30 s (a bad value is ignored)."""
    try:
        return max(0.0, float(os.environ.get(RETRY_ENV, RETRY_FOR)))
    except ValueError:
        return RETRY_FOR


def transient(exc: SQLAlchemyError) -> bool:
    """Whether the same transaction may succeed when run again (PostgreSQL only: see the module docstring)."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    if exc.connection_invalidated:
        return True
    module = type(exc.orig).__module__ or ""
    if not module.startswith("psycopg"):
        return False  # SQLite: its busy timeout has already waited for the lock
    state = getattr(exc.orig, "sqlstate", None)
    if state is None:  # the driver failed before the server answered: refused, reset, closed
        return type(exc.orig).__name__ in ("OperationalError", "InterfaceError")
    return state in TRANSIENT_STATES or str(state).startswith("08")


def retried(action: str, fn: Callable[[], T], retry_for: float = RETRY_FOR,
            sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, run again after a transient error with a doubling delay, for at most ``retry_for`` seconds;
    the last error is raised as it is."""
    deadline = time.monotonic() + retry_for
    delay = FIRST_DELAY
    attempt = 1
    while True:
        try:
            return fn()
        except SQLAlchemyError as exc:
            remaining = deadline - time.monotonic()
            if not transient(exc) or remaining <= 0:
                raise
            detail = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
            log.warning("history store: cannot %s (attempt %d: %s); trying again in %.1f s", action, attempt,
                        detail, min(delay, remaining))
            sleep(min(delay, remaining))
            delay, attempt = min(delay * 2, MAX_DELAY), attempt + 1
