"""Raw watch streams through the official client: what changed, so the scanner rescans within seconds.

One thread per (cluster, resource). It lists once (pages of raw JSON) for a resourceVersion, then
watches from it with bookmarks and resumes from the newest resourceVersion it saw; a 410 Gone means
events were lost, so it lists again and asks for a rescan. Errors reconnect with capped, jittered
backoff. Only changes to what the scan reads count: each object's slimmed record is kept as a hash
(never the object), so kubelet heartbeats and other irrelevant updates trigger nothing.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import urllib3

from auditor.collect.fields import FieldReader
from auditor.collect.kinds import KINDS, ResourceKind
from auditor.collect.live import status_message
from auditor.collect.live import watch_lines as _lines
from auditor.errors import InputError
from auditor.server.cache import WatchCache

log = logging.getLogger(__name__)

#: What a backup's fate or a volume's coverage can change with, as the inventory fields the analysis reads them
#: from; the kinds table (its core kinds and the backup-tool registry, ``collect/tools``) says which resource of
#: which API group fills each, so no API group is named here. ``deploy/kubernetes/clusterrole.yaml`` grants
#: ``watch`` on exactly these (``tests/server/test_deploy.py``).
WATCHED_FIELDS = ("backups", "schedules", "bsls", "pvcs", "pvs", "pods")


def watched_kinds() -> list[ResourceKind]:
    """The resources ``serve`` watches, in the order of :data:`WATCHED_FIELDS` (one each: tests/server)."""
    return [k for field in WATCHED_FIELDS for k in KINDS if k.field == field]


class WatchError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status


class WatchExpiredError(WatchError):
    """410 Gone: the resourceVersion is older than the server's history."""


class WatchStats:
    """Counters per (cluster, resource), read by /metrics on every scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: Counter[tuple[str, str]] = Counter()  # changes that asked for a rescan
        self.errors: Counter[tuple[str, str]] = Counter()  # broken or expired streams

    def register(self, key: tuple[str, str]) -> None:
        """Export 0 for a stream before its first event (a missing series is not a zero)."""
        with self._lock:
            self.events[key] += 0
            self.errors[key] += 0

    def add(self, counter: Counter[tuple[str, str]], key: tuple[str, str]) -> None:
        with self._lock:
            counter[key] += 1

    def copy(self) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
        with self._lock:
            return dict(self.events), dict(self.errors)


class Backoff:
    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2.0 ** self.attempt) * (0.5 + random.random() / 2)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


class ResourceWatcher(threading.Thread):
    """Watches one resource of one cluster and calls ``on_change`` for every relevant change."""

    def __init__(self, api_client: Any, cluster: str, kind: ResourceKind, on_change: Callable[[], None],
                 stats: WatchStats, stop: threading.Event, *, timeout_seconds: int = 300,
                 page_size: int = 500, backoff: Backoff | None = None, cache: WatchCache | None = None) -> None:
        super().__init__(name=f"watch-{cluster}-{kind.plural}", daemon=True)
        self.api = api_client
        self.cluster = cluster
        self.kind = kind
        self.on_change = on_change
        self.stats = stats
        self.stop_event = stop
        self.timeout_seconds = timeout_seconds
        self.page_size = page_size
        self.backoff = backoff or Backoff()
        self.digests: dict[tuple[str, str], int] = {}
        self.cache = cache  # the records themselves, for event-triggered rescans (see cache.py)
        self._unreadable: set[tuple[str, str]] = set()  # objects the scan would report: the cache cannot serve
        self.connected = threading.Event()  # set while a watch stream is open (tests wait on it)
        stats.register(self.key)
        self._response: Any = None
        self._lock = threading.Lock()
        self._last_error: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.cluster, self.kind.resource)

    # --- lifecycle --------------------------------------------------------------------------------

    def run(self) -> None:
        rv: str | None = None
        first = True
        while not self.stop_event.is_set():
            try:
                if rv is None:
                    rv = self._relist()
                    if not first:  # events may have been lost in between
                        self._changed()
                    first = False
                rv = self._stream(rv)
                self.backoff.reset()
                self._last_error = None
            except WatchExpiredError:
                self._sync(False)
                log.info("watch %s/%s: resourceVersion expired, listing again", *self.key)
                self.stats.add(self.stats.errors, self.key)
                rv = None
            except (WatchError, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                self.connected.clear()
                self._sync(False)
                if self.stop_event.is_set():
                    return
                self.stats.add(self.stats.errors, self.key)
                delay = self.backoff.next()
                repeated = str(exc) == self._last_error  # say it once, not every 30 s
                quiet = repeated or (isinstance(exc, WatchError) and exc.status == 404)  # group not installed
                log.log(logging.DEBUG if quiet else logging.WARNING, "watch %s/%s: %s; reconnecting in %.1fs",
                        *self.key, exc, delay)
                self._last_error = str(exc)
                self.stop_event.wait(delay)

    def close(self) -> None:
        """Unblock a thread waiting on its stream (the stop event must be set first)."""
        with self._lock:
            response = self._response
        if response is not None:
            with contextlib.suppress(AttributeError, OSError):
                response.shutdown()

    # --- HTTP -------------------------------------------------------------------------------------

    def _request(self, query: list[tuple[str, Any]], read_timeout: float) -> Any:
        method, url, headers, body, post = self.api.param_serialize(
            method="GET", resource_path=self.kind.list_path(), query_params=query,
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        response = self.api.call_api(method, url, header_params=headers, body=body, post_params=post,
                                     _request_timeout=(10.0, read_timeout))
        if response.status != 200:
            data = response.read()
            message = status_message(data, response.status)
            raise (WatchExpiredError if response.status == 410 else WatchError)(response.status, message)
        return response

    def _relist(self) -> str:
        """Page through the resource for its resourceVersion, remembering each object's digest."""
        digests: dict[tuple[str, str], int] = {}
        records: dict[tuple[str, str], Any] = {}
        unreadable: set[tuple[str, str]] = set()
        token: str | None = None
        while True:
            query: list[tuple[str, Any]] = [("limit", self.page_size)]
            if token:
                query.append(("continue", token))
            page = orjson.loads(self._request(query, 120.0).read())
            for item in page.get("items") or []:
                item.setdefault("apiVersion", self.kind.api_version)
                item.setdefault("kind", self.kind.kind)
                key, digest, record = self._digest(item)
                digests[key] = digest
                if record is None:
                    unreadable.add(key)
                else:
                    records[key] = record
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                self.digests = digests
                self._unreadable = unreadable
                if self.cache is not None:
                    self.cache.replace_all(self.cluster, self.kind, records)
                return str(meta.get("resourceVersion") or "")

    def _stream(self, rv: str) -> str:
        """Follow the watch until the server ends it; returns the newest resourceVersion seen."""
        query: list[tuple[str, Any]] = [("watch", "true"), ("allowWatchBookmarks", "true"),
                                        ("timeoutSeconds", self.timeout_seconds)]
        if rv:
            query.append(("resourceVersion", rv))
        response = self._request(query, self.timeout_seconds + 30.0)
        with self._lock:
            self._response = response.response
        if self.stop_event.is_set():  # stopped while connecting: close() found nothing to close
            response.response.shutdown()
        self.connected.set()
        self._sync(True)
        try:
            for event in _lines(response.response):
                if self.stop_event.is_set():
                    break
                rv = self._handle(event, rv)
        finally:
            self.connected.clear()
            with self._lock:
                self._response = None
            response.response.release_conn()
        return rv

    # --- events -----------------------------------------------------------------------------------

    def _handle(self, event: dict[str, Any], rv: str) -> str:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            status = int(obj.get("code") or 0)
            raise (WatchExpiredError if status == 410 else WatchError)(status, str(obj.get("message") or "watch error"))
        new_rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
        if kind == "BOOKMARK":
            return new_rv
        obj.setdefault("apiVersion", self.kind.api_version)
        obj.setdefault("kind", self.kind.kind)
        key, digest, record = self._digest(obj)
        if kind == "DELETED":
            self.digests.pop(key, None)
            self._unreadable.discard(key)
            self._cache(key, None)
            self._changed()
        elif self.digests.get(key) != digest:
            self.digests[key] = digest
            if record is None:
                self._unreadable.add(key)
            else:
                self._unreadable.discard(key)
            self._cache(key, record)
            self._changed()
        return new_rv

    def _digest(self, obj: dict[str, Any]) -> tuple[tuple[str, str], int, Any | None]:
        """(key, digest, record); the record is None when the object is unreadable."""
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        try:
            record = self.kind.slim(FieldReader(obj, f"{self.kind.resource} (watch, cluster {self.cluster})"))
            return key, hash(repr(record)), record
        except (InputError, ValueError, TypeError, AttributeError):
            return key, random.getrandbits(62), None  # unreadable: always a change; the scan reports it

    def _cache(self, key: tuple[str, str], record: Any | None) -> None:
        if self.cache is not None:
            self.cache.apply(self.cluster, self.kind, key, record)
            self._sync(self.connected.is_set())

    def _sync(self, connected: bool) -> None:
        """The cache serves this kind only while the stream runs and every object could be read."""
        if self.cache is not None:
            self.cache.set_synced(self.cluster, self.kind, connected and not self._unreadable)

    def _changed(self) -> None:
        self.stats.add(self.stats.events, self.key)
        self.on_change()

