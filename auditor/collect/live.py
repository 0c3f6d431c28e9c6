"""Read a live cluster: discovery, raw paginated lists, retries, gaps.

Lists are fetched as raw JSON pages (no model deserialisation: 4-5x slower and 1.7x the memory),
each page is slimmed to records and dropped. Throttling and server errors are retried with
backoff honouring Retry-After; an expired continue token restarts that list; anything that keeps a
list from being read (403, 404, 5xx, a stall, a malformed body) becomes a recorded :class:`Gap`, never
a crash. Only discovery can prove that a kind is absent (``not-served``, see ``discovery.py``).

Time is bounded twice: every request by ``request_timeout`` (urllib3's own retries are switched off, so
a stalled request costs one timeout, not four), and the whole read of one cluster by ``deadline``:
what is not read by then becomes a gap, and the next cluster of the run starts.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
import urllib3

from auditor.analyse.credential_refs import credential_refs
from auditor.collect.builder import InventoryBuilder
from auditor.collect.decode import Refused, Typed
from auditor.collect.discovery import Served, discover
from auditor.collect.fields import FieldReader
from auditor.collect.heap import gc_paused
from auditor.collect.kinds import KINDS, ResourceKind
from auditor.collect.kubeclient import KubeClient
from auditor.collect.prefetch import prefetched
from auditor.collect.secrets import SecretPolicy, fingerprint_data
from auditor.collect.split import CHILD_KINDS, KindRead, read_split
from auditor.collect.split import available as split_available
from auditor.errors import ApiStatusError, ClusterAccessError, InputError
from auditor.model.inventory import Gap, Inventory

log = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 500, 502, 503, 504})
#: Seconds one request may wait for the API server (``--request-timeout``).
DEFAULT_REQUEST_TIMEOUT = 30.0
#: Seconds the read of one cluster may take in all (``--cluster-deadline``): a stalled API ends the scan
#: well within 3 minutes, a healthy cluster of a few hundred thousand objects is read in far less.
DEFAULT_CLUSTER_DEADLINE = 150.0
#: Connecting never needs long; the rest of the request timeout is for the answer.
CONNECT_TIMEOUT = 10.0
#: Secrets are listed as metadata only: the values of Secrets that are not backup credentials never arrive.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
METADATA_ONLY_OBJECT = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json"

SECRETS = next(k for k in KINDS if k.kind == "Secret")

#: Called with every raw object before it is slimmed (``auditor snapshot`` writes them out).
RawSink = Callable[[ResourceKind, dict[str, Any]], None]
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 10.0
    restarts: int = 3  # full restarts of one list after 410 Gone
    max_retry_after: float = 30.0  # a longer Retry-After is cut to this (the cluster's deadline cuts further)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                wait = float(retry_after)
            except ValueError:
                wait = -1.0  # an HTTP date or garbage: back off as without the header
            if 0.0 <= wait < float("inf"):
                return min(wait, self.max_retry_after)
        return min(self.max_delay, self.base_delay * float(2 ** attempt)) * (0.5 + random.random() / 2)


class _ListExpiredError(Exception):
    pass


class MalformedListError(Exception):
    """A 200 answer to a list that is not a Kubernetes list (``items`` not an array of objects, not JSON)."""


def disable_client_retries(api_client: Any) -> None:
    """Switch off urllib3's own retries (3 by default) on the client's connection pools.

    :meth:`LiveSource.send` retries what is worth retrying, within the cluster's deadline; retries
    underneath it would multiply every stalled request's timeout by four."""
    pool = getattr(getattr(api_client, "rest_client", None), "pool_manager", None)
    kw = getattr(pool, "connection_pool_kw", None)
    if pool is not None and isinstance(kw, dict) and kw.get("retries") is not False:
        kw["retries"] = False
        pool.clear()  # pools made before keep their retries
    configuration = getattr(api_client, "configuration", None)
    if configuration is not None and getattr(configuration, "client_go_retries", False):
        configuration.client_go_retries = False


#: Fetch each list's pages one ahead in a worker thread. Off: on the large bench data on an idle 2-core machine
#: the thread always cost client CPU (+0.4 s and +3.6 s in two runs) and its wall-time effect was within the
#: runs' spread (3.4 s slower in one, 0.4 s faster in the other); fetching in turn is simpler and no slower
#: (docs/decoding.md). ``bench/scan.py --overlap`` times it turned on.
PREFETCH = False


class LiveSource:
    """One cluster reached through a :class:`KubeClient` (or a configured ``kubernetes.client.ApiClient``)."""

    def __init__(self, api_client: Any, cluster: str, *, page_size: int = 500,
                 retry: RetryPolicy | None = None, request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
                 deadline: float | None = DEFAULT_CLUSTER_DEADLINE,
                 progress: Progress | None = None, backup_namespace: str | None = None,
                 secrets: SecretPolicy | None = None, split_read: bool = False) -> None:
        self.api = api_client
        self.cluster = cluster
        self.page_size = page_size
        self.retry = retry or RetryPolicy()
        self.request_timeout = request_timeout
        self.deadline = deadline  # seconds for one collect(); None: unbounded
        self._ends_at: float | None = None  # monotonic end of the running collect()
        self.progress = progress
        self.backup_namespace = backup_namespace
        self.secrets = secrets or SecretPolicy(read_values=False)
        #: list a few large kinds in a forked child while this process lists the rest (``collect/split.py``):
        #: only where one cluster is read at a time, by this process's main thread, without a raw sink
        self.split_read = split_read
        disable_client_retries(api_client)

    def remaining(self) -> float | None:
        """Seconds left before the running collect's deadline (None: no deadline)."""
        return None if self._ends_at is None else self._ends_at - time.monotonic()

    def _timeout(self) -> tuple[float, float]:
        """(connect, read) for the next request: the request timeout, cut to what the deadline leaves."""
        limit = self.request_timeout
        left = self.remaining()
        if left is not None:
            if left <= 0:
                raise ApiStatusError(0, f"not read: the deadline of {self.deadline:g}s for cluster "
                                        f"{self.cluster} has passed")
            limit = min(limit, left)
        return (min(CONNECT_TIMEOUT, limit), limit)

    # --- HTTP -----------------------------------------------------------------------------------

    def get_json(self, path: str, query: list[tuple[str, Any]] | None = None, accept: str = "application/json") -> Any:
        """GET a path and parse its JSON, retrying throttling, server errors and broken connections."""
        status, data = self.send("GET", path, query, accept=accept)
        if not 200 <= status < 300:
            raise ApiStatusError(status, status_message(data, status))
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ApiStatusError(0, f"the answer is not JSON ({exc})") from exc

    def send(self, method: str, path: str, query: list[tuple[str, Any]] | None = None, body: Any = None,
             accept: str = "application/json", content_type: str = "application/json") -> tuple[int, bytes]:
        """One request with retries of throttling (honouring Retry-After), server errors and broken
        connections; any other answer is returned as (status, body). Only for idempotent requests: a POST
        qualifies when the object's name is fixed (a repeat answers 409, never makes a second object)."""
        attempt = 0
        while True:
            retry_after = None
            timeout = self._timeout()
            try:
                headers_in = {"Accept": accept}
                if body is not None:
                    headers_in["Content-Type"] = content_type
                if isinstance(self.api, KubeClient):
                    answer = self.api.request(method, path, query, headers_in, body, timeout)
                    data, status = answer.data, answer.status
                    headers: Any = answer.headers
                else:  # a kubernetes.client.ApiClient (a legacy auth-provider user, tests)
                    method_, url, headers_out, payload, post = self.api.param_serialize(
                        method=method, resource_path=path, query_params=query or [], body=body,
                        header_params=headers_in, auth_settings=["BearerToken"])
                    response = self.api.call_api(method_, url, header_params=headers_out, body=payload,
                                                 post_params=post, _request_timeout=timeout)
                    data, status, headers = response.read(), response.status, response.headers
                if status not in RETRYABLE:
                    return status, data
                retry_after = headers.get("Retry-After")
                failure: Exception = ApiStatusError(status, status_message(data, status))
            except urllib3.exceptions.TimeoutError as exc:
                # a stall is not retried: it already cost a whole timeout, and the next try would stall too
                raise ApiStatusError(0, f"no answer within {timeout[1]:g}s (request timeout): {exc}") from exc
            except urllib3.exceptions.SSLError as exc:
                # a certificate the client refuses (or the server refuses ours) stays refused: not retried
                raise ApiStatusError(0, f"TLS: {exc}") from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                failure = exc
            attempt += 1
            pause = self.retry.delay(attempt - 1, retry_after)
            left = self.remaining()
            if attempt >= self.retry.attempts or (left is not None and pause >= left):
                if isinstance(failure, ApiStatusError):
                    raise failure
                raise ApiStatusError(0, f"{type(failure).__name__}: {failure}") from failure
            log.debug("%s %s failed (%s); retry %d in %.2fs", method, path, failure, attempt, pause)
            time.sleep(pause)

    # --- discovery ------------------------------------------------------------------------------

    def server_version(self) -> str | None:
        try:
            info = self.get_json("/version")
        except ApiStatusError as exc:
            if exc.status == 0:
                raise ClusterAccessError(f"cluster {self.cluster}: cannot reach the API server ({exc.message})") \
                    from None
            if exc.status in (401, 403):
                raise ClusterAccessError(f"cluster {self.cluster}: not authorised ({exc.message})") from None
            return None
        return info.get("gitVersion") if isinstance(info, dict) else None

    # --- lists ----------------------------------------------------------------------------------

    def _list_pages(self, kind: ResourceKind, namespace: str | None, token: str | None = None,
                    ) -> Generator[bytes, str | None, None]:
        """The JSON bodies of one list's pages, from ``token`` on (the first page without). Raises
        :class:`_ListExpiredError` when a continue token expired."""
        path = kind.list_path(namespace)
        accept = METADATA_ONLY if kind.kind == "Secret" else "application/json"
        while True:
            query: list[tuple[str, Any]] = [("limit", self.page_size)]
            if token:
                query.append(("continue", token))
            status, data = self.send("GET", path, query, accept=accept)
            if not 200 <= status < 300:
                if status == 410 and token:
                    raise _ListExpiredError
                raise ApiStatusError(status, status_message(data, status))
            token = yield data
            if not token:
                return

    def _pages_ahead(self, kind: ResourceKind, namespace: str | None, token: str | None,
                     ) -> Generator[tuple[bytes, str | None], None, None]:
        """(body, its continue token) of each page: the token is read from the body here (:func:`page_token`),
        so the next page is asked for before this one is decoded. A page whose token cannot be read ends it:
        the decoding of that page says why, or carries on by itself."""
        pages = self._list_pages(kind, namespace, token)
        data = next(pages)
        while True:
            try:
                token = page_token(data)
            except (MalformedListError, ValueError, msgspec.DecodeError, msgspec.ValidationError):
                token = None
            yield data, token
            if not token:
                return
            data = pages.send(token)

    def list_records(self, kind: ResourceKind, namespace: str | None = None, keep_raw: bool = False,
                     ) -> Iterator[tuple[list[Any], list[dict[str, Any]]]]:
        """Pages of (records, raw items): typed kinds are decoded straight from each page's JSON; a page the
        typed decode refuses, and every page of the other kinds, goes through the checked reader. The raw
        items are parsed only with ``keep_raw`` (``auditor snapshot`` writes them out).

        Each page's continue token is read from its head before the page is decoded (with :data:`PREFETCH`,
        a worker thread asks for page n+1 meanwhile). The decoded token is the one that counts: where it
        differs from the head's, the list goes on from it."""
        typed = kind.typed
        where = f"{kind.resource} (live, cluster {self.cluster})"
        token: str | None = None
        first = True
        while first or token:
            first = False
            pages = self._pages_ahead(kind, namespace, token)
            ahead = prefetched(pages, f"list {kind.resource}") if PREFETCH else pages
            try:
                for data, expected in ahead:
                    records, items, token = self._decode_page(kind, typed, data, where, keep_raw)
                    del data
                    yield records, items
                    if token != expected:
                        break
                else:
                    return
            finally:
                ahead.close()

    def _decode_page(self, kind: ResourceKind, typed: Typed | None, data: bytes, where: str, keep_raw: bool,
                     ) -> tuple[list[Any], list[dict[str, Any]], str | None]:
        items: list[dict[str, Any]] = []
        try:
            if typed is None:
                raise Refused
            records, token = typed.page_records(data)
            if keep_raw:
                items = self._raw_page(kind, data)[1]
        except Refused:
            page, items = self._raw_page(kind, data)
            records = [kind.slim(FieldReader(item, where)) for item in items]
            token = _continue_token(page)
            if not keep_raw:
                items = []
        return records, items, token

    @staticmethod
    def _raw_page(kind: ResourceKind, data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One page's JSON as dicts, checked, with ``apiVersion`` and ``kind`` on every item."""
        try:
            page = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ApiStatusError(0, f"the answer is not JSON ({exc})") from exc
        items = list_items(page, kind)
        metadata_only = kind.kind == "Secret"
        for item in items:  # lists omit kind/apiVersion on items; metadata lists say PartialObjectMetadata
            if metadata_only:
                item.pop("data", None)  # a server that ignored the metadata-only request sent values
                item.pop("stringData", None)
                item["apiVersion"], item["kind"] = kind.api_version, kind.kind
            else:
                item.setdefault("apiVersion", kind.api_version)
                item.setdefault("kind", kind.kind)
        return page, items

    def _list_kind(self, kind: ResourceKind, namespace: str | None, keep_raw: bool,
                   page: Callable[[list[Any], list[dict[str, Any]]], None], restart: Callable[[], None]) -> Gap | None:
        """List one kind, handing each page's records (and raw items) to ``page``; ``restart``: a 410 restarted
        the list and what was handed is void. The gap when it cannot be read, else None."""
        for attempt in range(self.retry.restarts + 1):
            try:
                with gc_paused():  # the records are built in bulk: no cycles to find while they are
                    for records, items in self.list_records(kind, namespace, keep_raw=keep_raw):
                        page(records, items)
            except _ListExpiredError:
                log.info("%s: continue token expired, restarting the list (%d)", kind.resource, attempt + 1)
                restart()
                continue
            except ApiStatusError as exc:
                return _gap_for(kind, exc, namespace)
            except MalformedListError as exc:
                return Gap(kind.resource, "error", f"malformed list answer: {exc}", namespace)
            except InputError as exc:
                return Gap(kind.resource, "error", f"malformed object: {exc}", namespace)
            except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
                # an object the slimmer does not expect: this kind is unreadable, the rest of the scan goes on
                return Gap(kind.resource, "error", f"malformed object: {type(exc).__name__}: {exc}", namespace)
            return None
        return Gap(kind.resource, "error", "the list kept expiring (410 Gone) and was abandoned", namespace)

    def _kind_read(self, kind: ResourceKind, namespace: str | None = None, keep_raw: bool = False,
                   between_pages: Callable[[], None] | None = None) -> KindRead:
        """All objects of one kind, or the gap that replaces them."""
        read = KindRead()

        def page(records: list[Any], items: list[dict[str, Any]]) -> None:
            read.records.extend(records)
            read.raws.extend(items)
            if self.progress:
                self.progress(kind.resource, len(read.records))
            if between_pages is not None:
                between_pages()

        def restart() -> None:
            read.records.clear()
            read.raws.clear()

        read.gap = self._list_kind(kind, namespace, keep_raw, page, restart)
        if read.gap is not None:  # a gap replaces whatever was read before it
            restart()
        return read

    def _read_kind(self, kind: ResourceKind, builder: InventoryBuilder, sink: RawSink | None,
                   namespace: str | None = None) -> None:
        """All objects of one kind into the builder, or a gap; a 410 restarts the whole list."""
        _apply(kind, self._kind_read(kind, namespace, keep_raw=sink is not None), builder, sink)

    def _read_ahead(self, served: Served) -> dict[int, KindRead]:
        """The kinds that depend on no other (by index in :data:`KINDS`), read before :meth:`_collect` applies
        them in order: :data:`CHILD_KINDS` by a forked child, the rest here meanwhile (``collect/split.py``).
        Empty when the read is not split; a kind the child did not finish is missing (:meth:`_collect` reads it)."""
        ahead = [(i, k) for i, k in enumerate(KINDS)
                 if not k.by_name and not k.backup_namespace_only and not served.absent(k)]
        if not (self.split_read and isinstance(self.api, KubeClient) and split_available()
                and any(k.resource in CHILD_KINDS for _, k in ahead)):
            return {}

        def listed(kind: ResourceKind, page: Callable[[list[Any]], None], restart: Callable[[], None]) -> Gap | None:
            return self._list_kind(kind, None, False, lambda records, _: page(records), restart)

        def read(kind: ResourceKind, between_pages: Callable[[], None]) -> KindRead:
            return self._kind_read(kind, between_pages=between_pages)

        return read_split(ahead, listed, read, self.api.forget_connections, self.progress, self._ends_at)

    def collect(self, sink: RawSink | None = None) -> Inventory:
        """Every kind of :data:`KINDS`, each read completely or recorded as a gap, within the deadline."""
        self._ends_at = None if self.deadline is None else time.monotonic() + self.deadline
        try:
            return self._collect(sink)
        finally:
            self._ends_at = None

    def _collect(self, sink: RawSink | None) -> Inventory:
        builder = InventoryBuilder(self.cluster, f"live:{self.cluster}")
        builder.collected_at = datetime.now(UTC)
        builder.server_version = self.server_version()
        served = discover(self.get_json, KINDS, builder)
        ahead = self._read_ahead(served) if sink is None else {}
        backup_namespaces: set[str] = set()
        for index, kind in enumerate(KINDS):
            if kind.by_name:
                continue  # read below, one by one, once the objects that name them are known
            absent = served.absent(kind)
            if absent:
                builder.gap(Gap(kind.resource, "not-served", absent))
                continue
            if kind.backup_namespace_only:
                namespaces = sorted(backup_namespaces) or ([self.backup_namespace] if self.backup_namespace else [])
                blind = sorted(g.resource for g in builder.gaps if g.hides_data and g.resource.endswith(".velero.io"))
                if not namespaces and blind:  # the Velero objects that name the namespace could not be read
                    builder.gap(Gap(kind.resource, "error", "not read: the backup namespace is not known, because "
                                                            f"{', '.join(blind)} could not be read"))
                for ns in namespaces:
                    self._read_kind(kind, builder, sink, ns)
                continue
            read = ahead.pop(index, None)
            if read is None:
                self._read_kind(kind, builder, sink)
            else:
                _apply(kind, read, builder, sink)
            if kind.group == "velero.io":
                backup_namespaces.update(r.meta.namespace for r in builder.records[kind.field] if r.meta.namespace)
        builder.secret_policy = self.secrets
        self._read_credentials(builder, sink)
        return builder.build()

    def _read_credentials(self, builder: InventoryBuilder, sink: RawSink | None) -> None:
        """GET each backup credential Secret by name (never a list: RBAC grants exactly these names), keep its
        metadata, fingerprint its values and drop them. A 404 is a Secret that does not exist; a 403 or an
        error is a gap naming the Secret, and the credential rules then say *not evaluated* for it."""
        key = self.secrets.key if self.secrets.active else None
        accept = "application/json" if self.secrets.read_values else METADATA_ONLY_OBJECT  # --no-secret-values
        for ns, name in sorted(credential_refs(builder.records)):
            try:
                obj = self.get_json(SECRETS.list_path(ns) + "/" + name, accept=accept)
                if not isinstance(obj, dict):
                    raise ApiStatusError(0, f"the answer is a JSON {type(obj).__name__}, not a Secret")
            except ApiStatusError as exc:
                if exc.status != 404:
                    builder.gap(Gap(SECRETS.resource, "forbidden" if exc.status == 403 else "error",
                                    f"credential Secret {ns}/{name} could not be read: {exc.message}", ns, name))
                continue
            if isinstance(obj, dict) and not self.secrets.read_values:
                obj.pop("data", None)  # a server that ignored the metadata-only request sent values
                obj.pop("stringData", None)
                obj["apiVersion"], obj["kind"] = SECRETS.api_version, SECRETS.kind
            try:
                record = SECRETS.slim(FieldReader(obj, f"secret {ns}/{name} (live, cluster {self.cluster})"))
            except InputError as exc:
                builder.gap(Gap(SECRETS.resource, "error", f"malformed object: {exc}", ns, name))
                continue
            if key is not None:
                builder.secret_fingerprints[(ns, name)] = fingerprint_data(obj.get("data"), key)
            builder.add(SECRETS.field, record)
            if sink is not None:
                sink(SECRETS, obj)  # the dump writer keeps the keys, never a value
            obj.clear()


def status_message(data: bytes, status: int) -> str:
    """The ``message`` of a Kubernetes Status body, or the bare HTTP status."""
    try:
        body = orjson.loads(data)
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return str(body["message"])
    except orjson.JSONDecodeError:
        pass
    return f"HTTP {status}"


class _PageHead(msgspec.Struct, gc=False):
    metadata: msgspec.Raw = msgspec.Raw(b"")


_PAGE_HEAD = msgspec.json.Decoder(_PageHead)
_ITEMS_KEY = b',"items":'


def page_token(data: bytes) -> str | None:
    """A list page's continue token, as :func:`_continue_token` reads it from the parsed page, without parsing
    the items: API servers write ``metadata`` before ``items``, so the part before ``,"items":`` closed with a
    brace is the page's head when it parses; else the whole page is scanned (items skipped, never built)."""
    cut = data.find(_ITEMS_KEY, 0, 65536)
    head = None
    if cut > 0:
        try:
            head = _PAGE_HEAD.decode(data[:cut] + b"}")
        except (msgspec.DecodeError, msgspec.ValidationError):
            head = None
    if head is None or not head.metadata:
        head = _PAGE_HEAD.decode(data)
    meta = orjson.loads(memoryview(head.metadata)) if head.metadata else None
    return _continue_token({"metadata": meta})


def _continue_token(page: dict[str, Any]) -> str | None:
    meta = page.get("metadata")
    token = meta.get("continue") if isinstance(meta, dict) else None
    if token and not isinstance(token, str):
        raise MalformedListError(f"metadata.continue is a {type(token).__name__}, not a string")
    return token or None


def list_items(page: Any, kind: ResourceKind) -> list[dict[str, Any]]:
    """The ``items`` of one list page, checked: a 200 answer that is not a list of objects is a gap."""
    if not isinstance(page, dict):
        raise MalformedListError(f"the answer is a JSON {type(page).__name__}, not a {kind.kind}List object")
    items = page.get("items")
    if items is None:
        return []  # the API server omits an empty items array in some versions
    if not isinstance(items, list):
        raise MalformedListError(f"items is a {type(items).__name__}, not an array")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedListError(f"items[{i}] is a {type(item).__name__}, not a {kind.kind} object")
    return items


def _apply(kind: ResourceKind, read: KindRead, builder: InventoryBuilder, sink: RawSink | None) -> None:
    """One kind as read into the builder: its records (and raw objects to the sink), or its gap; what its read
    raised is raised now."""
    if read.error is not None:
        raise read.error
    if read.gap is not None:
        builder.gap(read.gap)
        return
    builder.add_all(kind.field, read.records)
    if sink is not None:
        for raw in read.raws:
            sink(kind, raw)


def _gap_for(kind: ResourceKind, exc: ApiStatusError, namespace: str | None) -> Gap:
    """A failed list: discovery said the kind is served (or could not tell), so every failure hides data."""
    if exc.status == 403:
        return Gap(kind.resource, "forbidden", exc.message, namespace)
    if exc.status == 404:
        return Gap(kind.resource, "not-found", f"the list answered 404 although discovery did not show "
                                               f"{kind.resource} absent: {exc.message}", namespace)
    if exc.status == 0:
        return Gap(kind.resource, "error", exc.message, namespace)
    return Gap(kind.resource, "error", f"HTTP {exc.status}: {exc.message}", namespace)


def watch_lines(response: Any) -> Iterator[dict[str, Any]]:
    """Decoded watch events from a streaming urllib3 response (newline-delimited JSON)."""
    buffer = b""
    for chunk in response.stream(65536, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield orjson.loads(line)
    if buffer.strip():
        yield orjson.loads(buffer)
