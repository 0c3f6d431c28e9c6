"""The watched kinds' current records, kept by the watchers: what makes an event-triggered rescan cheap.

Like an informer's store: each watcher fills its kind from a full list, then applies every event. A
rescan triggered by events takes the watched kinds (Backups, Schedules, storage locations, PVCs, PVs,
Pods) from here and everything else from the newest full scan, so it costs an analysis, not a re-read of
the cluster; the full rescan on the interval reads everything again. A kind whose watch is down is not
*synced*, and then the next rescan is a full one: the cache is never trusted beyond what it saw.
"""

from __future__ import annotations

import gc
import threading
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from auditor.collect.kinds import ResourceKind
from auditor.model.inventory import Inventory

Key = tuple[str, str]  # (namespace, name)


class WatchCache:
    """Records by (cluster, kind field) and object key; thread-safe; records are immutable and shared."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], dict[Key, Any]] = {}
        self._synced: set[tuple[str, str]] = set()

    def replace_all(self, cluster: str, kind: ResourceKind, records: dict[Key, Any]) -> None:
        """A full list: the kind's records are exactly these (not yet synced until the stream runs)."""
        with self._lock:
            self._records[(cluster, kind.field)] = dict(records)

    def apply(self, cluster: str, kind: ResourceKind, key: Key, record: Any | None) -> None:
        """One event: the object's new record, or None when it was deleted."""
        with self._lock:
            records = self._records.setdefault((cluster, kind.field), {})
            if record is None:
                records.pop(key, None)
            else:
                records[key] = record

    def set_synced(self, cluster: str, kind: ResourceKind, synced: bool) -> None:
        """Synced while the kind's watch stream is open after a full list; an unreadable object unsyncs it."""
        with self._lock:
            (self._synced.add if synced else self._synced.discard)((cluster, kind.field))

    def records(self, cluster: str, kinds: list[ResourceKind]) -> dict[str, tuple[Any, ...]] | None:
        """Every kind's records, in the inventory's order; None unless all of them are synced."""
        with self._lock:
            if any((cluster, k.field) not in self._synced for k in kinds):
                return None
            return {k.field: tuple(sorted(self._records.get((cluster, k.field), {}).values(), key=_order))
                    for k in kinds}


def _order(rec: Any) -> tuple[str, str, str]:
    """The order :class:`auditor.collect.builder.InventoryBuilder` freezes records in."""
    return (getattr(rec, "kind", "") or "", rec.meta.namespace or "", rec.meta.name)


class IncrementalCollector:
    """The pipeline's collector in ``auditor serve``: a full read when asked (or when the cache cannot serve),
    else the newest full inventory with the watched kinds taken from the cache."""

    def __init__(self, cache: WatchCache, kinds: list[ResourceKind]) -> None:
        self.cache = cache
        self.kinds = kinds
        self.full = True  # the scanner sets this per scan
        self._last_full: dict[str, Inventory] = {}
        self.incremental_scans = 0

    def __call__(self, target: Any, source: Any, sink: Any = None) -> Inventory:
        cluster = target.name
        base = self._last_full.get(cluster)
        fresh = None if self.full or base is None else self.cache.records(cluster, self.kinds)
        if base is None or fresh is None:
            inventory: Inventory = source.collect(sink)
            self._last_full[cluster] = inventory
            return inventory
        self.incremental_scans += 1
        backup_namespaces = sorted({rec.meta.namespace for name in ("bsls", "schedules", "backups")
                                    for rec in (fresh[name] if name in fresh else getattr(base, name))
                                    if rec.meta.namespace})
        changes: dict[str, Any] = {**fresh, "collected_at": datetime.now(UTC),
                                   "backup_namespaces": tuple(backup_namespaces)}
        inventory = replace(base, **changes)
        gc.freeze()  # as after a full read (gc_paused): the records live long and have no cycles to find
        return inventory
