"""The audit policy (``--config FILE``): RPO and retention per namespace, and what the audit excludes."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor import yamlsafe
from auditor.analyse.exceptions import DEFAULT_MAX_DAYS, ExceptionRule
from auditor.errors import ConfigError
from auditor.executor.templates import BackupTemplate
from auditor.model.durations import parse_duration

DEFAULT_RPO = 24 * 3600.0
DEFAULT_RETENTION = 7 * 86400.0
DEFAULT_EXCLUDED = ("kube-system", "kube-public", "kube-node-lease")


def _duration(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_duration(str(value))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    rpo: float = DEFAULT_RPO
    retention: float = DEFAULT_RETENTION

    _parse = field_validator("rpo", "retention", mode="before")(classmethod(lambda cls, v: _duration(v)))


class Policy(_Strict):
    """A named policy; the first whose selectors all match a volume applies."""

    name: str
    namespaces: tuple[str, ...] = ()
    namespace_labels: dict[str, str] = Field(default_factory=dict)
    pvc_labels: dict[str, str] = Field(default_factory=dict)
    rpo: float | None = None
    retention: float | None = None

    _parse = field_validator("rpo", "retention", mode="before")(
        classmethod(lambda cls, v: None if v is None else _duration(v)))

    def matches(self, namespace: str, namespace_labels: dict[str, str], pvc_labels: dict[str, str]) -> bool:
        if self.namespaces and not any(fnmatch.fnmatchcase(namespace, g) for g in self.namespaces):
            return False
        if any(namespace_labels.get(k) != v for k, v in self.namespace_labels.items()):
            return False
        return not any(pvc_labels.get(k) != v for k, v in self.pvc_labels.items())


class AppliedPolicy(_Strict):
    name: str
    rpo: float
    retention: float


class Retention(_Strict):
    """How many old scans the history store keeps, per cluster; ``None`` switches a limit off."""

    max_scans: int | None = Field(default=1000, ge=1)
    max_age: float | None = 400 * 86400.0

    _parse = field_validator("max_age", mode="before")(
        classmethod(lambda cls, v: None if v is None else _duration(v)))


class Weakening(_Strict):
    """Which changes since the previous scan GOV-002 reports (all on by default)."""

    schedule_deleted: bool = True
    schedule_paused: bool = True
    ttl_reduced: bool = True
    cron_widened: bool = True
    namespaces_narrowed: bool = True
    selectors_narrowed: bool = True
    resources_narrowed: bool = True
    snapshots_disabled: bool = True
    volume_policy_skips: bool = True
    storage_location_changed: bool = True
    bsl_read_only: bool = True
    default_bsl_changed: bool = True
    velero_scaled_down: bool = True
    node_agent_removed: bool = True
    backup_deleted_early: bool = True


class HistoryConfig(_Strict):
    """The history store (``history:``): where scans are recorded, how long they are kept, what GOV-002 reports."""

    store: str | None = None  # SQLAlchemy URL or SQLite file path; set, ``auditor scan`` records every scan
    retention: Retention = Retention()
    keep_open: float | None = 30 * 86400.0  # a weakening stays open until restored, at most this long
    weakening: Weakening = Weakening()

    _parse = field_validator("keep_open", mode="before")(
        classmethod(lambda cls, v: None if v is None else _duration(v)))


REPORT_FORMATS = ("html", "pdf", "json", "csv", "junit", "sarif", "md")


class ScheduledReport(_Strict):
    """A report ``auditor serve`` writes on a cron (Velero's dialect: 5 fields, @daily, @every, CRON_TZ=)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    cron: str
    formats: tuple[str, ...] = ("html", "pdf")
    out: Path
    framework: str | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from auditor.analyse.cron import CronError, parse_cron

        try:
            parse_cron(value)
        except CronError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in value if f not in REPORT_FORMATS]
        if unknown or not value:
            raise ValueError(f"formats must be among {', '.join(REPORT_FORMATS)} (got {', '.join(unknown) or 'none'})")
        return value


SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _pod_namespace() -> str:
    """The namespace the pod runs in (the executor's Lease lives there), else ``backup-auditor``."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "backup-auditor"
    except OSError:
        return "backup-auditor"


def _namespaced_key(value: str) -> str:
    namespace, sep, name = str(value).partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise ValueError(f"expected NAMESPACE/NAME, got {value!r}")
    return value


class LeaseConfig(_Strict):
    """The Kubernetes Lease only whose holder runs executor jobs (client-go's leader election timings)."""

    name: str = "backup-auditor-executor"
    namespace: str = Field(default_factory=_pod_namespace)
    duration: float = 15.0  # a standby takes over this long after the leader's last renewal
    renew_deadline: float = 10.0  # the leader steps down when no renewal succeeded for this long
    retry_period: float = 2.0  # how often the leader renews and a standby tries to acquire

    _parse = field_validator("duration", "renew_deadline", "retry_period", mode="before")(
        classmethod(lambda cls, v: _duration(v)))

    @model_validator(mode="after")
    def _ordered(self) -> LeaseConfig:
        # client-go's checks: a leader must give up before a standby may take over, and retry within the deadline
        if not self.duration > self.renew_deadline > 1.2 * self.retry_period > 0:
            raise ValueError("lease timings need duration > renew_deadline > 1.2 × retry_period > 0 (got "
                             f"{self.duration:g}s, {self.renew_deadline:g}s, {self.retry_period:g}s)")
        return self


class BackupJob(_Strict):
    schedule: str | None = None  # NAMESPACE/NAME of a Velero Schedule: the Backup takes its template
    template: str | None = None  # or the name of one of executor.templates

    _key = field_validator("schedule")(classmethod(lambda cls, v: None if v is None else _namespaced_key(v)))

    @model_validator(mode="after")
    def _one_source(self) -> BackupJob:
        if (self.schedule is None) == (self.template is None):
            raise ValueError("give exactly one of schedule (NAMESPACE/NAME) or template (a name in executor.templates)")
        return self


class SnapshotJob(_Strict):
    pvcs: tuple[str, ...] = Field(min_length=1)  # NAMESPACE/PVC each
    # delete the auditor's own snapshots of each PVC older than this, or ("policy") than its policy's retention
    prune: float | Literal["policy"] | None = None

    _keys = field_validator("pvcs")(classmethod(lambda cls, v: tuple(_namespaced_key(k) for k in v)))
    _parse = field_validator("prune", mode="before")(
        classmethod(lambda cls, v: v if v is None or v == "policy" else _duration(v)))


class EtcdJob(_Strict):
    """``auditor backup etcd`` on a schedule; the ``s3*`` and ``keep_local`` keys mean what its flags mean."""

    endpoints: str
    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    out: Path
    keep: int | None = Field(default=None, ge=1)
    s3: str | None = None  # s3://bucket/prefix: the verified pair is uploaded there too
    s3_endpoint: str | None = None  # an S3-compatible endpoint (default: AWS)
    s3_region: str | None = None
    s3_ca_file: Path | None = None
    s3_profile: str | None = None  # credentials: the AWS_* variables or this shared-credentials profile
    keep_local: bool = True  # with s3: keep the local pair after a verified upload

    @field_validator("s3")
    @classmethod
    def _s3_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is not None:
            parts = urlsplit(value)
            if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
                raise ValueError(f"must be an s3://bucket/prefix URL (got {value!r})")
        return value

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
                raise ValueError(f"must be an endpoint URL, scheme://host[:port] (got {value!r})")
        return value

    @model_validator(mode="after")
    def _s3_options_need_s3(self) -> EtcdJob:
        if self.s3 is None:
            given = [k for k in ("s3_endpoint", "s3_region", "s3_ca_file", "s3_profile") if getattr(self, k)]
            if not self.keep_local:
                given.append("keep_local: false")
            if given:
                raise ValueError(f"{', '.join(given)} need s3 (an s3://bucket/prefix URL)")
        return self


class RestoreDrillJob(_Strict):
    schedule: str
    check: tuple[str, ...] = ()  # argv of a user check run after the restore
    keep_namespaces: bool = False

    _key = field_validator("schedule")(classmethod(lambda cls, v: _namespaced_key(v)))


JOB_ACTIONS = ("backup", "snapshot", "etcd", "restore_drill")


class ExecutorJob(_Strict):
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

    _parse = field_validator("interval", "timeout", mode="before")(
        classmethod(lambda cls, v: None if v is None else _duration(v)))

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from auditor.analyse.cron import CronError, parse_cron

        if value is not None:
            try:
                parse_cron(value)
            except CronError as exc:
                raise ValueError(str(exc)) from None
        return value

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


class ExecutorConfig(_Strict):
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


class EtcdSnapshotSource(_Strict):
    """Where the executor's etcd snapshot manifests of matching clusters are: a directory or an ``s3://`` prefix.
    The scan reads the ``.json`` manifests only, never a snapshot."""

    cluster: str = "*"  # glob on the cluster name
    dir: Path | None = None
    s3: str | None = None
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_ca_file: Path | None = None
    s3_profile: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> EtcdSnapshotSource:
        if (self.dir is None) == (self.s3 is None):
            raise ValueError("give exactly one of dir or s3")
        if self.s3 is not None and not self.s3.startswith("s3://"):
            raise ValueError(f"s3 must be an s3://bucket/prefix URL (got {self.s3!r})")
        return self


class EtcdConfig(_Strict):
    """etcd snapshot evidence (``etcd:``) for SYS-002: where the executor's manifests are, and the RPO."""

    snapshots: tuple[EtcdSnapshotSource, ...] = ()
    rpo: float = DEFAULT_RPO

    _parse = field_validator("rpo", mode="before")(classmethod(lambda cls, v: _duration(v)))

    def sources_for(self, cluster: str) -> tuple[EtcdSnapshotSource, ...]:
        return tuple(s for s in self.snapshots if fnmatch.fnmatchcase(cluster, s.cluster))


class PreflightPair(_Strict):
    """``preflight:`` in ``auditor serve``: the newest good backup of a schedule in a scanned cluster, judged
    against a DR target on every scan interval (docs/preflight.md)."""

    schedule: str = Field(pattern=r"^[^/]+/[^/]+$")  # NAMESPACE/NAME of the Velero Schedule
    source_cluster: str | None = None  # the scanned cluster holding it (default: the only one, or any)
    target_context: str | None = None  # a context of serve's kubeconfig
    target_snapshot: Path | None = None  # or a dump directory (a target copied elsewhere, tests)
    name: str | None = None  # the ``target`` label (default: the context or the dump's cluster)
    velero_catalog: Path | None = None  # a synced copy of the BSL prefix: the backup's own files
    namespace_mapping: dict[str, str] = Field(default_factory=dict)
    storage_class_mapping: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> PreflightPair:
        if (self.target_context is None) == (self.target_snapshot is None):
            raise ValueError("give exactly one of target_context or target_snapshot")
        return self


class ExceptionsConfig(_Strict):
    """``exceptions:`` — the waivers and how they are governed. A plain list is read as the waivers."""

    waivers: tuple[ExceptionRule, ...] = ()
    #: waivers from object annotations: off unless the auditor's owner opts in (an annotator must not be able
    #: to silence the findings about their own objects)
    from_annotations: bool = False
    max_days: int = Field(default=DEFAULT_MAX_DAYS, ge=1)  # how far ahead any waiver may expire

    @model_validator(mode="before")
    @classmethod
    def _list_is_waivers(cls, value: Any) -> Any:
        return {"waivers": value} if isinstance(value, list | tuple) else value


class AuditConfig(_Strict):
    defaults: Defaults = Defaults()
    exclude_namespaces: tuple[str, ...] = DEFAULT_EXCLUDED
    policies: tuple[Policy, ...] = ()
    velero_namespace: str | None = None
    stuck_backup_after: float = 6 * 3600.0
    exceptions: ExceptionsConfig = ExceptionsConfig()
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per-rule parameter overrides
    history: HistoryConfig = HistoryConfig()
    reports: tuple[ScheduledReport, ...] = ()  # written by `auditor serve` on their cron
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)  # scheduled jobs (auditor serve)
    etcd: EtcdConfig = Field(default_factory=EtcdConfig)  # etcd snapshot evidence (SYS-002)
    custom_rules_dirs: tuple[Path, ...] = ()  # CEL rule files (docs/custom-rules.md); relative to the config file
    preflight: tuple[PreflightPair, ...] = ()  # restore preflight pairs evaluated by auditor serve

    _parse = field_validator("stuck_backup_after", mode="before")(classmethod(lambda cls, v: _duration(v)))

    def excluded(self, namespace: str) -> bool:
        """Namespaces the audit does not require to be protected (listed, but raising no findings)."""
        return any(fnmatch.fnmatchcase(namespace, g) for g in self.exclude_namespaces)

    def policy_for(self, namespace: str, namespace_labels: dict[str, str], pvc_labels: dict[str, str]) -> AppliedPolicy:
        for policy in self.policies:
            if policy.matches(namespace, namespace_labels, pvc_labels):
                return AppliedPolicy(name=policy.name, rpo=policy.rpo or self.defaults.rpo,
                                     retention=policy.retention or self.defaults.retention)
        return AppliedPolicy(name="default", rpo=self.defaults.rpo, retention=self.defaults.retention)


def _validation_message(path: Path, exc: ValidationError, data: Any = None) -> str:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    job = _job_location(first["loc"], data)
    if job is not None:
        return f"{path}: {job}: {message}{more}"
    return f"{path}: key {key}: {message}{more}"


def _job_location(loc: tuple[int | str, ...], data: Any) -> str | None:
    """``executor.jobs[1] (name nightly): cron`` for an error inside a job: the user finds it by its name."""
    if len(loc) < 3 or loc[:2] != ("executor", "jobs") or not isinstance(loc[2], int):
        return None
    try:
        name = data["executor"]["jobs"][loc[2]].get("name")
    except (KeyError, IndexError, TypeError, AttributeError):
        name = None
    where = f"executor.jobs[{loc[2]}]" + (f" (name {name})" if isinstance(name, str) else "")
    return f"{where}: {'.'.join(str(p) for p in loc[3:])}" if len(loc) > 3 else where


class _ExceptionsFile(_Strict):
    exceptions: tuple[ExceptionRule, ...]


def load_exceptions(path: Path) -> tuple[ExceptionRule, ...]:
    """An exceptions file: ``exceptions: [{rules, selector, reason, owner, expires}]``; errors name the key."""
    data = yamlsafe.read_config_file(path)
    if isinstance(data, list):
        data = {"exceptions": data}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with key exceptions")
    try:
        parsed = _ExceptionsFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(path, exc)) from None
    return tuple(e.model_copy(update={"source": str(path)}) for e in parsed.exceptions)


def load_config(path: Path | None) -> AuditConfig:
    """The config at ``path`` (defaults when None); errors name the file and the key."""
    if path is None:
        return AuditConfig()
    data = yamlsafe.read_config_file(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        config = AuditConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(path, exc, data)) from None
    if config.custom_rules_dirs:
        base = Path(path).parent
        config = config.model_copy(update={"custom_rules_dirs": tuple(base / d for d in config.custom_rules_dirs)})
    return config
