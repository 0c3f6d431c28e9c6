"""When the scanner runs: at once, on the interval, and once per settled burst of watch events."""

from __future__ import annotations

import threading
import time

from auditor.server.trigger import RescanTrigger


def test_first_scan_is_immediate_then_the_interval() -> None:
    trigger = RescanTrigger(interval=0.3, quiet=0.05, max_delay=0.2)
    started = time.monotonic()
    assert trigger.wait(1) == "interval"
    assert time.monotonic() - started < 0.05
    assert trigger.wait(0.1) is None  # nothing due yet
    assert trigger.wait(1) == "interval"
    assert 0.25 < time.monotonic() - started < 0.6


def test_a_burst_becomes_one_scan_after_it_settles() -> None:
    trigger = RescanTrigger(interval=60, quiet=0.1, max_delay=1.0)
    assert trigger.wait(1) == "interval"
    for _ in range(5):
        trigger.notify()
        time.sleep(0.01)
    last = time.monotonic()
    assert trigger.wait(1) == "events"
    assert 0.08 < time.monotonic() - last < 0.3
    assert trigger.wait(0.3) is None  # the burst was consumed by one scan


def test_a_continuous_stream_still_scans_within_max_delay() -> None:
    trigger = RescanTrigger(interval=60, quiet=0.1, max_delay=0.3)
    assert trigger.wait(1) == "interval"
    stop = threading.Event()

    def chatter() -> None:
        while not stop.is_set():
            trigger.notify()
            time.sleep(0.02)

    thread = threading.Thread(target=chatter)
    started = time.monotonic()
    thread.start()
    try:
        assert trigger.wait(2) == "events"
        assert time.monotonic() - started < 0.45
    finally:
        stop.set()
        thread.join()


def test_event_scans_wait_at_least_one_scan_duration() -> None:
    trigger = RescanTrigger(interval=60, quiet=0.01, max_delay=0.05)
    assert trigger.wait(1) == "interval"
    trigger.scanned(0.4)  # the last scan took 0.4 s
    trigger.notify()
    started = time.monotonic()
    assert trigger.wait(2) == "events"
    assert time.monotonic() - started > 0.35


def test_stop_wakes_a_waiting_scanner() -> None:
    trigger = RescanTrigger(interval=60)
    assert trigger.wait(1) == "interval"
    threading.Timer(0.1, trigger.stop).start()
    started = time.monotonic()
    assert trigger.wait() is None
    assert time.monotonic() - started < 1
