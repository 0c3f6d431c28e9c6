"""Backups described in the config (``executor.templates[]``), for what no Schedule describes (an ad-hoc
backup before a change, a namespace no schedule includes yet).

The template's ``spec`` is a Velero ``BackupSpec``. It is checked when the config is loaded, field by field
against the CRD's top-level fields and their JSON types, so a typo (``includeNamespaces``) is a clear error
at start-up instead of a Backup that silently backs up everything. The Backup itself is built by
:mod:`auditor.executor.templates`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from auditor.config.base import Strict

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


class BackupTemplate(Strict):
    """``executor.templates[]``: a Backup described in the config."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,46}[a-z0-9])?$")  # leaves room for -YYYYMMDDhhmmss
    namespace: str | None = None  # Velero's namespace (default: the config's velero_namespace, else velero)
    labels: dict[str, str] = Field(default_factory=dict)
    spec: dict[str, Any]

    @field_validator("spec")
    @classmethod
    def _spec(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_backup_spec(value)
        return value
