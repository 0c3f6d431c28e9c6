"""What the HTTP threads read: one immutable snapshot per scan, published by swapping a reference."""

from __future__ import annotations

import threading
import time

import orjson

from auditor.output.document import build_document
from auditor.output.metrics import Exposition, MetricsInput


class Snapshot:
    """The newest scan's metrics (rendered once) and scan document (rendered on first request)."""

    def __init__(self, data: MetricsInput, *, ready: bool, seq: int) -> None:
        self.data = data
        self.ready = ready  # a scan has finished: /readyz answers 200
        self.seq = seq
        self.published_at = time.time()
        self.exposition = Exposition(data)
        self.exposition.gzipped()  # Prometheus asks for gzip: compress here, not in the first scrape
        self._document: bytes | None = None
        self._lock = threading.Lock()

    def document(self) -> bytes:
        """The scan document (docs/scan-document.md); a failed cluster's entry names the error."""
        with self._lock:
            if self._document is None:
                doc = build_document(self.data.result)
                errors = {h.cluster: h.error for h in self.data.health if not h.success and h.error}
                for entry in doc.get("clusters", []):
                    if entry.get("name") in errors:
                        entry["error"] = errors[entry["name"]]
                self._document = orjson.dumps(doc)
            return self._document


class Current:
    """The published snapshot. Readers take ``get()`` once per request; the scanner calls ``publish``."""

    def __init__(self, first: Snapshot) -> None:
        self._snapshot = first

    def get(self) -> Snapshot:
        return self._snapshot  # one reference read: atomic

    def publish(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
