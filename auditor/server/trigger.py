"""When the scanner runs next: on the interval, or once a burst of watch events has settled.

Events are debounced: a burst becomes one rescan ``quiet`` seconds after its last event, and never
later than ``max_delay`` after its first, so a Backup turning Failed shows within about a second
plus the scan's duration. Event-triggered scans start no sooner than one scan's duration after the
previous one ended, so a busy cluster keeps the scanner at most half busy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RescanTrigger:
    def __init__(self, interval: float, quiet: float = 0.2, max_delay: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.quiet = quiet
        self.max_delay = max_delay
        self._clock = clock
        self._cond = threading.Condition()
        self._first: float | None = None  # first and last event of the pending burst
        self._last: float | None = None
        self._next_full = clock()  # the first scan runs at once
        self._not_before = 0.0
        self._stopped = False

    def notify(self) -> None:
        """A watched object changed: rescan soon."""
        with self._cond:
            now = self._clock()
            if self._first is None:
                self._first = now
            self._last = now
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def scanned(self, duration: float) -> None:
        """A scan just ended: events wait at least as long as it took."""
        with self._cond:
            self._not_before = self._clock() + duration

    def _events_due_at(self) -> float | None:
        if self._first is None or self._last is None:
            return None
        return max(min(self._last + self.quiet, self._first + self.max_delay), self._not_before)

    def wait(self, timeout: float | None = None) -> str | None:
        """Block until a scan is due: ``"events"`` or ``"interval"``; None when stopped (or on timeout)."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while not self._stopped:
                now = self._clock()
                events_at = self._events_due_at()
                reason = "events" if events_at is not None and now >= events_at else \
                    "interval" if now >= self._next_full else None
                if reason:
                    self._first = self._last = None
                    if reason == "interval":  # an event rescan may read from the watch cache: not a full one
                        self._next_full = now + self.interval
                    return reason
                wake = min(t for t in (events_at, self._next_full, deadline) if t is not None)
                if deadline is not None and now >= deadline:
                    return None
                self._cond.wait(max(0.001, wake - now))
            return None
