"""Backups from a template in the config, for what no Schedule describes (an ad-hoc backup before a change,
a namespace no schedule includes yet).

The template's ``spec`` is a Velero ``BackupSpec``. It is checked when the config is loaded, field by field
against the CRD's top-level fields and their JSON types, so a typo (``includeNamespaces``) is a clear error
at start-up instead of a Backup that silently backs up everything.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from auditor.executor.velero import backup_name

CREATED_BY = "backup-auditor.io/created-by"
TEMPLATE_LABEL = "backup-auditor.io/template"

#: ``velero.io/v1`` Backup ``spec`` fields (Velero 1.17 CRD) and their JSON types; tests compare with the CRD.
BACKUP_SPEC_FIELDS: dict[str, str] = {
    "csiSnapshotTimeout": "string", "datamover": "string", "defaultVolumesToFsBackup": "boolean",
    "defaultVolumesToRestic": "boolean", "excludedClusterScopedResources": "array",
    "excludedNamespaceScopedResources": "array", "excludedNamespaces": "array", "excludedResources": "array",
    "hooks": "object", "includeClusterResources": "boolean", "includedClusterScopedResources": "array",
    "includedNamespaceScopedResources": "array", "includedNamespaces": "array", "includedResources": "array",
    "itemOperationTimeout": "string", "labelSelector": "object", "metadata": "object", "orLabelSelectors": "array",
    "orderedResources": "object", "resourcePolicy": "object", "snapshotMoveData": "boolean",
    "snapshotVolumes": "boolean", "storageLocation": "string", "ttl": "string", "uploaderConfig": "object",
    "volumeGroupSnapshotLabelKey": "string", "volumeSnapshotLocations": "array",
}
_PY_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "boolean": bool, "array": list, "object": dict}


def check_backup_spec(spec: dict[str, Any]) -> None:
    """Raise ValueError naming the first unknown field or wrongly typed value."""
    for key, value in spec.items():
        expected = BACKUP_SPEC_FIELDS.get(key)
        if expected is None:
            near = [k for k in BACKUP_SPEC_FIELDS if k.lower().rstrip("s") == key.lower().rstrip("s")]
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ValueError(f"spec.{key}: not a field of a Velero BackupSpec{hint}")
        if value is not None and not isinstance(value, _PY_TYPES[expected]):
            raise ValueError(f"spec.{key}: expected {expected}, got {type(value).__name__}")


class BackupTemplate(BaseModel):
    """``executor.templates[]``: a Backup described in the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,46}[a-z0-9])?$")  # leaves room for -YYYYMMDDhhmmss
    namespace: str | None = None  # Velero's namespace (default: the config's velero_namespace, else velero)
    labels: dict[str, str] = Field(default_factory=dict)
    spec: dict[str, Any]

    @field_validator("spec")
    @classmethod
    def _spec(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_backup_spec(value)
        return value


def backup_from_template(template: BackupTemplate, namespace: str, at: datetime) -> dict[str, Any]:
    """The Backup for ``template`` at time ``at``: named ``<template>-<YYYYMMDDhhmmss>`` (UTC), like Velero's
    scheduled backups, so a retry of the same run finds the same object."""
    labels = {**template.labels, CREATED_BY: "backup-auditor", TEMPLATE_LABEL: template.name}
    return {"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": backup_name(template.name, at), "namespace": template.namespace or namespace,
                         "labels": labels},
            "spec": copy.deepcopy(template.spec)}
