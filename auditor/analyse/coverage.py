"""Per volume: is it really protected, by what, since when — and if not, why not.

Statuses: ``protected`` (newest recovery point within the RPO), ``stale`` (not protected, but an
enabled schedule captures it), ``unprotected`` (no enabled schedule captures its data), ``unknown``
(evidence missing or unreadable). Unknown is never reported as protected.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import msgspec

from auditor.analyse.credentials import CredentialInfo, credential_infos
from auditor.analyse.evidence import (
    MAX_BACKUPS_PER_SCHEDULE,
    Attempt,
    EvidenceIndex,
    PVCKey,
    RecoveryPoint,
)
from auditor.analyse.gaps import VOLUME_RESOURCES, describe, volume_blind
from auditor.analyse.protection import ProtectionState
from auditor.analyse.schedules import ScheduleState, schedule_states
from auditor.analyse.tools import TOOLS
from auditor.analyse.velero_plan import Capture, SpecContext, VeleroPlanner
from auditor.analyse.velero_server import VeleroServer, velero_servers
from auditor.config import AppliedPolicy, AuditConfig
from auditor.model import records as r
from auditor.model.durations import format_duration
from auditor.model.inventory import Gap, Inventory
from auditor.model.tools import velero
from auditor.model.tools.velero import VeleroCatalog

#: A recovery point dated later than this after the scan time is not believed (clocks disagree a little).
CLOCK_SKEW = timedelta(minutes=10)
#: Resources whose absence makes a "not protected" verdict unreliable (see ``gaps.py``).
VERDICT_RESOURCES = frozenset(VOLUME_RESOURCES)
T = TypeVar("T")


class VolumeResult(msgspec.Struct, frozen=True, gc=False):
    """One volume's verdict. A frozen ``msgspec.Struct``: a large cluster has tens of thousands, and a frozen
    dataclass's ``__init__`` sets each of the 16 fields through ``object.__setattr__``."""

    cluster: str
    namespace: str
    pvc: str
    pv: str | None
    storage_class: str | None
    status: str
    audited: bool
    policy: AppliedPolicy
    last_success: datetime | None
    methods: tuple[str, ...]
    covered_by: tuple[str, ...]
    in_scope_of: tuple[str, ...]
    reasons: tuple[str, ...]
    recovery_points: tuple[RecoveryPoint, ...]  # newest first
    attempts: tuple[Attempt, ...]  # newest first
    captures: tuple[tuple[str, Capture], ...] = ()  # per Velero schedule

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.pvc}"

    @property
    def newest(self) -> RecoveryPoint | None:
        return self.recovery_points[0] if self.recovery_points else None


@dataclass(frozen=True)
class NamespaceCoverage:
    name: str
    has_workloads: bool
    audited: bool
    included_by: tuple[str, ...]  # enabled schedules that include the namespace
    blocked: tuple[str, ...]  # why schedules that would include it do not (paused, label-excluded...)


@dataclass(frozen=True)
class ClusterAnalysis:
    inventory: Inventory
    as_of: datetime
    config: AuditConfig
    servers: dict[str, VeleroServer]
    schedules: dict[str, ScheduleState]
    volumes: tuple[VolumeResult, ...]
    namespaces: tuple[NamespaceCoverage, ...]
    evidence: EvidenceIndex
    planner: VeleroPlanner
    credentials: tuple[CredentialInfo, ...] = ()
    previous: ProtectionState | None = None  # the previous scan of this cluster (history store), for GOV-002
    blind: tuple[Gap, ...] = ()  # gaps that make volume verdicts not proven protected unknown


def analyse_cluster(inv: Inventory, config: AuditConfig, as_of: datetime,
                    catalog: VeleroCatalog | None = None, previous: ProtectionState | None = None) -> ClusterAnalysis:
    servers = velero_servers(inv)
    planner = VeleroPlanner(inv)
    schedules = schedule_states(inv, servers)
    enabled = [s for s in schedules.values() if s.enabled]
    evidence = EvidenceIndex(inv, catalog)
    # the other tools' coverage and recovery points, merged per volume in the registry's order
    other_cov: dict[PVCKey, list[str]] = {}
    other_points: dict[PVCKey, list[RecoveryPoint]] = {}
    for tool in TOOLS:
        for key, names in (tool.coverage(inv) if tool.coverage else {}).items():
            other_cov.setdefault(key, []).extend(names)
        for key, points in (tool.points(inv) if tool.points else {}).items():
            other_points.setdefault(key, []).extend(points)
    adhoc = _adhoc_backups(inv, evidence, servers)
    blind = volume_blind(inv, any(s.template.resource_policy for s in inv.schedules)
                         or any(b.spec.resource_policy for b, _ in adhoc))

    # Which enabled schedules include each namespace: computed once per (schedule, namespace).
    all_namespaces = sorted({p.meta.namespace or "" for p in inv.pvcs} | set(inv.namespace_by_name))
    ns_included: dict[str, list[ScheduleState]] = {ns: [] for ns in all_namespaces}
    adhoc_by_ns: dict[str, list[tuple[velero.Backup, SpecContext]]] = {ns: [] for ns in all_namespaces}
    for s in enabled:
        for ns in planner.namespaces_in_scope(s.ctx, all_namespaces):
            ns_included[ns].append(s)
    for b, ctx in adhoc:
        for ns in planner.namespaces_in_scope(ctx, all_namespaces):
            adhoc_by_ns[ns].append((b, ctx))

    volumes = []
    # Per namespace and label set, not per PVC: PVCs of one app share one (immutable) labels mapping, and
    # every mapping here lives as long as the inventory, so its id is a safe key for this loop.
    policies: dict[tuple[str, int], AppliedPolicy] = {}
    excluded: dict[str, bool] = {}
    scope = config.for_cluster(inv.cluster)
    share = _Shared()
    believed = as_of + CLOCK_SKEW  # recovery points dated later prove nothing
    for pvc in inv.pvcs:
        ns = pvc.meta.namespace or ""
        key = (ns, pvc.meta.name)
        policy = policies.get((ns, id(pvc.meta.labels)))
        if policy is None:
            ns_labels = inv.namespace_by_name[ns].meta.labels if ns in inv.namespace_by_name else {}
            policy = policies[(ns, id(pvc.meta.labels))] = share(scope.policy_for(ns, ns_labels, pvc.meta.labels))
        if ns not in excluded:
            excluded[ns] = scope.excluded(ns)
        captures = share(tuple((s.key, share(planner.capture(s.ctx, pvc))) for s in ns_included.get(ns, ())))
        # newest first, merged lazily: evidence stops at the first proof, so older backups are rarely touched
        streams: list[Iterable[tuple[velero.Backup, Capture]]] = [
            ((b, c) for b in schedules[s_key].backups[:MAX_BACKUPS_PER_SCHEDULE])
            for s_key, c in captures if c.captured]
        if adhoc_by_ns.get(ns):
            streams.append(sorted(((b, c) for b, ctx in adhoc_by_ns[ns] for c in [planner.capture(ctx, pvc)]
                                   if c.captured), key=_newest_first))
        # one stream (the common case) needs no merging
        candidates = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=_newest_first)
        points, attempts = evidence.velero_points(key, candidates)
        points += other_points.get(key, [])
        points.sort(key=_time, reverse=True)
        future = [p for p in points if p.time > believed]
        if future:  # dated after the scan: clock skew or bad data, proof of nothing
            points = [p for p in points if p.time <= believed]
        attempts.sort(key=_time, reverse=True)
        covered_by = [s_key for s_key, c in captures if c.captured] + other_cov.get(key, [])
        in_scope = [s_key for s_key, c in captures if c.in_scope] + other_cov.get(key, [])
        methods = sorted({m for _, c in captures for m in c.methods} | _recent_methods(points, as_of, policy.rpo))
        status, reasons = _verdict(pvc, policy, as_of, points, attempts, covered_by, captures,
                                   schedules, ns_included.get(ns, []), blind, planner, inv, future)
        volumes.append(VolumeResult(
            cluster=inv.cluster, namespace=ns, pvc=pvc.meta.name, pv=pvc.volume_name, storage_class=pvc.storage_class,
            status=status, audited=not excluded[ns], policy=policy,
            last_success=points[0].time if points else None, methods=share(tuple(methods)),
            covered_by=share(tuple(dict.fromkeys(covered_by))), in_scope_of=share(tuple(dict.fromkeys(in_scope))),
            reasons=share(tuple(reasons)), recovery_points=share(tuple(points[:10])),
            attempts=share(tuple(attempts[:10])), captures=captures,
        ))
    evidence.release()  # the per-volume records are judged: the analysis keeps the index for its backups
    namespaces = _namespace_coverage(inv, config, schedules, planner, ns_included)
    return ClusterAnalysis(inv, as_of, config, servers, schedules, tuple(volumes), namespaces, evidence, planner,
                           credential_infos(inv, as_of), previous=previous, blind=tuple(blind))


class _Shared:
    """One object per distinct value of what many volumes repeat (their policy, the tuples of schedules,
    methods, reasons, captures, recovery points): a large cluster's 20,000 volumes hold a few thousand
    distinct ones. Only immutable values, and only for the analysis of one cluster."""

    def __init__(self) -> None:
        self._values: dict[object, object] = {}

    def __call__(self, value: T) -> T:
        return self._values.setdefault(value, value)  # type: ignore[return-value]


def _recent_methods(points: list[RecoveryPoint], as_of: datetime, rpo: float) -> set[str]:
    """The methods of the points within the RPO; ``points`` are newest first, so the first older one ends it."""
    methods = set()
    for p in points:
        if (as_of - p.time).total_seconds() > rpo:
            break
        methods.add(p.method)
    return methods


def _time(item: RecoveryPoint | Attempt) -> datetime:
    return item.time


def _newest_first(candidate: tuple[velero.Backup, Capture]) -> float:
    created = candidate[0].meta.created
    return -created.timestamp() if created else 0.0


def _adhoc_backups(inv: Inventory, evidence: EvidenceIndex, servers: dict[str, VeleroServer],
                   ) -> list[tuple[velero.Backup, SpecContext]]:
    """Backups not made by a schedule (``velero backup create``), each judged by its own spec."""
    out = []
    for b in evidence.backups.values():
        if b.schedule is None:
            ns = b.meta.namespace or ""
            out.append((b, SpecContext(b.spec, ns, servers.get(ns), f"backup {b.meta.key}")))
    return out


def _verdict(pvc: r.PersistentVolumeClaim, policy: AppliedPolicy, as_of: datetime,
             points: list[RecoveryPoint], attempts: list[Attempt], covered_by: list[str],
             captures: Sequence[tuple[str, Capture]], schedules: dict[str, ScheduleState],
             including: list[ScheduleState], blind: list[Gap], planner: VeleroPlanner, inv: Inventory,
             future: list[RecoveryPoint] | None = None) -> tuple[str, list[str]]:
    newest = points[0] if points else None
    if newest and (as_of - newest.time).total_seconds() <= policy.rpo:
        return "protected", []
    rpo = format_duration(policy.rpo)
    reasons: list[str] = []
    if newest:
        reasons.append(f"newest recovery point ({newest.source}, {newest.method}) is "
                       f"{format_duration((as_of - newest.time).total_seconds())} old, beyond the RPO of {rpo}")
    unproven = [a for a in attempts if a.outcome == "unknown" and (as_of - a.time).total_seconds() <= policy.rpo
                and (newest is None or a.time > newest.time)]
    if unproven or blind or future:
        reasons += [f"{p.source}: dated {p.time:%Y-%m-%dT%H:%M:%SZ}, after the scan time: not counted (clock skew "
                    f"or bad data)" for p in (future or [])[:3]]
        reasons += [f"{a.source}: {a.detail}" for a in unproven[:3]]
        reasons[:0] = [describe([g]) for g in blind]
        return "unknown", reasons
    recent = [f"{a.source} {a.outcome}: {a.detail}" for a in attempts[:2] if a.outcome in ("failed", "skipped")]
    if covered_by:
        if not newest:
            reasons.append(f"no recovery point exists, although {', '.join(covered_by)} captures it")
        return "stale", reasons + _failing_schedules(covered_by, schedules) + recent
    return "unprotected", reasons + _why_not_covered(pvc, captures, schedules, including, planner, inv) + recent


def _failing_schedules(covered_by: list[str], schedules: dict[str, ScheduleState]) -> list[str]:
    """Why the covering schedules produce no fresh copy: their newest backup failed, or none runs."""
    out = []
    for key in covered_by:
        state = schedules.get(key)
        if state is None:
            continue
        b = state.latest_terminal
        if b is not None and b.phase in ("Failed", "FailedValidation"):
            why = b.failure_reason or "; ".join(b.validation_errors) or "no reason recorded"
            out.append(f"the newest backup of {key}, {b.meta.name}, is {b.phase}: {why}")
        elif state.latest is not None and state.latest.phase not in ("Completed", "PartiallyFailed", "Failed",
                                                                        "FailedValidation"):
            out.append(f"the newest backup of {key}, {state.latest.meta.name}, is still {state.latest.phase or 'New'}")
    return out


def _why_not_covered(pvc: r.PersistentVolumeClaim, captures: Sequence[tuple[str, Capture]],
                     schedules: dict[str, ScheduleState], including: list[ScheduleState],
                     planner: VeleroPlanner, inv: Inventory) -> list[str]:
    ns = pvc.meta.namespace or ""
    reasons: list[str] = []
    if not including:
        if ns in planner.label_excluded_namespaces:
            reasons.append(f"namespace {ns} carries velero.io/exclude-from-backup=true")
        elif not any(s.enabled for s in schedules.values()):
            reasons.append("no enabled Velero schedule exists")
        else:
            reasons.append(f"no enabled schedule includes namespace {ns}")
        for s in schedules.values():
            if not s.enabled and planner.namespace_included(s.ctx, ns) is None:
                state = "paused" if s.paused else f"not valid ({s.cron_error or 'FailedValidation'})"
                reasons.append(f"schedule {s.key} includes namespace {ns} but is {state}")
        return reasons
    for key, capture in captures:
        reasons.extend(f"{key}: {reason}" for reason in capture.reasons)
    return list(dict.fromkeys(reasons))


def _namespace_coverage(inv: Inventory, config: AuditConfig, schedules: dict[str, ScheduleState],
                        planner: VeleroPlanner, ns_included: dict[str, list[ScheduleState]],
                        ) -> tuple[NamespaceCoverage, ...]:
    scope = config.for_cluster(inv.cluster)
    with_namespaces = [t for t in TOOLS if t.namespaces]
    other = {ns for t in with_namespaces if t.namespaces for ns in t.namespaces(inv)}
    others = "/".join(t.name for t in with_namespaces)  # one label for all of them, as the document has it
    out = []
    for ns in inv.namespaces:
        name = ns.meta.name
        has_workloads = bool(inv.pods_by_namespace.get(name) or inv.workloads_by_namespace.get(name))
        included = [s.key for s in ns_included.get(name, [])]
        included += [f"{others} in {name}"] if name in other else []
        blocked = []
        if name in planner.label_excluded_namespaces:
            blocked.append("namespace carries velero.io/exclude-from-backup=true")
        for s in schedules.values():
            if not s.enabled and planner.namespace_included(s.ctx, name) is None:
                blocked.append(f"schedule {s.key} is {'paused' if s.paused else 'not valid'}")
        out.append(NamespaceCoverage(name, has_workloads, not scope.excluded(name), tuple(included), tuple(blocked)))
    return tuple(out)
