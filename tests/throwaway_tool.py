"""A throwaway backup tool, "tapes", declared the way a real one is (``model/``, ``collect/`` and ``analyse/``
tool modules), registered in each layer's registry before the rest of the auditor is imported, then the CLI:

    python -m tests.throwaway_tool scan --snapshot DIR ...

It proves that the registries are the only lists of tools: nothing else is told about "tapes".
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

GROUP = "tapes.example.com"


def register() -> None:
    """Add "tapes" to the model, collect and analyse registries, in that order (each layer's import reads
    the registry below it)."""
    import auditor.model.tools as model_tools
    from auditor.model.records import Meta
    from auditor.model.tools.base import Records, RecordSet, SecretRef, ToolModel

    @dataclass(frozen=True, slots=True)
    class TapeSchedule:
        meta: Meta
        claims: tuple[str, ...]
        key_secret: str | None

    @dataclass(frozen=True, slots=True)
    class TapeBackup:
        meta: Meta
        claim: str | None
        completed: datetime | None

    schedules = RecordSet("tapes_schedules", TapeSchedule)
    backups = RecordSet("tapes_backups", TapeBackup)

    def secret_refs(records: Records) -> Iterator[SecretRef]:
        for s in schedules.of(records):
            if s.key_secret:
                yield s.meta.namespace or "", s.key_secret, f"TapeSchedule {s.meta.key}"

    model_tools.TOOLS = (*model_tools.TOOLS, ToolModel("tapes", (schedules, backups), secret_refs=secret_refs))

    import auditor.collect.tools as collect_tools
    from auditor.collect.fields import FieldReader
    from auditor.collect.resource import ResourceKind
    from auditor.collect.slim import meta
    from auditor.collect.tools.base import CollectTool

    def schedule(f: FieldReader) -> TapeSchedule:
        return TapeSchedule(meta(f), f.strs("spec.claims"), f.str("spec.keySecret"))

    def backup(f: FieldReader) -> TapeBackup:
        return TapeBackup(meta(f), f.str("spec.claim"), f.time("status.completedAt"))

    collect_tools.TOOLS = (*collect_tools.TOOLS, CollectTool("tapes", (
        ResourceKind(GROUP, "v1", "tapeschedules", "TapeSchedule", True, schedules.field, schedule, optional=True),
        ResourceKind(GROUP, "v1", "tapebackups", "TapeBackup", True, backups.field, backup, optional=True),
    )))

    import auditor.analyse.tools as analyse_tools
    from auditor.analyse.evidence import RecoveryPoint
    from auditor.analyse.tools.base import BackupTool, Coverage, Points
    from auditor.model.inventory import Inventory

    def coverage(inv: Inventory) -> Coverage:
        out: Coverage = {}
        for s in inv.records(schedules):
            for claim in s.claims:
                out.setdefault((s.meta.namespace or "", claim), []).append(f"tapes:{s.meta.key}")
        return out

    def points(inv: Inventory) -> Points:
        out: Points = {}
        for b in inv.records(backups):
            if b.claim and b.completed:
                out.setdefault((b.meta.namespace or "", b.claim), []).append(
                    RecoveryPoint(b.completed, "fs-backup", "tapes", f"TapeBackup {b.meta.key}", "tapebackup"))
        return out

    def namespaces(inv: Inventory) -> set[str | None]:
        return {s.meta.namespace for s in inv.records(schedules)}

    analyse_tools.TOOLS = (*analyse_tools.TOOLS, BackupTool(
        name="tapes", coverage=coverage, points=points, namespaces=namespaces,
        volume_resources={f"tapebackups.{GROUP}": "tape recovery points"},
        namespace_resources=(f"tapeschedules.{GROUP}",), credential_marker="TapeSchedule", own_copies=True))


def objects(as_of: datetime) -> list[dict[str, Any]]:
    """A namespace whose one PVC only tapes backs up: a schedule naming it, a backup an hour old, its key."""
    completed = (as_of - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = "2026-01-01T00:00:00Z"
    api = f"{GROUP}/v1"
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "creationTimestamp": created}},
        {"apiVersion": "v1", "kind": "PersistentVolume",
         "metadata": {"name": "pv-data", "creationTimestamp": created},
         "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/d"},
                  "claimRef": {"namespace": "shop", "name": "data"}},
         "status": {"phase": "Bound"}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "data", "namespace": "shop", "creationTimestamp": created},
         "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv-data",
                  "resources": {"requests": {"storage": "1Gi"}}},
         "status": {"phase": "Bound"}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": "tape-key", "namespace": "shop", "creationTimestamp": created},
         "data": {"password": "c2VjcmV0LXRhcGUta2V5"}},
        {"apiVersion": api, "kind": "TapeSchedule",
         "metadata": {"name": "nightly", "namespace": "shop", "creationTimestamp": created},
         "spec": {"claims": ["data"], "keySecret": "tape-key"}},
        {"apiVersion": api, "kind": "TapeBackup",
         "metadata": {"name": "nightly-1", "namespace": "shop", "creationTimestamp": completed},
         "spec": {"claim": "data"}, "status": {"completedAt": completed}},
    ]


def crds() -> list[dict[str, Any]]:
    return [{
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}}}]},
    } for plural, kind in (("tapeschedules", "TapeSchedule"), ("tapebackups", "TapeBackup"))]


if __name__ == "__main__":
    register()
    from auditor.cli import main

    main(sys.argv[1:])
