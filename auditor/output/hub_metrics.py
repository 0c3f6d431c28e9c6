"""Series of ``auditor serve --store`` about the store and the other agents (rendered per scrape).

``agent_silent`` is exported by every ``serve`` connected to the store, for every cluster it knows except
its own: the alert takes ``max by (cluster)``, so several observers never count one silent agent twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from auditor.analyse.fleet import AgentState
from auditor.output.labels import label

PREFIX = "backup_auditor_"


@dataclass(frozen=True)
class HubStatus:
    """The store as one ``serve`` sees it: what waits to be written, and the clusters it knows."""

    fleet: tuple[AgentState, ...] | None  # None: never read (the store unreachable since the start)
    at: datetime  # when silence is judged
    pending_writes: int
    dropped_writes: int
    store_up: bool | None  # the newest attempt reached the store (None: none yet)
    own: tuple[tuple[str, str], ...] = ()  # (name, uid) of the clusters this serve scans (uid "" unknown)
    pending_limit: int | None = None  # scans kept at most (history.pending_writes); beyond, the oldest is dropped

    def observed(self) -> list[AgentState]:
        """The other clusters: this serve's own are being scanned, never silent from here."""
        return [a for a in self.fleet or ()
                if not any(a.name == n and (not u or not a.uid or a.uid == u) for n, u in self.own)]


def _label(value: str) -> str:
    return label(value)


def hub_families(status: HubStatus | None) -> Iterator[Metric]:
    """Pending and dropped writes, whether the store answered, and each agent's silence (the families exist,
    empty, without a store)."""
    pending = GaugeMetricFamily(PREFIX + "store_pending_writes", "Scans kept in memory because the history store "
                                "could not be reached; written in order when it is back.")
    if status is not None:
        pending.add_metric([], float(status.pending_writes))
    limit = GaugeMetricFamily(PREFIX + "store_pending_writes_limit", "Scans kept in memory at most while the "
                              "history store is unreachable (history.pending_writes); beyond it the oldest is "
                              "dropped.")
    if status is not None and status.pending_limit is not None:
        limit.add_metric([], float(status.pending_limit))
    dropped = CounterMetricFamily(PREFIX + "store_dropped_writes", "Scans dropped unwritten: more than the "
                                  "in-memory limit waited for an unreachable history store.")
    if status is not None:
        dropped.add_metric([], float(status.dropped_writes))
    up = GaugeMetricFamily(PREFIX + "store_up", "1 when the newest attempt to write to or read the history store "
                           "succeeded, 0 when it failed.")
    if status is not None and status.store_up is not None:
        up.add_metric([], 1.0 if status.store_up else 0.0)
    labels = ["cluster", "uid"]
    silent = GaugeMetricFamily(PREFIX + "agent_silent", "1 when the cluster's agent recorded no scan in the "
                               "history store for more than twice its interval (2 h without one): GOV-006 (0 for "
                               "the clusters this serve scans).",
                               labels=labels)
    last = GaugeMetricFamily(PREFIX + "agent_last_scan_timestamp_seconds", "Unix time of the newest scan the "
                             "cluster's agent recorded in the history store.", labels=labels)
    claimed = GaugeMetricFamily(PREFIX + "cluster_name_claims", "Clusters (kube-system uids) that recorded scans "
                                "under this cluster name: more than 1 is GOV-007.", labels=["cluster"])
    if status is not None and status.store_up:  # a cut-off serve's old view would call everyone silent
        claims: dict[str, int] = {}
        for a in status.fleet or ():
            claims[a.name] = max(claims.get(a.name, 0), 1 + len(a.other_uids))
        observed = {id(a) for a in status.observed()}
        for a in status.fleet or ():
            key = [_label(a.name), _label(a.uid)]
            silent.add_metric(key, 1.0 if id(a) in observed and a.silent(status.at) else 0.0)  # its own: scanning
            last.add_metric(key, a.last_seen.timestamp())
        for name, n in sorted(claims.items()):
            claimed.add_metric([_label(name)], float(n))
    yield from (pending, limit, dropped, up, silent, last, claimed)
