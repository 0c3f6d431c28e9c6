"""Watch streams: newline-delimited JSON events, as the apiserver sends them over chunked HTTP.

Without a resourceVersion (or with "0") the stream starts with synthetic ADDED events for the
current objects; with one, it replays history after it (an ERROR event with a 410 Status when it is
older than the history ring). Selector moves are reported like the watch cache does: an object that
stops matching arrives as DELETED, one that starts matching as ADDED.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import orjson

from .errors import bad_request, status_body
from .listing import Selection, selection, table_bytes, wants_table
from .objects import int_rv, served_bytes
from .state import State, Target
from .store import Entry, Event

DEFAULT_TIMEOUT = 1800.0
INITIAL_BATCH = 500


class WatchPlan:
    """A validated watch request; `events()` yields the encoded lines."""

    def __init__(self, state: State, t: Target, query: dict[str, str], accept: str) -> None:
        self.state, self.t, self.query = state, t, query
        self.sel: Selection = selection(t, query)
        self.table = wants_table(accept)
        self.bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        self.send_initial = query.get("sendInitialEvents") == "true"
        raw_timeout = query.get("timeoutSeconds") or ""
        try:
            self.timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT
        except ValueError as e:
            raise bad_request(f'invalid timeoutSeconds "{raw_timeout}"') from e
        raw_rv = query.get("resourceVersion") or ""
        if raw_rv and int_rv(raw_rv) is None:
            raise bad_request(f'invalid resource version "{raw_rv}"')
        self.rv = int_rv(raw_rv) or 0
        self._headers_sent = False

    def _matches(self, e: Entry) -> bool:
        if self.sel.namespace and e.namespace != self.sel.namespace:
            return False
        return self.sel.match is None or self.sel.match(e)

    def _line(self, etype: str, e: Entry) -> bytes:
        if self.table:
            raw = table_bytes(self.t, [e], self.query, {"resourceVersion": str(e.rv)}, not self._headers_sent)
            self._headers_sent = True
        else:
            raw = served_bytes(e, self.t.rt)
        return b'{"type":"' + etype.encode() + b'","object":' + raw + b"}\n"

    def _bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.t.rt.kind, "apiVersion": self.t.rt.api_version, "metadata": meta}
        return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"

    def _expired(self, rv: int) -> bytes:
        floor = max(self.state.store.ring_floor, self.state.store.start_floor)
        status = status_body(410, f"too old resource version: {rv} ({floor + 1})", "Expired")
        return orjson.dumps({"type": "ERROR", "object": status}) + b"\n"

    def _translate(self, ev: Event) -> bytes | None:
        if ev.type_key != self.t.rt.key:
            return None
        now = self._matches(ev.entry)
        if ev.type == "MODIFIED" and ev.old is not None:
            before = self._matches(ev.old)
            if now and before:
                return self._line("MODIFIED", ev.entry)
            if now:
                return self._line("ADDED", ev.entry)
            return self._line("DELETED", ev.entry) if before else None
        return self._line(ev.type, ev.entry) if now else None

    def events(self) -> Generator[bytes, None, None]:
        """Encoded event chunks until timeoutSeconds, server stop, or a 410."""
        store, stopping = self.state.store, self.state.stopping
        deadline = time.monotonic() + self.timeout
        initial: list[Entry] = []
        with store.lock:
            if self.send_initial or self.rv == 0:
                entries, _, _, current = store.page(self.t.rt.key, self.sel.namespace, None, 0, self.sel.match)
                initial, last = entries, current
            elif self.rv < max(store.ring_floor, store.start_floor):
                yield self._expired(self.rv)
                return
            else:
                last = self.rv
        for i in range(0, len(initial), INITIAL_BATCH):
            yield b"".join(self._line("ADDED", e) for e in initial[i : i + INITIAL_BATCH])
        if self.send_initial and self.bookmarks:
            yield self._bookmark(last, initial_end=True)
        next_bookmark = time.monotonic() + self.state.settings.bookmark_interval
        while not stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with store.changed:
                evs = store.events_after(last)
                if evs == []:
                    store.changed.wait(min(remaining, self.state.settings.watch_poll))
                    evs = store.events_after(last)
                current = store.rv
            if evs is None:
                yield self._expired(last)
                return
            out = []
            for ev in evs:
                last = ev.rv
                line = self._translate(ev)
                if line is not None:
                    out.append(line)
            yield b"".join(out)  # an empty chunk lets the HTTP layer notice a departed client
            if self.bookmarks and time.monotonic() >= next_bookmark:
                last = max(last, current)
                yield self._bookmark(last)
                next_bookmark = time.monotonic() + self.state.settings.bookmark_interval
