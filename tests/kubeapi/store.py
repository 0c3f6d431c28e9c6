"""In-memory object store with one global resourceVersion and a bounded watch-event history.

Objects are kept as their serialized JSON bytes (an immutable `Entry` per revision), so list pages
are joined from cached bytes without re-serialising, and readers never see a half-applied write.
Keys are etcd-like (`namespace/name`, or `name` for cluster-scoped types) and kept sorted per type,
so one namespace is a contiguous key range found by bisection and a page never scans the store.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

TypeKey = tuple[str, str]  # (group, plural)


class Entry:
    """One stored revision of an object: cached bytes plus what selectors and routing need."""

    __slots__ = ("data", "fields", "key", "labels", "name", "namespace", "rv")

    def __init__(
        self,
        namespace: str,
        name: str,
        data: bytes,
        labels: Mapping[str, str],
        fields: Mapping[str, str] | None,
        rv: int,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.key = f"{namespace}/{name}" if namespace else name
        self.data = data
        self.labels = labels
        self.fields = fields
        self.rv = rv

    def obj(self) -> dict[str, Any]:
        """A fresh (mutable, private) dict of the object."""
        out: dict[str, Any] = orjson.loads(self.data)
        return out

    def field_map(self) -> dict[str, str]:
        """Fields for field selectors: metadata ones plus the type's extra fields."""
        base = {"metadata.name": self.name, "metadata.namespace": self.namespace}
        if self.fields:
            base.update(self.fields)
        return base


def object_key(namespace: str, name: str) -> str:
    """Store key of an object (matches `Entry.key`)."""
    return f"{namespace}/{name}" if namespace else name


@dataclass(frozen=True)
class Event:
    """A committed change, kept for watches. `old` is the previous revision (for selector moves)."""

    rv: int
    type_key: TypeKey
    type: str  # ADDED | MODIFIED | DELETED
    entry: Entry
    old: Entry | None


class TypeStore:
    """Objects of one (group, plural) with keys kept sorted lazily (bulk seeding just appends)."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self._keys: list[str] = []
        self._dirty = False

    def sorted_keys(self) -> list[str]:
        """Sorted keys (sorting once after a bulk load)."""
        if self._dirty:
            self._keys = sorted(self.entries)
            self._dirty = False
        return self._keys

    def put(self, entry: Entry, bulk: bool = False) -> Entry | None:
        """Insert or replace; returns the previous revision."""
        old = self.entries.get(entry.key)
        self.entries[entry.key] = entry
        if old is None and not self._dirty:
            keys = self._keys
            if bulk:
                self._dirty = True
            elif not keys or entry.key > keys[-1]:
                keys.append(entry.key)
            else:
                bisect.insort(keys, entry.key)
        return old

    def remove(self, key: str) -> Entry | None:
        """Delete a key; returns the removed revision."""
        old = self.entries.pop(key, None)
        if old is not None and not self._dirty:
            i = bisect.bisect_left(self._keys, key)
            if i < len(self._keys) and self._keys[i] == key:
                del self._keys[i]
        return old

    def key_range(self, namespace: str | None) -> tuple[int, int]:
        """Index range of one namespace's keys (`ns/` .. `ns0`, '0' sorts right after '/')."""
        keys = self.sorted_keys()
        if not namespace:
            return 0, len(keys)
        return bisect.bisect_left(keys, namespace + "/"), bisect.bisect_left(keys, namespace + "0")


Matcher = Callable[[Entry], bool]


class Store:
    """All objects, the resourceVersion counter and the event history; one lock guards it all."""

    def __init__(self, history: int = 10_000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 0
        self.types: dict[TypeKey, TypeStore] = {}
        self.events: deque[Event] = deque(maxlen=history)
        self.ring_floor = 0  # every event with rv > ring_floor is still in `events`
        self.start_floor = 0  # a watch may not start before this (bulk seeds emit no events)

    def next_rv(self) -> int:
        """Reserve the next resourceVersion (call with the lock held)."""
        self.rv += 1
        return self.rv

    def bump_to(self, rv: int) -> None:
        """Make sure later revisions are above a seeded object's resourceVersion."""
        if rv > self.rv:
            self.rv = rv

    def type_store(self, type_key: TypeKey) -> TypeStore:
        """The per-type store, created on demand."""
        ts = self.types.get(type_key)
        if ts is None:
            ts = self.types[type_key] = TypeStore()
        return ts

    def get(self, type_key: TypeKey, namespace: str, name: str) -> Entry | None:
        """Current revision or None."""
        ts = self.types.get(type_key)
        return ts.entries.get(object_key(namespace, name)) if ts else None

    def commit(self, type_key: TypeKey, entry: Entry, etype: str | None = None) -> Entry | None:
        """Store a new revision and record an ADDED/MODIFIED event (lock held by caller or taken)."""
        with self.lock:
            old = self.type_store(type_key).put(entry)
            self._emit(Event(entry.rv, type_key, etype or ("MODIFIED" if old else "ADDED"), entry, old))
            return old

    def remove(self, type_key: TypeKey, final: Entry) -> Entry | None:
        """Delete the object and record a DELETED event carrying its final revision."""
        with self.lock:
            ts = self.types.get(type_key)
            old = ts.remove(final.key) if ts else None
            if old is not None:
                self._emit(Event(final.rv, type_key, "DELETED", final, old))
            return old

    def bulk_load(self, type_key: TypeKey, entries: Iterable[Entry]) -> int:
        """Seed without events; watches from before the seed must relist (410)."""
        n = 0
        with self.lock:
            ts = self.type_store(type_key)
            for e in entries:
                ts.put(e, bulk=True)
                self.bump_to(e.rv)
                n += 1
            self.start_floor = self.rv
        return n

    def _emit(self, ev: Event) -> None:
        if len(self.events) == self.events.maxlen:
            self.ring_floor = self.events[0].rv
        self.events.append(ev)
        self.changed.notify_all()

    def page(
        self,
        type_key: TypeKey,
        namespace: str | None,
        after: str | None,
        limit: int,
        match: Matcher | None,
    ) -> tuple[list[Entry], str | None, int | None, int]:
        """One list page: (entries, continue-after key, remainingItemCount, current resourceVersion).

        Scans only from the continue position; with a selector, the continue key is the last key
        examined (like the apiserver's etcd paging), and remainingItemCount is left out.
        """
        with self.lock:
            ts = self.types.get(type_key)
            if ts is None:
                return [], None, None, self.rv
            keys = ts.sorted_keys()
            lo, hi = ts.key_range(namespace)
            if after:
                lo = max(lo, bisect.bisect_right(keys, after, lo, hi))
            entries = ts.entries
            if match is None:
                end = min(hi, lo + limit) if limit > 0 else hi
                out = [entries[k] for k in keys[lo:end]]
                i = end
            else:
                out = []
                i = lo
                while i < hi:
                    e = entries[keys[i]]
                    i += 1
                    if match(e):
                        out.append(e)
                        if limit > 0 and len(out) >= limit:
                            break
            if i < hi:
                return out, keys[i - 1], (hi - i if match is None else None), self.rv
            return out, None, None, self.rv

    def events_after(self, rv: int) -> list[Event] | None:
        """Events newer than rv, oldest first; None if some were already dropped from the ring."""
        if rv < self.ring_floor:
            return None
        out: list[Event] = []
        for ev in reversed(self.events):
            if ev.rv <= rv:
                break
            out.append(ev)
        out.reverse()
        return out

    def count(self, type_key: TypeKey | None = None) -> int:
        """Number of stored objects (of one type, or all)."""
        with self.lock:
            if type_key is not None:
                ts = self.types.get(type_key)
                return len(ts.entries) if ts else 0
            return sum(len(ts.entries) for ts in self.types.values())
