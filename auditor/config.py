"""The audit policy (``--config FILE``): RPO and retention per namespace, and what the audit excludes."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditor.analyse.exceptions import ExceptionRule
from auditor.durations import parse_duration
from auditor.errors import ConfigError

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


class AuditConfig(_Strict):
    defaults: Defaults = Defaults()
    exclude_namespaces: tuple[str, ...] = DEFAULT_EXCLUDED
    policies: tuple[Policy, ...] = ()
    velero_namespace: str | None = None
    stuck_backup_after: float = 6 * 3600.0
    exceptions: tuple[ExceptionRule, ...] = ()
    allow_annotation_exceptions: bool = True
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per-rule parameter overrides
    history: HistoryConfig = HistoryConfig()
    reports: tuple[ScheduledReport, ...] = ()  # written by `auditor serve` on their cron

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


def _validation_message(path: Path, exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{path}: key {key}: {message}{more}"


class _ExceptionsFile(_Strict):
    exceptions: tuple[ExceptionRule, ...]


def load_exceptions(path: Path) -> tuple[ExceptionRule, ...]:
    """An exceptions file: ``exceptions: [{rules, selector, reason, owner, expires}]``; errors name the key."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
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
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return AuditConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(path, exc)) from None
