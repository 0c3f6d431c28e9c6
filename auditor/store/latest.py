"""The store as a fleet: which clusters it knows, and each one's newest scan.

Read by the commands that work on every cluster of a hub (``report --from-store``, ``history``, ``diff``).
A cluster name given on the command line that the store does not know is an error naming it and listing
the known ones, never an empty result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import orjson
from sqlalchemy import select

from auditor.errors import ClusterNotFoundError
from auditor.store import schema as s
from auditor.store.views import ScanSummary

if TYPE_CHECKING:
    from auditor.store.api import Store

#: the document's lists whose entries belong to one cluster (each entry has a ``cluster`` key)
PER_CLUSTER_LISTS = ("warnings", "volumes", "findings", "compliance", "credentials", "schedules", "storage_locations",
                     "executor_runs")


def cluster_names(store: Store) -> list[str]:
    """Every cluster the store has a scan of, sorted."""
    c = s.ClusterScan
    return store._transaction("list the clusters", lambda session: list(
        session.scalars(select(c.cluster).distinct().order_by(c.cluster))))


def select_clusters(store: Store, wanted: Sequence[str] = ()) -> list[str]:
    """``wanted`` (in order, without repeats), each checked against the store; nothing wanted: every cluster."""
    known = cluster_names(store)
    if not wanted:
        return known
    missing = [name for name in dict.fromkeys(wanted) if name not in known]
    if missing:
        raise ClusterNotFoundError(
            f"no cluster {', '.join(missing)} in the history store {store.name} "
            f"(known: {', '.join(known) if known else 'none, record scans first'})")
    return list(dict.fromkeys(wanted))


def newest_scans(store: Store, clusters: Iterable[str]) -> list[ScanSummary]:
    """Each cluster's newest scan that read it (a failed attempt is no scan of it), in ``clusters`` order (two
    clusters claiming one name: both)."""
    by_name: dict[str, list[ScanSummary]] = {}
    for row in store.latest_scans():
        by_name.setdefault(row.cluster, []).append(row)
    return [row for name in clusters for row in by_name.get(name, [])]


def cluster_part(document: dict[str, Any], cluster: str) -> dict[str, Any]:
    """The part of a scan document that is about ``cluster`` (a scan may have read several clusters)."""
    lists = {key: [e for e in document.get(key) or [] if isinstance(e, dict) and e.get("cluster") == cluster]
             for key in PER_CLUSTER_LISTS}
    return _part(document.get, cluster, lists)


#: the keys of a list entry a reader of :func:`cluster_part_json` may ask about without reading the entry whole
HEAD_KEYS = ("cluster", "status", "audited", "severity", "rule_id")

_Head = msgspec.defstruct("_Head", [(key, Any, msgspec.UNSET) for key in HEAD_KEYS])
_HEAD = msgspec.json.Decoder(_Head)
_Skeleton = msgspec.defstruct("_Skeleton", [
    *((key, Any, None) for key in ("schema_version", "tool_version", "as_of", "clusters", "summary",
                                   "compliance_rollup", "exceptions")),
    *((key, list[msgspec.Raw] | None, None) for key in PER_CLUSTER_LISTS)])
_SKELETON = msgspec.json.Decoder(_Skeleton)

#: (list key, whether an entry is only counted): see :func:`cluster_part_json`
CountedOnly = Mapping[str, Callable[[dict[str, Any]], bool]]


def cluster_part_json(data: bytes, cluster: str, counted_only: CountedOnly | None = None) -> dict[str, Any]:
    """:func:`cluster_part` of a document's JSON, parsing only what is about ``cluster``.

    A stored document of a medium cluster is megabytes, most of it volumes and findings that a fleet report
    only counts. ``counted_only[key](head)`` says, from an entry's :data:`HEAD_KEYS` alone, that the reader
    never shows that entry of list ``key`` but only counts it or reads those keys: such an entry stays a small
    dict of the head keys it has (every other key is never parsed); the others are parsed whole. A document
    whose shape the skeleton does not take is parsed whole, as before."""
    try:
        doc: Any = _SKELETON.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return cluster_part(orjson.loads(data), cluster)
    counted_only = counted_only or {}
    lists = {}
    for key in PER_CLUSTER_LISTS:
        only = counted_only.get(key)
        entries = []
        for raw in getattr(doc, key) or ():
            try:
                head: Any = _HEAD.decode(raw)
            except msgspec.ValidationError:  # not an object: never an entry of a cluster
                continue
            if head.cluster != cluster:
                continue
            if only is not None:
                light = {k: v for k in HEAD_KEYS if (v := getattr(head, k)) is not msgspec.UNSET}
                if only(light):
                    entries.append(light)
                    continue
            entries.append(orjson.loads(memoryview(raw)))
        lists[key] = entries
    return _part(lambda key: getattr(doc, key), cluster, lists)


def _part(get: Callable[[str], Any], cluster: str, lists: dict[str, list[Any]]) -> dict[str, Any]:
    part: dict[str, Any] = {key: get(key) for key in ("schema_version", "tool_version", "as_of")}
    part["clusters"] = [c for c in get("clusters") or [] if c.get("name") == cluster]
    part.update(lists)
    summary = get("summary") or {}
    part["per_cluster"] = next((p for p in summary.get("per_cluster") or [] if p.get("cluster") == cluster), None)
    rollup = get("compliance_rollup") or []
    part["compliance_rollup"] = [_rollup(r, cluster, part["compliance"]) for r in rollup
                                 if cluster in (r.get("clusters") or {})]
    part["exceptions"] = get("exceptions") or {}
    # the rule checks by outcome are counted per scan, not per cluster: with the clusters the scan read
    part["checks"] = summary.get("checks")
    part["scan_clusters"] = [c.get("name") for c in get("clusters") or []]
    return part


def _rollup(entry: dict[str, Any], cluster: str, compliance: list[dict[str, Any]]) -> dict[str, Any]:
    """A framework's passed and failed checks in ``cluster``: the scan's own figures when it read that cluster
    alone, else its controls' sums (a rule shared by two controls then counts twice)."""
    scores = entry.get("clusters") or {}
    if len(scores) == 1:
        return dict(entry)
    mine = next((e for e in compliance if e.get("framework") == entry.get("framework")), {})
    controls = mine.get("controls") or []
    return {**entry, "passed": sum(int(c.get("passed") or 0) for c in controls),
            "failed": sum(int(c.get("failed") or 0) for c in controls), "score": scores.get(cluster),
            "clusters": {cluster: scores.get(cluster)}}
