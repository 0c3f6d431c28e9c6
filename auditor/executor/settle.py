"""Settling a scheduled job's earlier runs that never ended, without ever adopting them.

A scheduled run is identified by its job and fire time: a later fire time creates its own object, even
while an earlier one is still working (Velero queues Backups, as its own schedules do). The earlier run
is finished on its own: its object is read, and a run whose object ended is recorded with that end; one
whose object is still working is marked ``timed-out`` once its deadline (start + the job's timeout) has
passed, and otherwise followed to its end (after a takeover nobody else follows it). A ``timed-out`` run
stays unfinished until its object ends, because Velero keeps working on it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.collect.kinds import BY_GROUP_KIND, ResourceKind
from auditor.collect.live import LiveSource
from auditor.errors import ApiStatusError
from auditor.executor import run as executor
from auditor.executor.drill import RESULT_ANNOTATION
from auditor.executor.runner import failure_reason
from auditor.executor.velero import TERMINAL
from auditor.model.runs import RunRecord

Echo = Callable[[str], None]
KINDS: dict[str, ResourceKind] = {"Backup": executor.BACKUPS, "VolumeSnapshot": executor.SNAPSHOTS,
                                  "Restore": BY_GROUP_KIND[("velero.io", "Restore")]}



class Ending:
    """What a run's object says about the run: its final status and detail, or None while it works."""

    def __init__(self, status: str | None, detail: dict[str, Any]) -> None:
        self.status, self.detail = status, detail


def ending(kind: str, obj: dict[str, Any] | None) -> Ending:
    """The end a run's object has reached (``obj`` None: the object is gone)."""
    if obj is None:
        return Ending("failed", {"error": f"the {kind} no longer exists"})
    status = obj.get("status") or {}
    if kind == "VolumeSnapshot":
        if status.get("readyToUse") is True:
            return Ending("succeeded", {"readyToUse": True})
        message = (status.get("error") or {}).get("message")
        return Ending("failed", {"readyToUse": False, "error": str(message)[:500]}) if message else \
            Ending(None, {"readyToUse": False})
    phase = str(status.get("phase") or "New")
    if kind == "Restore":
        verdict = ((obj.get("metadata") or {}).get("annotations") or {}).get(RESULT_ANNOTATION)
        if verdict in ("passed", "failed"):
            return Ending("succeeded" if verdict == "passed" else "failed", {"phase": phase, "verdict": verdict})
        if phase in TERMINAL and phase != "Completed":
            return Ending("failed", {"phase": phase, "reason": failure_reason(obj)})
        return Ending(None, {"phase": phase})  # Completed but never verified: its deadline decides
    if phase == "Completed":
        return Ending("succeeded", {"phase": phase})
    if phase in TERMINAL:
        return Ending("failed", {"phase": phase, "reason": failure_reason(obj)})
    return Ending(None, {"phase": phase})


def read_object(api: Any, run: RunRecord) -> dict[str, Any] | None:
    kind = KINDS[run.kind]
    try:
        obj = LiveSource(api, "executor").get_json(f"{kind.list_path(run.namespace)}/{run.object_name}")
    except ApiStatusError as exc:
        if exc.status == 404:
            return None
        raise executor.ExecutorError(f"cannot read {run.kind} {run.namespace}/{run.object_name}: "
                                     f"{exc.message}") from None
    return obj if isinstance(obj, dict) else None


def settle(api: Any, db: Any, run: RunRecord, timeout: float, echo: Echo,
           now: datetime | None = None) -> float | None:
    """Record what ``run``'s object says; returns the seconds left before its deadline when it is still
    working within it (the caller may follow it), else None."""
    now = now or datetime.now(UTC)
    obj = read_object(api, run)
    end = ending(run.kind, obj)
    if obj is None and run.status == "planned":
        end = Ending("failed", {"error": f"the {run.kind} was never created (the run stopped before creating it)"})
    label = f"earlier run {run.identity}"
    if end.status is not None:
        db.update_run(run.identity, end.status, end.detail, finished_at=now)
        echo(f"{label} ended: {end.status}")
        return None
    left = (run.started_at + timedelta(seconds=timeout) - now).total_seconds()
    if left > 0 and run.kind != "Restore":
        return left
    if run.kind == "Restore" and end.detail.get("phase") == "Completed" and left <= 0:
        db.update_run(run.identity, "failed", {**end.detail, "reason": "the drill's deadline passed before it "
                                               "was verified"}, finished_at=now)
        echo(f"{label} ended: failed (never verified)")
        return None
    if run.status != "timed-out" and left <= 0:
        db.update_run(run.identity, "timed-out", {**end.detail, "error": f"still {end.detail.get('phase', 'not ready')}"
                                                  f" after the job's timeout of {timeout:.0f} s"})
        echo(f"{label} recorded as timed-out: its {run.kind} is still working; it is not adopted by later fire "
             "times")
    return None


def follow_to_end(api: Any, db: Any, run: RunRecord, seconds: float, echo: Echo) -> None:
    """Follow an earlier run's object until it ends or its deadline passes, and record which."""
    try:
        if run.kind == "Backup":
            final = executor.wait(api, str(run.namespace), run.object_name, seconds)
        else:
            final = executor.wait_snapshot(api, str(run.namespace), run.object_name, seconds)
    except executor.ExecutorTimeoutError as exc:
        phase = str((exc.last.get("status") or {}).get("phase") or "not ready")
        db.update_run(run.identity, "timed-out", {"phase": phase, "error": str(exc)})
        echo(f"earlier run {run.identity} recorded as timed-out")
        return
    except executor.ExecutorError as exc:
        db.update_run(run.identity, "failed", {"error": str(exc)}, finished_at=datetime.now(UTC))
        echo(f"earlier run {run.identity} ended: failed: {exc}")
        return
    end = ending(run.kind, final)
    db.update_run(run.identity, end.status or "failed", end.detail, finished_at=datetime.now(UTC))
    echo(f"earlier run {run.identity} ended: {end.status or 'failed'}")
