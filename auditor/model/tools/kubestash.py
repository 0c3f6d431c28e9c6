"""KubeStash's records, shared by its decoders (``collect/tools/kubestash.py``) and analysis
(``analyse/tools/kubestash.py``), and the Secrets they name (encryption, backend credentials)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import msgspec

from auditor.model.records import Meta
from auditor.model.tools.base import Records, RecordSet, SecretRef, ToolModel


class KubeStashBackupConfiguration(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    target_kind: str | None
    target_name: str | None
    paused: bool
    schedules: tuple[str, ...]
    encryption_secrets: tuple[tuple[str, str], ...]  # (namespace, name): KubeStash refs may name a namespace


class KubeStashBackupSession(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    invoker_name: str | None
    phase: str | None
    created: datetime | None


class KubeStashRepository(msgspec.Struct, frozen=True, gc=False):
    meta: Meta
    app_kind: str | None
    app_name: str | None
    app_namespace: str | None
    phase: str | None
    last_backup: datetime | None
    encryption_secret: str | None
    encryption_secret_namespace: str | None = None  # when it is not the Repository's own


class KubeStashBackupStorage(msgspec.Struct, frozen=True, gc=False):
    """Where KubeStash writes (a bucket); its backend credentials are the Secret ``secret_name``."""

    meta: Meta
    provider: str | None
    secret_name: str | None


BACKUP_CONFIGURATIONS = RecordSet("kubestash_backup_configurations", KubeStashBackupConfiguration)
BACKUP_SESSIONS = RecordSet("kubestash_backup_sessions", KubeStashBackupSession)
REPOSITORIES = RecordSet("kubestash_repositories", KubeStashRepository)
BACKUP_STORAGES = RecordSet("kubestash_backup_storages", KubeStashBackupStorage)


def secret_refs(records: Records) -> Iterator[SecretRef]:
    """Namespaced kinds: a record always has a namespace (a dump without one is refused)."""
    for c in BACKUP_CONFIGURATIONS.of(records):
        for ns, name in c.encryption_secrets:
            yield ns, name, f"KubeStash BackupConfiguration {c.meta.key}"
    for storage in BACKUP_STORAGES.of(records):
        if storage.secret_name:
            yield storage.meta.namespace or "", storage.secret_name, f"KubeStash BackupStorage {storage.meta.key}"
    for repo in REPOSITORIES.of(records):
        if repo.encryption_secret:
            ns = repo.encryption_secret_namespace or repo.meta.namespace or ""
            yield ns, repo.encryption_secret, f"KubeStash Repository {repo.meta.key}"


TOOL = ToolModel("kubestash", (BACKUP_CONFIGURATIONS, BACKUP_SESSIONS, REPOSITORIES, BACKUP_STORAGES),
                 secret_refs=secret_refs)
