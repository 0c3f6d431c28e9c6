"""Freshness rules: recovery points within the RPO, and schedules that run, succeed and keep long enough."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from auditor.analyse.schedules import IN_FLIGHT, backup_time
from auditor.checks.registry import CheckContext, register
from auditor.model.durations import format_duration
from auditor.model.rules import Finding
from auditor.model.tools import velero


def _time(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


@register("FRS-001")
def rpo_exceeded(ctx: CheckContext) -> Iterator[Finding]:
    """Every audited volume whose newest proven recovery point is older than its RPO, whatever its status."""
    as_of = ctx.analysis.as_of
    for v in ctx.analysis.volumes:
        if not v.audited:
            continue
        if v.status == "protected":
            yield ctx.passed("PersistentVolumeClaim", v.namespace, v.pvc)
            continue
        rpo = format_duration(v.policy.rpo)
        newest = v.newest
        if newest is not None and newest.time > as_of:
            newest = None  # dated after the scan: proves nothing about the RPO (the verdict says why)
        if newest is None and v.status == "unprotected":
            continue  # never captured and nothing captures it: COV-001/COV-002 say so
        if v.status == "unknown" and (newest is None or ctx.analysis.blind):
            # a resource the verdict rests on could not be read: a newer copy may be in what was not read
            yield ctx.not_evaluated("PersistentVolumeClaim", v.namespace, v.pvc,
                                    "no proof either way: " + "; ".join(v.reasons[:2]))
            continue
        if newest is not None:
            age = format_duration((as_of - newest.time).total_seconds())
            message = f"PVC {v.key}: newest recovery point is {age} old, beyond its RPO of {rpo}"
            if v.status == "unknown":
                message += " (newer backups may hold it but prove nothing: status unknown)"
            elif v.status == "unprotected":
                message += " (and no enabled schedule captures it any more)"
        else:
            message = f"PVC {v.key} has no recovery point although {', '.join(v.covered_by)} covers it (RPO {rpo})"
        yield ctx.finding("PersistentVolumeClaim", v.namespace, v.pvc, message, policy=v.policy.name,
                          rpo_seconds=v.policy.rpo, last_success=_time(newest.time if newest else None),
                          covered_by=list(v.covered_by), status=v.status)


def _backup_evidence(b: velero.Backup) -> dict[str, Any]:
    return {"backup": b.meta.name, "phase": b.phase, "created": _time(b.meta.created)}


@register("FRS-002")
def latest_failed(ctx: CheckContext) -> Iterator[Finding]:
    """On the Schedule, so the finding keeps its identity from one run (and one backup) to the next."""
    for s in ctx.analysis.schedules.values():
        b = s.latest_terminal
        if b is not None:
            detail = b.failure_reason or "; ".join(b.validation_errors) or "no reason recorded"
            yield ctx.result(b.phase in ("Failed", "FailedValidation"), "Schedule", s.schedule.meta.namespace,
                             s.schedule.meta.name,
                             f"latest backup of schedule {s.key}, {b.meta.name}, is {b.phase}: {detail}",
                             schedule=s.key, **_backup_evidence(b))


@register("FRS-003")
def latest_partially_failed(ctx: CheckContext) -> Iterator[Finding]:
    failed_items: dict[str, list[str]] = {}
    for v in ctx.analysis.volumes:
        for a in v.attempts:
            if a.outcome == "failed" and a.source.startswith("Backup "):
                failed_items.setdefault(a.source.removeprefix("Backup "), []).append(f"{v.key}: {a.detail}")
    for s in ctx.analysis.schedules.values():
        b = s.latest_terminal
        if b is None or b.phase not in ("PartiallyFailed", "Completed"):
            continue
        items = failed_items.get(b.meta.key, [])
        yield ctx.result(b.phase == "PartiallyFailed" or bool(items), "Schedule", s.schedule.meta.namespace,
                         s.schedule.meta.name,
                         f"latest backup of schedule {s.key}, {b.meta.name}, is {b.phase}"
                         + (f" and {len(items)} volume item(s) failed" if items else ""),
                         schedule=s.key, errors=b.errors, failed_volumes=items[:20], **_backup_evidence(b))


@register("FRS-004")
def schedule_paused(ctx: CheckContext) -> Iterator[Finding]:
    for s in ctx.analysis.schedules.values():
        yield ctx.result(s.paused, "Schedule", s.schedule.meta.namespace, s.schedule.meta.name,
                         f"schedule {s.key} is paused: it creates no backups and covers nothing",
                         cron=s.schedule.cron)


@register("FRS-005")
def missed_runs(ctx: CheckContext) -> Iterator[Finding]:
    threshold = int(ctx.params.get("missed_intervals", 2))
    as_of = ctx.analysis.as_of
    for s in ctx.analysis.schedules.values():
        if not s.enabled:
            continue
        missed = s.missed_runs(as_of)
        latest = s.latest
        since = _time(latest.meta.created) if latest else None
        yield ctx.result(missed >= threshold, "Schedule", s.schedule.meta.namespace, s.schedule.meta.name,
                         f"schedule {s.key} ({s.schedule.cron}) created no backup for {missed}+ runs"
                         + (f" (last one {since})" if since else " (never)"),
                         cron=s.schedule.cron, last_backup_created=since,
                         expected_interval_seconds=s.interval(as_of))


@register("FRS-006")
def backup_stuck(ctx: CheckContext) -> Iterator[Finding]:
    limit = float(ctx.params.get("limit_seconds", ctx.analysis.config.stuck_backup_after))
    as_of = ctx.analysis.as_of
    for b in ctx.analysis.evidence.backups.values():
        if (b.phase or "") not in IN_FLIGHT:
            continue
        since = backup_time(b)
        if since is None:
            continue
        age = format_duration((as_of - since).total_seconds())
        yield ctx.result((as_of - since).total_seconds() > limit, "Backup", b.meta.namespace, b.meta.name,
                         f"backup {b.meta.key} has been {b.phase or 'New'} for {age} (limit "
                         f"{format_duration(limit)})", phase=b.phase or "New", since=_time(since),
                         schedule=b.schedule)


@register("FRS-007")
def ttl_too_short(ctx: CheckContext) -> Iterator[Finding]:
    needed: dict[str, tuple[float, str]] = {}
    for v in ctx.analysis.volumes:
        if not v.audited:
            continue
        for key in v.covered_by:
            if key in ctx.analysis.schedules and v.policy.retention > needed.get(key, (0.0, ""))[0]:
                needed[key] = (v.policy.retention, v.policy.name)
    for key, (retention, policy) in sorted(needed.items()):
        s = ctx.analysis.schedules[key]
        yield ctx.result(s.ctx.ttl < retention, "Schedule", s.schedule.meta.namespace, s.schedule.meta.name,
                         f"schedule {s.key} keeps backups {format_duration(s.ctx.ttl)}, shorter than the "
                         f"retention of {format_duration(retention)} required by policy {policy}",
                         ttl_seconds=s.ctx.ttl, retention_seconds=retention, policy=policy)


@register("FRS-008")
def schedule_invalid(ctx: CheckContext) -> Iterator[Finding]:
    for s in ctx.analysis.schedules.values():
        errors = list(s.schedule.validation_errors) or [s.cron_error or ""]
        yield ctx.result(s.failed_validation or bool(s.cron_error and not s.paused), "Schedule",
                         s.schedule.meta.namespace, s.schedule.meta.name,
                         f"schedule {s.key} is invalid ({'; '.join(errors)}): Velero will not run it",
                         phase=s.schedule.phase, validation_errors=errors)
