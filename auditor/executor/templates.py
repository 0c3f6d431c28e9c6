"""The Backup of a config template (``executor.templates[]``, :class:`auditor.config.templates.BackupTemplate`):
what ``backup run --template`` and template jobs create."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from auditor.config.templates import BackupTemplate
from auditor.executor.velero import backup_name

CREATED_BY = "backup-auditor.io/created-by"
TEMPLATE_LABEL = "backup-auditor.io/template"


def backup_from_template(template: BackupTemplate, namespace: str, at: datetime) -> dict[str, Any]:
    """The Backup for ``template`` at time ``at``: named ``<template>-<YYYYMMDDhhmmss>`` (UTC), like Velero's
    scheduled backups, so a retry of the same run finds the same object."""
    labels = {**template.labels, CREATED_BY: "backup-auditor", TEMPLATE_LABEL: template.name}
    return {"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": backup_name(template.name, at), "namespace": template.namespace or namespace,
                         "labels": labels},
            "spec": copy.deepcopy(template.spec)}
