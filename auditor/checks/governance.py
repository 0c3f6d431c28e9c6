"""Governance rules: tested restores, tools that agree on a point in time, exceptions that expired."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from auditor.checks.registry import CheckContext, Finding, register
from auditor.durations import format_duration


@register("GOV-001")
def no_restore(ctx: CheckContext) -> Iterator[Finding]:
    limit = float(ctx.params["limit_seconds"])
    as_of = ctx.analysis.as_of
    inv = ctx.analysis.inventory
    done = [r for r in inv.restores if r.phase == "Completed" and r.completed is not None]
    newest = max(done, key=lambda r: r.completed or as_of, default=None)
    age = (as_of - newest.completed).total_seconds() if newest and newest.completed else None
    yield ctx.result(age is None or age > limit, "Cluster", None, inv.cluster,
                     (f"the last successful restore ({newest.meta.key}) completed {format_duration(age)} ago, beyond "
                      f"the limit of {format_duration(limit)}" if newest and age is not None else
                      "no successful restore is recorded: the backups have not been shown to restore"),
                     last_restore=newest.meta.key if newest else None, age_seconds=age)


@register("GOV-003")
def tools_disagree(ctx: CheckContext) -> Iterator[Finding]:
    tolerance = float(ctx.params["tolerance_seconds"])
    for v in ctx.analysis.volumes:
        if not v.audited:
            continue
        newest: dict[str, float] = {}
        for p in v.recovery_points:
            newest.setdefault(p.tool, p.time.timestamp())
        tools = {t: ts for t, ts in newest.items() if t in ("velero", "k8up", "kubestash")}
        if len(tools) < 2:
            continue
        spread = max(tools.values()) - min(tools.values())
        yield ctx.result(spread > tolerance, "PersistentVolumeClaim", v.namespace, v.pvc,
                         f"PVC {v.key} is backed up by {', '.join(sorted(tools))}, whose newest recovery points are "
                         f"{format_duration(spread)} apart (tolerance {format_duration(tolerance)})",
                         tools=sorted(tools), spread_seconds=spread)


@register("GOV-004")
def exception_expired(ctx: CheckContext) -> Iterator[Finding]:
    as_of = ctx.analysis.as_of
    cluster = ctx.analysis.inventory.cluster
    for e in ctx.run.exceptions:
        if not fnmatch.fnmatchcase(cluster, e.selector.cluster):
            continue  # the exception is about another cluster (annotation exceptions name their own)
        yield ctx.result(e.expired(as_of), "Exception", None, e.key,
                         f"exception {e.key} (owner {e.owner}) expired on {e.expires}: it no longer covers "
                         f"{', '.join(e.rules)}", owner=e.owner, reason=e.reason,
                         expires=e.expires.isoformat() if e.expires else None)
