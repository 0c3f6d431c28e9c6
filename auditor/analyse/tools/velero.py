"""Velero, the tool the audit is built around: its planner, schedules and evidence live in ``analyse/``
(``velero_plan``, ``schedules``, ``evidence``); these are the facts the generic code asks every tool."""

from __future__ import annotations

from auditor.analyse.tools.base import BackupTool

TOOL = BackupTool(
    name="velero",
    volume_resources={
        "schedules.velero.io": "which schedules capture the volume",
        "backups.velero.io": "the recovery points and failed attempts",
        "podvolumebackups.velero.io": "file-system backup results per volume",
        "datauploads.velero.io": "data-mover results per volume",
        "volumesnapshotlocations.velero.io": "whether native snapshots have a location",
    },
    namespace_resources=("schedules.velero.io",),
    images=("velero/velero",), default_credentials=True, password_users=("Velero repository password",),
    own_copies=True,
)
