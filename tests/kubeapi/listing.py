"""Read verbs: list (with selectors, limit/continue) and get, as JSON or as a Table.

List pages are joined from each entry's cached JSON bytes; continue tokens are opaque base64 JSON
carrying the list's resourceVersion, the last key returned, an issue time and an epoch so tests can
expire them (410 Expired, as the apiserver does once etcd has compacted the revision).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import EXPIRED_CONTINUE_MESSAGE, ApiError, bad_request, not_found
from .objects import served_bytes
from .selectors import field_matcher, parse_field_selector, parse_label_selector
from .state import Response, State, Target
from .store import Entry
from .tables import columns_for, table


@dataclass(frozen=True)
class Selection:
    """Compiled list/watch filters plus the namespace they narrow to."""

    namespace: str
    match: Callable[[Entry], bool] | None


def selection(t: Target, query: dict[str, str]) -> Selection:
    """Compile labelSelector/fieldSelector (400 on bad syntax or unsupported fields)."""
    label_m = parse_label_selector(query.get("labelSelector", ""))
    terms = parse_field_selector(query.get("fieldSelector", ""), t.rt.field_selectors)
    namespace = t.namespace
    if terms and t.rt.namespaced and not namespace:
        ns_terms = [v for f, v, eq in terms if f == "metadata.namespace" and eq]
        if ns_terms:
            namespace = ns_terms[0]  # narrow to one key range; the term itself still filters
    field_m = field_matcher(terms)
    if label_m is None and field_m is None:
        return Selection(namespace, None)
    if field_m is None:
        assert label_m is not None
        lm = label_m
        return Selection(namespace, lambda e: lm(e.labels))
    fm = field_m
    if label_m is None:
        return Selection(namespace, lambda e: fm(e.field_map()))
    lm2 = label_m
    return Selection(namespace, lambda e: lm2(e.labels) and fm(e.field_map()))


def wants_metadata(accept: str) -> bool:
    """Clients that need only metadata ask for `application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`."""
    return "as=PartialObjectMetadataList" in accept or "as=PartialObjectMetadata;" in accept


def metadata_list_bytes(entries: list[Entry], t: Target, meta: dict[str, Any]) -> bytes:
    """A meta.k8s.io/v1 PartialObjectMetadataList: every item reduced to its metadata (no spec, status or data)."""
    items = [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
              "metadata": orjson.loads(served_bytes(e, t.rt)).get("metadata") or {}} for e in entries]
    return orjson.dumps({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                         "items": items})


def wants_table(accept: str) -> bool:
    """kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` when printing."""
    return "as=Table" in accept


def _encode_continue(state: State, rv: int, last_key: str) -> str:
    raw = orjson.dumps(
        {
            "v": "meta.k8s.io/v1",
            "rv": rv,
            "start": last_key + "\x00",
            "iat": time.time(),
            "epoch": state.settings.token_epoch,
        }
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_continue(state: State, token: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        rv, start = int(data["rv"]), str(data["start"])
        issued, epoch = float(data.get("iat", 0)), int(data.get("epoch", 0))
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError) as e:
        raise bad_request(f"continue key is not valid: {e}") from e
    if epoch != state.settings.token_epoch or time.time() - issued > state.settings.continue_token_ttl:
        raise ApiError(410, EXPIRED_CONTINUE_MESSAGE, "Expired")
    return rv, start[:-1] if start.endswith("\x00") else start


def _limit(query: dict[str, str]) -> int:
    raw = query.get("limit") or "0"
    try:
        return max(0, int(raw))
    except ValueError as e:
        raise bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from e


def list_objects(state: State, t: Target, query: dict[str, str], accept: str) -> Response:
    """One list page (JSON list or Table), paginated with limit/continue."""
    sel = selection(t, query)
    limit = _limit(query)
    token = query.get("continue") or ""
    after: str | None = None
    token_rv = 0
    if token:
        if query.get("resourceVersion"):
            raise bad_request("specifying resource version is not allowed when using continue")
        token_rv, after = _decode_continue(state, token)
    entries, next_key, remaining, current_rv = state.store.page(t.rt.key, sel.namespace, after, limit, sel.match)
    meta: dict[str, Any] = {"resourceVersion": str(token_rv or current_rv)}
    if next_key is not None:
        meta["continue"] = _encode_continue(state, token_rv or current_rv, next_key)
        if remaining is not None:
            meta["remainingItemCount"] = remaining
    if wants_table(accept):
        return Response(200, table_bytes(t, entries, query, meta))
    if wants_metadata(accept):
        return Response(200, metadata_list_bytes(entries, t, meta))
    head = orjson.dumps({"kind": t.rt.effective_list_kind, "apiVersion": t.rt.api_version, "metadata": meta})
    items = b",".join(served_bytes(e, t.rt) for e in entries)
    return Response(200, b"".join((head[:-1], b',"items":[', items, b"]}")))


def table_bytes(
    t: Target, entries: list[Entry], query: dict[str, str], meta: dict[str, Any], headers: bool = True
) -> bytes:
    """Serialise entries as a meta.k8s.io/v1 Table."""
    include = query.get("includeObject") or "Metadata"
    pairs = []
    for e in entries:
        raw = served_bytes(e, t.rt)
        obj = orjson.loads(raw)
        pairs.append((obj, raw))
    return orjson.dumps(table(columns_for(t.rt), pairs, include, meta, headers))


def get_object(state: State, t: Target, query: dict[str, str], accept: str) -> Response:
    """A single object (or a one-row Table)."""
    entry = state.store.get(t.rt.key, t.namespace, t.name)
    if entry is None:
        raise not_found(t.rt.plural, t.rt.group, t.rt.kind, t.name)
    if wants_table(accept):
        return Response(200, table_bytes(t, [entry], query, {"resourceVersion": str(entry.rv)}))
    return Response(200, served_bytes(entry, t.rt))
