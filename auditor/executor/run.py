"""Create a Backup in the cluster and follow it to a terminal phase; never create a second one.

A Backup's name is deterministic (schedule + UTC second), so a retry of the same run after a crash or a
409 adopts the object that exists instead of creating another.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from auditor.collect.kinds import BY_GROUP_KIND, ResourceKind, group_of
from auditor.collect.live import LiveSource, status_message
from auditor.errors import ApiStatusError, AuditorError
from auditor.executor.follow import FollowError, FollowTimeoutError, follow, read
from auditor.executor.snapshots import CREATED_BY, PVC_LABEL
from auditor.executor.velero import TERMINAL
from auditor.model.time import parse_time

BACKUPS = BY_GROUP_KIND[("velero.io", "Backup")]
SNAPSHOTS = BY_GROUP_KIND[("snapshot.storage.k8s.io", "VolumeSnapshot")]


class ExecutorError(AuditorError):
    """The backup could not be created or did not finish: the message says why."""


class ExecutorTimeoutError(ExecutorError):
    """The object did not reach an end state in time; it may still get there (Velero keeps working)."""

    def __init__(self, message: str, last: dict[str, Any]) -> None:
        super().__init__(message)
        self.last = last


def _kind(obj: dict[str, Any]) -> ResourceKind:
    kind = BY_GROUP_KIND.get((group_of(str(obj.get("apiVersion", ""))), str(obj.get("kind", ""))))
    if kind is None:
        raise ExecutorError(f"the executor does not create {obj.get('kind')} objects")
    return kind


def create(api: Any, obj: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """POST ``obj``; returns (the stored object, created). An existing object of that name is adopted."""
    meta = obj["metadata"]
    kind = _kind(obj)
    try:
        status, data = LiveSource(api, "executor").send("POST", kind.list_path(meta["namespace"]), body=obj)
    except ApiStatusError as exc:  # retries used up: throttled, server errors or no connection throughout
        raise ExecutorError(f"cannot create {kind.kind} {meta['namespace']}/{meta['name']}: {exc.message}") from None
    if status in (200, 201):
        return orjson.loads(data), True
    if status == 409:  # ours from an earlier attempt (or a retry whose first answer was lost): adopt it
        return get(api, kind, meta["namespace"], meta["name"]), False
    raise ExecutorError(f"cannot create {kind.kind} {meta['namespace']}/{meta['name']}: "
                        f"{status_message(data, status)}")


def get(api: Any, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any]:
    try:
        return read(api, kind, namespace, name)
    except FollowError as exc:
        raise ExecutorError(str(exc)) from None


def wait(api: Any, namespace: str, name: str, timeout: float, poll: float = 2.0,
         on_phase: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Follow the Backup until Completed, PartiallyFailed, Failed or FailedValidation (or the timeout:
    WaitingForPluginOperations and Finalizing may legitimately take hours, so the caller chooses).
    Watches the Backup; polls every ``poll`` seconds where watching is refused."""
    seen: list[str] = []

    def phase_of(obj: dict[str, Any]) -> str:
        return str((obj.get("status") or {}).get("phase") or "New")

    def changed(obj: dict[str, Any]) -> None:
        phase = phase_of(obj)
        if on_phase and (not seen or seen[-1] != phase):
            on_phase(phase)
        seen.append(phase)

    try:
        return follow(api, BACKUPS, namespace, name, lambda obj: phase_of(obj) in TERMINAL, timeout,
                      on_change=changed, poll=poll)
    except FollowTimeoutError as exc:
        raise ExecutorTimeoutError(
            f"Backup {namespace}/{name} is still {phase_of(exc.last)} after {timeout:.0f} s "
            "(it keeps running; check it with `velero backup describe`)", exc.last) from None
    except FollowError as exc:
        raise ExecutorError(str(exc)) from None


def wait_snapshot(api: Any, namespace: str, name: str, timeout: float, poll: float = 1.0) -> dict[str, Any]:
    """Follow a VolumeSnapshot until ``readyToUse`` (or its ``status.error``, or the timeout)."""

    def ended(obj: dict[str, Any]) -> bool:
        status = obj.get("status") or {}
        return status.get("readyToUse") is True or bool((status.get("error") or {}).get("message"))

    try:
        obj = follow(api, SNAPSHOTS, namespace, name, ended, timeout, poll=poll)
    except FollowTimeoutError as exc:
        raise ExecutorTimeoutError(f"VolumeSnapshot {namespace}/{name} is not ready after {timeout:.0f} s",
                                   exc.last) from None
    except FollowError as exc:
        raise ExecutorError(str(exc)) from None
    error = (obj.get("status") or {}).get("error") or {}
    if error.get("message"):
        raise ExecutorError(f"VolumeSnapshot {namespace}/{name} failed: {error['message']}")
    return obj


def prune_snapshots(api: Any, namespace: str, pvc: str, keep_seconds: float, now: float | None = None) -> list[str]:
    """Delete the executor's own VolumeSnapshots of ``pvc`` older than ``keep_seconds``; returns their names.

    Only snapshots labelled ``backup-auditor.io/created-by=backup-auditor`` *and* ``backup-auditor.io/pvc=<pvc>``
    are even listed: a snapshot anybody else made is never a candidate."""
    selector = f"{CREATED_BY}=backup-auditor,{PVC_LABEL}={pvc[:63]}"
    try:
        page = LiveSource(api, "executor").get_json(SNAPSHOTS.list_path(namespace), [("labelSelector", selector)])
    except ApiStatusError as exc:
        raise ExecutorError(f"cannot list VolumeSnapshots in {namespace}: {exc.message}") from None
    cutoff = (now if now is not None else time.time()) - keep_seconds
    deleted = []
    for item in page.get("items") or []:
        meta = item.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(CREATED_BY) != "backup-auditor" or labels.get(PVC_LABEL) != pvc[:63]:
            continue  # defence in depth: the server filtered, we check again
        created = meta.get("creationTimestamp")
        if not isinstance(created, str) or parse_time(created).timestamp() >= cutoff:
            continue
        try:
            status, data = LiveSource(api, "executor").send(
                "DELETE", f"{SNAPSHOTS.list_path(namespace)}/{meta['name']}")
        except ApiStatusError as exc:
            raise ExecutorError(f"cannot delete VolumeSnapshot {namespace}/{meta['name']}: {exc.message}") from None
        if status not in (200, 202, 404):
            raise ExecutorError(f"cannot delete VolumeSnapshot {namespace}/{meta['name']}: "
                                f"{status_message(data, status)}")
        deleted.append(str(meta["name"]))
    return deleted
