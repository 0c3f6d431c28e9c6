"""Agents reporting to one history store (the hub): who each cluster is, and which agents went silent.

Pure: the store reads the identities, these functions judge them at a given time. A cluster is known by
its name and its kube-system namespace uid; two uids under one name are two clusters claiming the name
(GOV-007), never one history. An agent is silent when its newest scan is older than twice its interval
(recorded with each scan), or than ``DEFAULT_SILENCE`` when it has none (GOV-006).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from auditor.model.durations import format_duration
from auditor.model.rules import Finding, Rule

DEFAULT_SILENCE = 2 * 3600.0  # seconds without a scan that make an agent silent when it recorded no interval
SILENCE_FACTOR = 2.0  # ...else this many of its intervals
KUBE_SYSTEM = "kube-system"


@dataclass(frozen=True)
class AgentState:
    """One cluster identity as the hub knows it: its newest scan and its agent's interval."""

    name: str
    uid: str  # kube-system namespace uid; "" when its scans could not read it
    first_seen: datetime
    last_seen: datetime  # as_of of its newest recorded scan
    interval_seconds: float | None  # its agent's scan interval (None: not an agent, e.g. `auditor scan`)
    other_uids: tuple[str, ...] = field(default=())  # other clusters recorded under the same name (GOV-007)

    @property
    def silent_after(self) -> float:
        """Seconds without a scan after which the agent counts as silent."""
        return SILENCE_FACTOR * self.interval_seconds if self.interval_seconds else DEFAULT_SILENCE

    def age(self, at: datetime) -> float:
        return max(0.0, (at - self.last_seen).total_seconds())

    def silent(self, at: datetime) -> bool:
        return self.age(at) > self.silent_after

    @property
    def conflict(self) -> bool:
        return bool(self.other_uids)


def cluster_uid(namespaces: Iterable[object]) -> str | None:
    """The kube-system namespace's uid among a cluster's namespace records (None when it was not read)."""
    for ns in namespaces:
        meta = getattr(ns, "meta", None)
        if meta is not None and meta.name == KUBE_SYSTEM:
            uid = getattr(meta, "uid", None)
            return uid if isinstance(uid, str) and uid else None
    return None


def with_conflicts(agents: Iterable[AgentState]) -> list[AgentState]:
    """The identities with each one's rivals for its name filled in, by name then uid.

    An identity without a uid (scans recorded before uids were, or a dump without kube-system) is the same
    cluster as the one uid under its name, so it is folded into it; under two or more uids it stays apart.
    """
    by_name: dict[str, list[AgentState]] = {}
    for a in agents:
        by_name.setdefault(a.name, []).append(a)
    out: list[AgentState] = []
    for name in sorted(by_name):
        group = by_name[name]
        known = [a for a in group if a.uid]
        if len(known) == 1:
            unknown = [a for a in group if not a.uid]
            merged = known[0]
            for u in unknown:
                merged = AgentState(name, merged.uid, min(merged.first_seen, u.first_seen),
                                    max(merged.last_seen, u.last_seen), merged.interval_seconds)
            group = [merged]
        uids = sorted(a.uid for a in group if a.uid)
        for a in sorted(group, key=lambda x: x.uid):
            others = tuple(u for u in uids if u != a.uid) if a.uid else ()
            out.append(AgentState(a.name, a.uid, a.first_seen, a.last_seen, a.interval_seconds, others))
    return out


UID_SHOWN = 8  # characters of a kube-system uid shown next to a name two clusters claim


def shown_names(pairs: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None], str]:
    """How to name each (cluster name, kube-system uid) to a reader: the name, or ``name (uid-start)`` when
    several uids claim it (GOV-007): two clusters are never shown as one. Rows recorded without a uid belong
    to the one uid under their name, as :func:`with_conflicts` folds them; under several they say so."""
    pairs = list(pairs)
    uids: dict[str, set[str]] = {}
    for name, uid in pairs:
        if uid:
            uids.setdefault(name, set()).add(uid)
    return {(name, uid): f"{name} ({(uid or 'no uid')[:UID_SHOWN]})" if len(uids.get(name, ())) > 1 else name
            for name, uid in pairs}


def silence_message(agent: AgentState, at: datetime) -> str:
    every = f"its interval is {format_duration(agent.interval_seconds)}" if agent.interval_seconds else \
        "it recorded no interval"
    return (f"the agent of cluster {agent.name} has recorded no scan for {format_duration(agent.age(at))} "
            f"({every}; silent after {format_duration(agent.silent_after)})")


def claim_message(name: str, uid: str, others: Iterable[str]) -> str:
    listed = ", ".join(others)
    return (f"cluster name {name} is claimed by clusters with different kube-system uids: this one ({uid}) and "
            f"{listed}; their scans are kept apart, never merged: give each its own --cluster-name")


def fleet_findings(agents: Iterable[AgentState], at: datetime, rules: Iterable[Rule]) -> list[Finding]:
    """GOV-006 and GOV-007 for ``auditor fleet``: one finding per silent agent and per identity whose name
    another cluster claims (each names its own cluster)."""
    severity = {r.id: r.severity for r in rules}
    out = []
    for a in agents:
        if "GOV-006" in severity and a.silent(at):
            out.append(Finding("GOV-006", severity["GOV-006"], a.name, "Cluster", None, a.name,
                               silence_message(a, at), {"uid": a.uid or None,
                                                        "last_scan": a.last_seen.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                        "age_seconds": a.age(at),
                                                        "interval_seconds": a.interval_seconds,
                                                        "silent_after_seconds": a.silent_after}))
        if "GOV-007" in severity and a.conflict:
            out.append(Finding("GOV-007", severity["GOV-007"], a.name, "Cluster", None, a.name,
                               claim_message(a.name, a.uid, a.other_uids),
                               {"uid": a.uid, "other_uids": list(a.other_uids)}))
    return out
