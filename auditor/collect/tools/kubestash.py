"""KubeStash's resources and their slim records: BackupConfigurations (coverage), BackupSessions (recovery
points), BackupStorages and Repositories (their credentials)."""

from __future__ import annotations

from auditor.collect.fields import FieldReader
from auditor.collect.resource import ResourceKind
from auditor.collect.slim import meta
from auditor.collect.tools.base import CollectTool
from auditor.model.tools import kubestash as model

CORE = "core.kubestash.com"
STORAGE = "storage.kubestash.com"


def backup_configuration(f: FieldReader) -> model.KubeStashBackupConfiguration:
    schedules = []
    secrets = set()
    m = meta(f)
    for i, item in enumerate(f.list("spec.sessions")):
        s = f.sub(item, f"spec.sessions[{i}]")
        cron = s.str("scheduler.schedule")
        if cron:
            schedules.append(cron)
        for j, repo in enumerate(s.list("repositories")):
            ref = s.sub(repo, f"repositories[{j}]")
            name = ref.str("encryptionSecret.name")
            if name:
                secrets.add((ref.str("encryptionSecret.namespace") or m.namespace or "", name))
    return model.KubeStashBackupConfiguration(
        meta=m, target_kind=f.str("spec.target.kind"), target_name=f.str("spec.target.name"),
        paused=bool(f.bool("spec.paused")), schedules=tuple(schedules), encryption_secrets=tuple(sorted(secrets)),
    )


def backup_session(f: FieldReader) -> model.KubeStashBackupSession:
    m = meta(f)
    return model.KubeStashBackupSession(meta=m, invoker_name=f.str("spec.invoker.name"), phase=f.str("status.phase"),
                                    created=m.created)


def repository(f: FieldReader) -> model.KubeStashRepository:
    return model.KubeStashRepository(
        meta=meta(f), app_kind=f.str("spec.appRef.kind"), app_name=f.str("spec.appRef.name"),
        app_namespace=f.str("spec.appRef.namespace"), phase=f.str("status.phase"),
        last_backup=f.time("status.lastBackupTime"), encryption_secret=f.str("spec.encryptionSecret.name"),
        encryption_secret_namespace=f.str("spec.encryptionSecret.namespace"),
    )


def backup_storage(f: FieldReader) -> model.KubeStashBackupStorage:
    """``spec.storage.provider`` (s3, gcs, azure, ...) and that provider's ``secretName``."""
    provider = f.str("spec.storage.provider")
    secret = f.str(f"spec.storage.{provider}.secretName") if provider and provider.isidentifier() else None
    return model.KubeStashBackupStorage(meta=meta(f), provider=provider, secret_name=secret)


TOOL = CollectTool("kubestash", (
    ResourceKind(CORE, "v1alpha1", "backupconfigurations", "BackupConfiguration", True,
                 model.BACKUP_CONFIGURATIONS.field, backup_configuration, optional=True),
    ResourceKind(CORE, "v1alpha1", "backupsessions", "BackupSession", True, model.BACKUP_SESSIONS.field,
                 backup_session, optional=True),
    ResourceKind(STORAGE, "v1alpha1", "backupstorages", "BackupStorage", True, model.BACKUP_STORAGES.field,
                 backup_storage, optional=True),
    ResourceKind(STORAGE, "v1alpha1", "repositories", "Repository", True, model.REPOSITORIES.field, repository,
                 optional=True),
))
