"""Finding subjects as exceptions see them: kind, namespace, name and labels; and annotation exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.analyse.exceptions import ExceptionRule, Subject, from_annotations
from auditor.collect.inventory import Inventory

SubjectKey = tuple[str, str, str | None, str]

#: Inventory fields whose records can be a finding's subject, with their kind.
SUBJECT_FIELDS = {"pvcs": "PersistentVolumeClaim", "namespaces": "Namespace", "schedules": "Schedule",
                  "backups": "Backup", "bsls": "BackupStorageLocation", "secrets": "Secret", "pods": "Pod",
                  "config_maps": "ConfigMap"}


def _records(inv: Inventory) -> Iterator[tuple[str, Any]]:
    for field_name, kind in SUBJECT_FIELDS.items():
        for rec in getattr(inv, field_name):
            yield kind, rec
    for w in inv.workloads:
        yield w.kind, w
    for b in inv.role_bindings:
        yield b.kind, b


def subjects(inv: Inventory) -> dict[SubjectKey, Subject]:
    out = {(inv.cluster, kind, rec.meta.namespace, rec.meta.name):
           Subject(inv.cluster, kind, rec.meta.namespace, rec.meta.name, rec.meta.labels)
           for kind, rec in _records(inv)}
    out[(inv.cluster, "Cluster", None, inv.cluster)] = Subject(inv.cluster, "Cluster", None, inv.cluster, {})
    return out


def annotation_exceptions(inv: Inventory) -> list[ExceptionRule]:
    found = []
    for kind, rec in _records(inv):
        if "backup-auditor.io/exempt" in rec.meta.annotations:
            e = from_annotations(inv.cluster, kind, rec.meta.namespace, rec.meta.name, rec.meta.annotations)
            if e is not None:
                found.append(e)
    return found
