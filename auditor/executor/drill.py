"""Restore drills: restore the latest good backup of a schedule into scratch namespaces, verify, clean up.

A backup nobody has restored is a hope, not a control. A drill restores the newest Completed, unexpired
Backup of a Velero Schedule with ``namespaceMapping`` into ``drill-<hash>-<ns>`` namespaces the auditor
creates (and labels) first, waits for the Restore, checks that every restored PVC is Bound and every pod
Ready (plus an optional user command), deletes only its own scratch namespaces, and annotates the Restore
with the verdict: the Restore stays as the evidence GOV-001 counts.

Planning (:func:`choose_backup`, :func:`plan_drill`) is pure; ``drill_io.run_drill`` does the I/O. The Restore
name is deterministic per start second and recorded in the store before anything is created, so a drill
killed half-way is resumed by the next one (the Restore and namespaces are adopted, never doubled).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditor.executor.run import ExecutorError
from auditor.executor.snapshots import CREATED_BY
from auditor.executor.velero import SCHEDULE_LABEL
from auditor.model.globs import GLOB_CHARS, includes_excludes
from auditor.model.time import parse_time

DRILL_LABEL = "backup-auditor.io/drill"
RESULT_ANNOTATION = "backup-auditor.io/drill-result"
DETAIL_ANNOTATION = "backup-auditor.io/drill-detail"
EXCLUDE_LABEL = "velero.io/exclude-from-backup"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

Echo = Callable[[str], None]


class DrillError(ExecutorError):
    """The drill could not be planned or run (no backup to restore, a scratch namespace is not ours, ...)."""


@dataclass(frozen=True)
class DrillPlan:
    """What a drill creates: the scratch Namespaces first, then the Restore."""

    schedule: str
    backup: str
    restore: dict[str, Any]
    namespaces: tuple[dict[str, Any], ...]
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def restore_name(self) -> str:
        return str(self.restore["metadata"]["name"])

    @property
    def scratch(self) -> list[str]:
        return [str(ns["metadata"]["name"]) for ns in self.namespaces]

    def objects(self) -> list[dict[str, Any]]:
        return [*self.namespaces, self.restore]


@dataclass(frozen=True)
class DrillResult:
    """The verdict; ``check_output`` is the tail of the user command's output, for the caller to show
    (it is never stored or logged by the drill: it could hold anything)."""

    passed: bool
    restore: str
    backup: str
    reason: str
    namespaces: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)
    check_output: str = ""


# --- planning (pure) ------------------------------------------------------------------------------


def restore_name(schedule: str, at: datetime) -> str:
    """``<schedule>-drill-<YYYYMMDDhhmmss>`` (UTC): one name per start second, so a retry adopts."""
    return f"{schedule}-drill-{at.astimezone(UTC):%Y%m%d%H%M%S}"


def scratch_name(restore: str, source: str) -> str:
    """``drill-<hash of the Restore>-<ns>``: a DNS-1123 label of at most 63 characters."""
    digest = hashlib.sha256(restore.encode()).hexdigest()[:6]
    if len(source) > 50:
        source = f"{source[:43].rstrip('-')}-{hashlib.sha256(source.encode()).hexdigest()[:6]}"
    name = f"drill-{digest}-{source}"
    assert len(name) <= 63 and _DNS_LABEL.match(name), name
    return name


def phase_of(obj: dict[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase") or "New")


def choose_backup(backups: Iterable[dict[str, Any]], schedule: str, at: datetime) -> dict[str, Any]:
    """The newest Completed, unexpired Backup of ``schedule`` by completionTimestamp. PartiallyFailed is
    not good enough for a drill: what it lacks is exactly what nobody checked."""
    good = []
    for b in backups:
        meta, status = b.get("metadata") or {}, b.get("status") or {}
        if (meta.get("labels") or {}).get(SCHEDULE_LABEL) != schedule or phase_of(b) != "Completed":
            continue
        completed, expiration = status.get("completionTimestamp"), status.get("expiration")
        if not isinstance(completed, str) or (isinstance(expiration, str) and parse_time(expiration) <= at):
            continue
        good.append((parse_time(completed), str(meta.get("name")), b))
    if not good:
        raise DrillError(f"no Completed backup of schedule {schedule} to restore (PartiallyFailed, Failed and "
                         "expired backups are not restored by a drill)")
    return max(good, key=lambda g: (g[0], g[1]))[2]


def source_namespaces(backup: dict[str, Any], cluster_namespaces: Iterable[dict[str, Any]]) -> list[str]:
    """The namespaces to restore: the Backup's named ones minus its excludes; a wildcard or glob is
    expanded against the cluster's namespaces (never our own scratch ones, nor those Velero excludes)."""
    spec = backup.get("spec") or {}
    includes = [str(n) for n in spec.get("includedNamespaces") or []]
    excludes = [str(n) for n in spec.get("excludedNamespaces") or []]
    velero_ns = str((backup.get("metadata") or {}).get("namespace") or "")
    if includes and not any(GLOB_CHARS.intersection(n) for n in includes):
        return [n for n in dict.fromkeys(includes) if includes_excludes(includes, excludes, n)]
    out = []
    for ns in cluster_namespaces:
        meta = ns.get("metadata") or {}
        labels = meta.get("labels") or {}
        name = str(meta.get("name"))
        if labels.get(CREATED_BY) == "backup-auditor" or labels.get(EXCLUDE_LABEL) == "true" or name == velero_ns:
            continue
        if includes_excludes(includes, excludes, name):
            out.append(name)
    return sorted(out)


def plan_drill(namespace: str, schedule: str, backups: Iterable[dict[str, Any]],
               cluster_namespaces: Iterable[dict[str, Any]], at: datetime, *, name: str | None = None,
               backup_name: str | None = None) -> DrillPlan:
    """The Namespaces and Restore of a drill started at ``at`` (or resuming ``name`` of ``backup_name``).
    Refuses when a scratch namespace exists and is not this drill's: a drill never restores over anything."""
    backups = list(backups)
    known = list(cluster_namespaces)
    if backup_name is not None:
        backup = next((b for b in backups if (b.get("metadata") or {}).get("name") == backup_name), None)
        if backup is None:
            raise DrillError(f"Backup {namespace}/{backup_name} of the drill being resumed no longer exists")
    else:
        backup = choose_backup(backups, schedule, at)
    restore = name or restore_name(schedule, at)
    sources = source_namespaces(backup, known)
    if not sources:
        raise DrillError(f"Backup {namespace}/{backup['metadata']['name']} includes no namespace to restore")
    labels = {CREATED_BY: "backup-auditor", DRILL_LABEL: schedule[:63]}
    mapping = {src: scratch_name(restore, src) for src in sources}
    existing = {str((n.get("metadata") or {}).get("name")): n for n in known}
    for target in mapping.values():
        if target in existing and not is_ours(existing[target], schedule):
            raise DrillError(f"namespace {target} exists and is not the auditor's drill namespace: a drill never "
                             "restores over something")
    namespaces = tuple({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target, "labels": dict(labels)}}
                       for target in mapping.values())
    obj = {
        "apiVersion": "velero.io/v1", "kind": "Restore",
        "metadata": {"name": restore, "namespace": namespace, "labels": dict(labels)},
        "spec": {"backupName": str(backup["metadata"]["name"]), "includedNamespaces": sources,
                 "namespaceMapping": mapping, "restorePVs": True, "existingResourcePolicy": "none"},
    }
    return DrillPlan(schedule, str(backup["metadata"]["name"]), obj, namespaces, mapping)


def is_ours(namespace: dict[str, Any], schedule: str) -> bool:
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(CREATED_BY) == "backup-auditor" and labels.get(DRILL_LABEL) == schedule[:63])


def verdict(pvcs: list[dict[str, Any]], pods: list[dict[str, Any]]) -> tuple[bool, str, dict[str, int]]:
    """Restored PVCs all Bound and pods all Ready? (ok, the first problem, counts)."""
    counts = {"pvcs": len(pvcs), "pvcs_bound": 0, "pods": len(pods), "pods_ready": 0}
    problems = []
    for pvc in pvcs:
        if phase_of(pvc) == "Bound":
            counts["pvcs_bound"] += 1
        else:
            problems.append(f"PVC {_key(pvc)} is {phase_of(pvc) if phase_of(pvc) != 'New' else 'Pending'}")
    for pod in pods:
        conditions = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            counts["pods_ready"] += 1
        else:
            problems.append(f"pod {_key(pod)} is not Ready")
    if not pvcs and not pods:
        problems.append("the restore created no PVC and no pod in the scratch namespaces")
    return not problems, "; ".join(problems[:3]), counts


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
