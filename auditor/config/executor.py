"""``executor:`` — the jobs ``auditor serve`` runs on crons or intervals (backups, snapshots, etcd snapshots,
restore drills), the Backup templates they and ``backup run --template`` use, and the Lease only whose
holder runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from auditor.config.base import Strict, cron_expression, duration, namespaced_key, optional_duration
from auditor.config.templates import BackupTemplate
from auditor.errors import ConfigError

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _pod_namespace() -> str:
    """The namespace the pod runs in (the executor's Lease lives there), else ``backup-auditor``."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "backup-auditor"
    except OSError:
        return "backup-auditor"


class LeaseConfig(Strict):
    """The Kubernetes Lease only whose holder runs executor jobs (client-go's leader election timings)."""

    name: str = "backup-auditor-executor"
    namespace: str = Field(default_factory=_pod_namespace)
    duration: float = 15.0  # a standby takes over this long after the leader's last renewal
    renew_deadline: float = 10.0  # the leader steps down when no renewal succeeded for this long
    retry_period: float = 2.0  # how often the leader renews and a standby tries to acquire

    _parse = field_validator("duration", "renew_deadline", "retry_period", mode="before")(
        classmethod(lambda cls, v: duration(v)))

    @model_validator(mode="after")
    def _ordered(self) -> LeaseConfig:
        # client-go's checks: a leader must give up before a standby may take over, and retry within the deadline
        if not self.duration > self.renew_deadline > 1.2 * self.retry_period > 0:
            raise ValueError("lease timings need duration > renew_deadline > 1.2 × retry_period > 0 (got "
                             f"{self.duration:g}s, {self.renew_deadline:g}s, {self.retry_period:g}s)")
        return self


class BackupJob(Strict):
    """A Backup as ``backup run`` creates it: from a Velero Schedule's template, or from a config template."""

    schedule: str | None = None  # NAMESPACE/NAME of a Velero Schedule: the Backup takes its template
    template: str | None = None  # or the name of one of executor.templates

    _key = field_validator("schedule")(classmethod(lambda cls, v: None if v is None else namespaced_key(v)))

    @model_validator(mode="after")
    def _one_source(self) -> BackupJob:
        if (self.schedule is None) == (self.template is None):
            raise ValueError("give exactly one of schedule (NAMESPACE/NAME) or template (a name in executor.templates)")
        return self


class SnapshotJob(Strict):
    """CSI VolumeSnapshots of named PVCs, as ``backup snapshot`` takes them."""

    pvcs: tuple[str, ...] = Field(min_length=1)  # NAMESPACE/PVC each
    prune: float | Literal["policy"] | None = Field(
        None, description="After a ready snapshot, delete the auditor's own snapshots of this PVC older than "
                          "DURATION, or than the retention of the PVC's policy in the config ('policy'); never any "
                          "other snapshot.")

    _keys = field_validator("pvcs")(classmethod(lambda cls, v: tuple(namespaced_key(k) for k in v)))
    _parse = field_validator("prune", mode="before")(
        classmethod(lambda cls, v: v if v is None or v == "policy" else duration(v)))


def _url(value: str | None, schemes: tuple[str, ...], path: bool, expected: str) -> str | None:
    if value is not None:
        parts = urlsplit(value)
        if (parts.scheme not in schemes or not parts.netloc or (not path and parts.path.strip("/"))
                or (path and (parts.query or parts.fragment))):
            raise ValueError(f"must be {expected} (got {value!r})")
    return value


class EtcdJob(Strict):
    """``auditor backup etcd`` on a schedule: each key is the command's option of the same name."""

    endpoints: str = Field(description="etcd client URL(s), comma-separated (https://10.0.0.1:2379).")
    cacert: Path | None = Field(None, description="CA of the etcd server certificate.")
    cert: Path | None = Field(None, description="Client certificate.")
    key: Path | None = Field(None, description="Client key.")
    out: Path = Field(description="Directory for etcd-snapshot-<time>.db and its .json manifest.")
    keep: int | None = Field(None, ge=1, description="Keep only this many of the auditor's snapshots there "
                                                     "(and under the s3 prefix).")
    s3: str | None = Field(None, description="Also upload the verified snapshot and its manifest to this "
                                             "s3://BUCKET/PREFIX (credentials: the AWS_* environment variables "
                                             "or an AWS shared-credentials profile).")
    s3_endpoint: str | None = Field(None, description="S3-compatible endpoint, e.g. https://minio.example:9000 "
                                                      "(default: AWS).")
    s3_region: str | None = Field(None, description="Bucket region (default: asked from the server).")
    s3_ca_file: Path | None = Field(None, description="CA bundle for the endpoint.")
    s3_profile: str | None = Field(None, description="Profile of the AWS shared-credentials file (default: the "
                                                     "AWS_* variables, else 'default').")
    keep_local: bool = Field(True, description="With s3: keep the local copy after a verified upload.")

    _s3_url = field_validator("s3")(classmethod(
        lambda cls, v: _url(v, ("s3",), True, "an s3://bucket/prefix URL")))
    _endpoint = field_validator("s3_endpoint")(classmethod(
        lambda cls, v: _url(v, ("http", "https"), False, "an endpoint URL, scheme://host[:port]")))

    @model_validator(mode="after")
    def _s3_options_need_s3(self) -> EtcdJob:
        if self.s3 is None:
            given = [k for k in ("s3_endpoint", "s3_region", "s3_ca_file", "s3_profile") if getattr(self, k)]
            if not self.keep_local:
                given.append("keep_local: false")
            if given:
                raise ValueError(f"{', '.join(given)} need s3 (an s3://bucket/prefix URL)")
        return self


class RestoreDrillJob(Strict):
    """``auditor restore-drill`` on a schedule."""

    schedule: str = Field(description="The Velero Schedule (NAMESPACE/NAME) whose latest Completed, unexpired "
                                      "Backup is restored.")
    check: tuple[str, ...] = ()  # argv of a user check run after the restore
    keep_namespaces: bool = Field(False, description="Leave the scratch namespaces for inspection.")

    _key = field_validator("schedule")(classmethod(lambda cls, v: namespaced_key(v)))


JOB_ACTIONS = ("backup", "snapshot", "etcd", "restore_drill")


class ExecutorJob(Strict):
    """One scheduled executor job: when (``cron`` or ``interval``) and what (exactly one action)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    cron: str | None = None  # Velero's dialect; @every and interval fire on multiples of the period since 1970
    interval: float | None = None
    backup: BackupJob | None = None
    snapshot: SnapshotJob | None = None
    etcd: EtcdJob | None = None
    restore_drill: RestoreDrillJob | None = None
    wait: bool = True  # follow what was created to its end (Backup phase, snapshot readyToUse)
    timeout: float | None = None  # how long a run may take (default per action)

    _parse = field_validator("interval", "timeout", mode="before")(classmethod(lambda cls, v: optional_duration(v)))
    _cron = field_validator("cron")(classmethod(lambda cls, v: None if v is None else cron_expression(v)))

    @model_validator(mode="after")
    def _one_of_each(self) -> ExecutorJob:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("exactly one of cron or interval is required")
        if self.interval is not None and self.interval < 1:
            raise ValueError(f"interval: must be at least 1s (got {self.interval:g}s)")
        actions = [a for a in JOB_ACTIONS if getattr(self, a) is not None]
        if len(actions) != 1:
            raise ValueError(f"exactly one action of {', '.join(JOB_ACTIONS)} is required"
                             + (f" (got {', '.join(actions)})" if actions else ""))
        return self

    @property
    def action(self) -> str:
        return next(a for a in JOB_ACTIONS if getattr(self, a) is not None)


class ExecutorConfig(Strict):
    """Scheduled executor jobs in ``auditor serve`` (``executor:``), run only by the holder of the Lease."""

    lease: LeaseConfig = Field(default_factory=LeaseConfig)
    templates: tuple[BackupTemplate, ...] = ()  # Backups described here (``backup run --template``, jobs)
    jobs: tuple[ExecutorJob, ...] = ()

    @model_validator(mode="after")
    def _templates_known(self) -> ExecutorConfig:
        names = [t.name for t in self.templates]
        if len(names) != len(set(names)):
            raise ValueError(f"template names must be unique (got {', '.join(sorted(names))})")
        for job in self.jobs:
            if job.backup is not None and job.backup.template is not None and job.backup.template not in names:
                raise ValueError(f"job {job.name}: backup.template {job.backup.template!r} is not one of "
                                 f"executor.templates ({', '.join(names) or 'none defined'})")
        return self

    def template(self, name: str) -> BackupTemplate:
        for t in self.templates:
            if t.name == name:
                return t
        raise ConfigError(f"no backup template {name!r} in executor.templates of the config "
                          f"({', '.join(t.name for t in self.templates) or 'none defined'})")

    @field_validator("jobs")
    @classmethod
    def _unique(cls, jobs: tuple[ExecutorJob, ...]) -> tuple[ExecutorJob, ...]:
        seen: set[str] = set()
        for job in jobs:
            if job.name in seen:
                raise ValueError(f"job name {job.name!r} is used twice (names must be unique)")
            seen.add(job.name)
        return jobs
