"""The progress line of a live scan on a terminal: the kind being read, its pages and objects, kinds done."""

from __future__ import annotations

from typing import Any

from rich.markup import escape


class ScanProgress:
    """A ``Progress`` callback (``LiveSource`` calls it after each page with the kind and objects so far)."""

    def __init__(self, console: Any) -> None:
        self.status = console.status("scanning…")
        self.status.start()
        self.resource: str | None = None
        self.pages = 0
        self.kinds = 0
        self.objects = 0

    def line(self, resource: str, count: int) -> str:
        if resource != self.resource:
            if self.resource is not None:
                self.kinds += 1
                self.objects += self._last
            self.resource, self.pages = resource, 0
        self.pages += 1
        self._last = count
        return (f"reading {resource}: {count:,} objects, page {self.pages} · {self.kinds} kinds read "
                f"({self.objects:,} objects)")

    def __call__(self, resource: str, count: int) -> None:
        self.status.update(escape(self.line(resource, count)))

    def show(self, line: str) -> None:
        """A whole line (several clusters read at once: ``auditor.collect.parallel.ClusterProgress``)."""
        self.status.update(escape(line))

    def stop(self) -> None:
        self.status.stop()

    _last = 0
