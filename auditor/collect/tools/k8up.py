"""k8up's resources and their slim records: Schedules (coverage), Backups (recovery points), Snapshots."""

from __future__ import annotations

from auditor.collect.fields import FieldReader
from auditor.collect.resource import ResourceKind
from auditor.collect.slim import meta, selector
from auditor.collect.tools.base import CollectTool
from auditor.model.tools import k8up as model

GROUP = "k8up.io"


def _backend_secrets(f: FieldReader, path: str) -> tuple[str, ...]:
    names = set()
    backend = f.dict(path)
    for store in backend.values():
        if isinstance(store, dict):
            for ref in store.values():
                if isinstance(ref, dict) and isinstance(ref.get("name"), str) and "key" in ref:
                    names.add(ref["name"])
    return tuple(sorted(names))


def schedule(f: FieldReader) -> model.K8upSchedule:
    effective = None
    for i, item in enumerate(f.list("status.effectiveSchedules")):
        e = f.sub(item, f"status.effectiveSchedules[{i}]")
        if e.str("jobType") == "backup":
            effective = e.str("generatedSchedule")
    return model.K8upSchedule(
        meta=meta(f), backup_cron=f.str("spec.backup.schedule"), effective_backup_cron=effective,
        repo_password_secret=f.str("spec.backend.repoPasswordSecretRef.name"),
        backend_secrets=_backend_secrets(f, "spec.backend"),
    )


def backup(f: FieldReader) -> model.K8upBackup:
    m = meta(f)
    succeeded: bool | None = None
    finished = None
    for i, item in enumerate(f.list("status.conditions")):
        c = f.sub(item, f"status.conditions[{i}]")
        if c.str("type") == "Completed" and c.str("status") == "True":
            succeeded = c.str("reason") == "Succeeded"
            finished = c.time("lastTransitionTime")
        elif c.str("type") == "PreBackupPodReady" and c.str("status") == "False" and c.str("reason") == "Failed":
            succeeded = False
    selectors = [selector(f.sub(item, f"spec.labelSelectors[{i}]"))
                 for i, item in enumerate(f.list("spec.labelSelectors"))]
    schedule_name = m.labels.get("k8up.io/schedule-name") or next(
        (o.name for o in m.owners if o.kind == "Schedule"), None)
    return model.K8upBackup(meta=m, schedule=schedule_name, succeeded=succeeded, finished=finished,
                        label_selectors=tuple(selectors),
                        repo_password_secret=f.str("spec.backend.repoPasswordSecretRef.name"))


def snapshot(f: FieldReader) -> model.K8upSnapshot:
    return model.K8upSnapshot(meta=meta(f), date=f.time("spec.date"), paths=f.strs("spec.paths"))


TOOL = CollectTool("k8up", (
    ResourceKind(GROUP, "v1", "schedules", "Schedule", True, model.SCHEDULES.field, schedule, optional=True),
    ResourceKind(GROUP, "v1", "backups", "Backup", True, model.BACKUPS.field, backup, optional=True),
    ResourceKind(GROUP, "v1", "snapshots", "Snapshot", True, model.SNAPSHOTS.field, snapshot, optional=True),
))
