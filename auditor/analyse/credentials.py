"""Backup credentials: keyed fingerprints, classifications and ages. Never a secret value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CredentialInfo:
    namespace: str
    name: str  # the Secret
    key: str  # the data key
    tool: str  # velero | k8up | kubestash
    kind: str  # aws-static | aws-temporary | gcp-service-account | azure-client-secret | repository-password | unknown
    fingerprint: str | None  # HMAC-SHA256 with the installation key; None when values are not read
    created: datetime | None
    rotated: datetime | None  # newest of creation and managedFields update times
    age_seconds: float | None  # since ``rotated``
    default_password: bool  # Velero's static repository password
    used_by: tuple[str, ...]  # e.g. "BackupStorageLocation velero/default"
