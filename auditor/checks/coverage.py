"""Coverage rules: is every volume and namespace inside some enabled schedule, and really captured."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from auditor.analyse.coverage import VolumeResult
from auditor.analyse.evidence import RecoveryPoint
from auditor.analyse.velero_plan import includes_cluster_resources
from auditor.checks.registry import CheckContext, register
from auditor.model.rules import Finding

PVC = "PersistentVolumeClaim"


def _audited(ctx: CheckContext) -> Iterator[VolumeResult]:
    return (v for v in ctx.analysis.volumes if v.audited)


@register("COV-001")
def out_of_scope(ctx: CheckContext) -> Iterator[Finding]:
    """At once, also while an older copy still keeps the volume within its RPO (its only schedule was just
    paused or deleted): the message says when that protection lapses."""
    for v in _audited(ctx):
        if v.in_scope_of:
            yield ctx.passed(PVC, v.namespace, v.pvc)
            continue
        message = f"PVC {v.key} is outside the scope of every enabled backup schedule"
        lapses = None
        if v.status == "protected" and v.newest is not None:
            try:
                lapses = v.newest.time + timedelta(seconds=v.policy.rpo)
            except OverflowError:
                lapses = None
            if lapses is not None:
                message += (f": its newest recovery point ({v.newest.time:%Y-%m-%dT%H:%M:%SZ}) keeps it within its "
                            f"RPO until {lapses:%Y-%m-%dT%H:%M:%SZ}, then it is unprotected")
        yield ctx.finding(PVC, v.namespace, v.pvc, message, reasons=list(v.reasons), status=v.status,
                          protected_until=lapses.strftime("%Y-%m-%dT%H:%M:%SZ") if lapses else None)


@register("COV-002")
def not_captured(ctx: CheckContext) -> Iterator[Finding]:
    for v in _audited(ctx):
        if v.in_scope_of:
            yield ctx.result(not v.covered_by, PVC, v.namespace, v.pvc,
                             f"PVC {v.key} is in scope of {', '.join(v.in_scope_of)} but no data path captures "
                             f"its data", reasons=list(v.reasons), in_scope_of=list(v.in_scope_of))


@register("COV-003")
def namespace_not_included(ctx: CheckContext) -> Iterator[Finding]:
    for ns in ctx.analysis.namespaces:
        if ns.audited and ns.has_workloads:
            yield ctx.result(not ns.included_by, "Namespace", None, ns.name,
                             f"namespace {ns.name} runs workloads but no enabled schedule includes it",
                             blocked_by=list(ns.blocked))


@register("COV-004")
def no_cluster_resources(ctx: CheckContext) -> Iterator[Finding]:
    enabled = [s for s in ctx.analysis.schedules.values() if s.enabled]
    cluster = ctx.analysis.inventory.cluster
    yield ctx.result(not any(includes_cluster_resources(s.schedule.template) for s in enabled),
                     "Cluster", None, cluster,
                     "no enabled schedule backs up cluster-scoped resources (CRDs, StorageClasses, "
                     "ClusterRoles, PersistentVolumes)", enabled_schedules=[s.key for s in enabled])


@register("COV-005")
def csi_only(ctx: CheckContext) -> Iterator[Finding]:
    as_of = ctx.analysis.as_of
    shown: dict[RecoveryPoint, dict[str, str]] = {}  # a point's evidence, made once: volumes share points
    for v in _audited(ctx):
        if v.status != "protected":
            continue
        if not _csi_only(v, as_of):
            yield ctx.passed(PVC, v.namespace, v.pvc)  # most volumes: no evidence to format
            continue
        recent = [p for p in v.recovery_points if (as_of - p.time).total_seconds() <= v.policy.retention]
        yield ctx.finding(PVC, v.namespace, v.pvc,
                          f"PVC {v.key} is protected only by CSI snapshots, which live in the same storage "
                          f"system as the volume (no data movement)",
                          recovery_points=[shown.get(p) or shown.setdefault(p, p.as_dict()) for p in recent[:3]])


def _csi_only(v: VolumeResult, as_of: datetime) -> bool:
    """Are the volume's recovery points within its retention all CSI snapshots (and is there one)? Points are
    newest first, so the first one beyond the retention ends the search, and most volumes' newest point
    answers it alone."""
    seen = False
    for p in v.recovery_points:
        if (as_of - p.time).total_seconds() > v.policy.retention:
            break
        if p.method != "csi-snapshot":
            return False
        seen = True
    return seen
