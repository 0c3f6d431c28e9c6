"""Finding subjects as exceptions see them: kind, namespace, name and labels; and annotation exceptions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from auditor.analyse.exceptions import Subject, from_annotations
from auditor.config.waivers import ExceptionRule
from auditor.model.inventory import Inventory

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


class Subjects(Mapping[SubjectKey, Subject]):
    """Every possible subject of a cluster, built on first use: exceptions are often not configured, and
    at 100,000 records the index costs tens of megabytes and a third of a second."""

    def __init__(self, inv: Inventory) -> None:
        self._inv = inv
        self._index: dict[SubjectKey, Subject] | None = None

    @property
    def index(self) -> dict[SubjectKey, Subject]:
        if self._index is None:
            inv = self._inv
            out = {(inv.cluster, kind, rec.meta.namespace, rec.meta.name):
                   Subject(inv.cluster, kind, rec.meta.namespace, rec.meta.name, rec.meta.labels)
                   for kind, rec in _records(inv)}
            out[(inv.cluster, "Cluster", None, inv.cluster)] = Subject(inv.cluster, "Cluster", None, inv.cluster, {})
            self._index = out
        return self._index

    def __getitem__(self, key: SubjectKey) -> Subject:
        return self.index[key]

    def __iter__(self) -> Iterator[SubjectKey]:
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


def subjects(inv: Inventory) -> Subjects:
    return Subjects(inv)


def annotation_exceptions(inv: Inventory) -> list[ExceptionRule]:
    found = []
    for kind, rec in _records(inv):
        if "backup-auditor.io/exempt" in rec.meta.annotations:
            e = from_annotations(inv.cluster, kind, rec.meta.namespace, rec.meta.name, rec.meta.annotations)
            if e is not None:
                found.append(e)
    return found
