"""Exactly once: a run is recorded under a deterministic identity before anything is created.

After a crash the next invocation for the same target finds the unfinished run and resumes it with the
recorded object name: creating that object again answers 409 and adopts the existing one, so a second
Backup or VolumeSnapshot is never made. Without a store the executor still never creates a second object
of the same name, but cannot resume a run started in an earlier second.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from auditor.executor import run as executor

Echo = Callable[[str], None]


def _finish(obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    status = obj.get("status") or {}
    if obj.get("kind") == "Backup":
        phase = str(status.get("phase") or "New")
        if phase == "Completed":
            return "succeeded", {"phase": phase}
        return "failed", {"phase": phase, "reason": failure_reason(obj)}
    return ("succeeded" if status.get("readyToUse") else "failed"), {"readyToUse": bool(status.get("readyToUse"))}


def failure_reason(obj: dict[str, Any]) -> str:
    """Why Velero ended an object unsuccessfully, from its status (bounded: it goes to the store and a line)."""
    status = obj.get("status") or {}
    parts = [str(e) for e in status.get("validationErrors") or []]
    if status.get("failureReason"):
        parts.append(str(status["failureReason"]))
    if not parts and (status.get("errors") or status.get("warnings")):
        parts.append(f"{status.get('errors') or 0} errors, {status.get('warnings') or 0} warnings "
                     "(see velero describe --details)")
    return "; ".join(parts)[:500] or "no reason given"


def _report_end(obj: dict[str, Any], echo: Echo) -> None:
    """One line naming the phase and the reason when a Backup did not complete."""
    phase = str((obj.get("status") or {}).get("phase") or "New")
    if obj.get("kind") == "Backup" and phase != "Completed":
        meta = obj.get("metadata") or {}
        echo(f"Backup {meta.get('namespace')}/{meta.get('name')} ended {phase}: {failure_reason(obj)}")


def execute(api: Any, obj: dict[str, Any], *, cluster: str, target: str, store_url: str | None, wait: bool,
            timeout: float, echo: Echo, on_phase: Echo | None = None, resume: bool = True) -> dict[str, Any]:
    """Create ``obj`` once, optionally follow it to its end.

    With a store the run is recorded first, insert-or-adopt under its identity: any number of processes
    running the same object converge on one record and one object, and each says whether it recorded
    the run or adopted it. ``resume`` (manual runs): an unfinished run for ``target`` is resumed instead,
    whatever its name. A scheduled job passes ``resume=False``: its identity is its fire time, and an
    earlier fire time's run is never adopted by a later one."""
    from auditor.store import Store  # deferred: SQLAlchemy (1.1 s) only with a store

    kind, namespace = str(obj["kind"]), str(obj["metadata"]["namespace"])
    if store_url is None:
        return _create_and_follow(api, obj, wait, timeout, echo, on_phase)
    with Store(store_url) as db:
        resumed = db.unfinished_run(cluster=cluster, kind=kind, namespace=namespace, target=target) \
            if resume else None
        if resumed is not None:
            obj = copy.deepcopy(obj)
            obj["metadata"]["name"] = resumed.object_name
            identity = resumed.identity
            echo(f"resuming unfinished run {identity}")
        else:
            run, new = db.begin_run(cluster=cluster, kind=kind, namespace=namespace, target=target,
                                    object_name=str(obj["metadata"]["name"]), started_at=datetime.now(UTC))
            identity = run.identity
            echo(f"recorded run {identity}" if new else
                 f"adopted run {identity} (already recorded, {run.status}): converging on its {kind}")
        try:
            stored, created = executor.create(api, obj)
            echo(f"{'created' if created else 'adopted existing'} {kind} {namespace}/{stored['metadata']['name']}")
            db.update_run(identity, "created", {"uid": (stored.get("metadata") or {}).get("uid")})
            if not wait:
                db.update_run(identity, "submitted", finished_at=datetime.now(UTC))
                return stored
            final = _follow(api, stored, timeout, on_phase)
        except executor.ExecutorTimeoutError as exc:
            # Velero keeps working on it: not failed, not finished; the next run for this target resumes it.
            phase = str((exc.last.get("status") or {}).get("phase") or "New")
            db.update_run(identity, "timed-out", {"phase": phase, "error": str(exc)})
            echo(f"run {identity} recorded as timed-out: the next run for {target} follows this {kind} "
                 "instead of creating another")
            raise
        except executor.ExecutorError as exc:
            db.update_run(identity, "failed", {"error": str(exc)}, finished_at=datetime.now(UTC))
            raise
        status, detail = _finish(final)
        db.update_run(identity, status, detail, finished_at=datetime.now(UTC))
        _report_end(final, echo)
        return final


def _follow(api: Any, stored: dict[str, Any], timeout: float, on_phase: Echo | None) -> dict[str, Any]:
    meta = stored["metadata"]
    if stored.get("kind") == "Backup":
        return executor.wait(api, meta["namespace"], meta["name"], timeout, on_phase=on_phase)
    return executor.wait_snapshot(api, meta["namespace"], meta["name"], timeout)


def _create_and_follow(api: Any, obj: dict[str, Any], wait: bool, timeout: float, echo: Echo,
                       on_phase: Echo | None) -> dict[str, Any]:
    stored, created = executor.create(api, obj)
    meta = stored.get("metadata") or {}
    echo(f"{'created' if created else 'adopted existing'} {obj['kind']} {meta.get('namespace')}/{meta.get('name')}")
    if not wait:
        return stored
    final = _follow(api, stored, timeout, on_phase)
    _report_end(final, echo)
    return final
