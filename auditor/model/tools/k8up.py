"""k8up's records, shared by its decoders (``collect/tools/k8up.py``) and analysis (``analyse/tools/k8up.py``),
and the Secrets they name (repository password, backend credentials)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import msgspec

from auditor.model.records import LabelSelector, Meta
from auditor.model.tools.base import Records, RecordSet, SecretRef, ToolModel


class K8upSchedule(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    backup_cron: str | None
    effective_backup_cron: str | None
    repo_password_secret: str | None
    backend_secrets: tuple[str, ...]


class K8upBackup(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    schedule: str | None
    succeeded: bool | None  # None while running / unknown
    finished: datetime | None
    label_selectors: tuple[LabelSelector, ...]
    repo_password_secret: str | None


class K8upSnapshot(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    date: datetime | None
    paths: tuple[str, ...]


SCHEDULES = RecordSet("k8up_schedules", K8upSchedule)
BACKUPS = RecordSet("k8up_backups", K8upBackup)
SNAPSHOTS = RecordSet("k8up_snapshots", K8upSnapshot)


def secret_refs(records: Records) -> Iterator[SecretRef]:
    """Namespaced kinds: a record always has a namespace (a dump without one is refused)."""
    for s in SCHEDULES.of(records):
        for name in filter(None, (s.repo_password_secret, *s.backend_secrets)):
            yield s.meta.namespace or "", name, f"k8up Schedule {s.meta.key}"
    for b in BACKUPS.of(records):
        if b.repo_password_secret:
            yield b.meta.namespace or "", b.repo_password_secret, f"k8up Backup {b.meta.key}"


TOOL = ToolModel("k8up", (SCHEDULES, BACKUPS, SNAPSHOTS), annotation_prefixes=("k8up.io/",), secret_refs=secret_refs)
