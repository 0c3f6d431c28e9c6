"""Create a Velero Backup from a Schedule exactly as ``velero backup create --from-schedule`` does.

From Velero's source (``pkg/cmd/cli/backup/create.go``, ``pkg/builder/backup_builder.go FromSchedule``):
the name is ``<schedule>-<YYYYMMDDhhmmss>`` in UTC; the spec is the schedule's template; the labels are the
template's ``metadata.labels`` if it has any, else the Schedule's own labels, plus
``velero.io/schedule-name``; the annotations are the Schedule's; with ``useOwnerReferencesInBackup`` the
Backup is owned by the Schedule. The status is left empty: Velero's controllers take it from there.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from auditor.errors import InputError

SCHEDULE_LABEL = "velero.io/schedule-name"
#: Phases after which a Backup changes no more (``Deleting`` is transient).
TERMINAL = frozenset({"Completed", "PartiallyFailed", "Failed", "FailedValidation"})


def backup_name(schedule: str, at: datetime) -> str:
    """Velero's ``TimestampedName``: ``<schedule>-<YYYYMMDDhhmmss>`` in UTC."""
    return f"{schedule}-{at.astimezone(UTC):%Y%m%d%H%M%S}"


def backup_from_schedule(schedule: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The Backup object ``velero backup create --from-schedule`` would create at time ``at``."""
    meta = schedule.get("metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace")
    spec = (schedule.get("spec") or {})
    if not isinstance(name, str) or not isinstance(namespace, str) or not isinstance(spec.get("template"), dict):
        raise InputError("not a Velero Schedule with a template", obj=f"Schedule {namespace}/{name}",
                         field="spec.template")
    template = copy.deepcopy(spec["template"])
    template_meta = template.pop("metadata", None) or {}
    labels = dict(template_meta.get("labels") or meta.get("labels") or {})
    labels[SCHEDULE_LABEL] = name
    backup_meta: dict[str, Any] = {"name": backup_name(name, at), "namespace": namespace, "labels": labels}
    if meta.get("annotations"):
        backup_meta["annotations"] = dict(meta["annotations"])
    if spec.get("useOwnerReferencesInBackup") and meta.get("uid"):
        backup_meta["ownerReferences"] = [{"apiVersion": "velero.io/v1", "kind": "Schedule", "name": name,
                                           "uid": meta["uid"], "controller": True}]
    return {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": backup_meta, "spec": template}
