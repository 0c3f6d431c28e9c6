"""Fetch a list's pages one ahead in a worker thread (``live.PREFETCH``, off by default: docs/decoding.md)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Any, TypeVar

_PAGE, _ERROR, _END = "page", "error", "end"
T = TypeVar("T")


def prefetched(pages: Iterator[T], name: str) -> Generator[T, None, None]:
    """``pages``, fetched one page ahead in a worker thread.

    The server's work and the network wait for page n+1 then overlap the decoding of page n (the socket
    wait releases the GIL). Only one page waits in the queue, so memory stays at two pages. Errors are
    raised here, in order; when the caller stops early, the worker stops after its current request."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for page in pages:
                if not put((_PAGE, page)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the caller, which raises it
            put((_ERROR, exc))

    worker = threading.Thread(target=work, name=f"prefetch {name}", daemon=True)
    worker.start()
    try:
        while True:
            tag, value = handoff.get()
            if tag == _PAGE:
                yield value
            elif tag == _ERROR:
                raise value
            else:
                return
    finally:
        stop.set()
