"""The whole config file (``--config FILE``): the audit policy at its top level, each other area in its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from auditor.config.base import Strict, duration
from auditor.config.etcd import EtcdConfig
from auditor.config.executor import ExecutorConfig
from auditor.config.history import HistoryConfig
from auditor.config.policy import DEFAULT_EXCLUDED, AppliedPolicy, Defaults, Policy
from auditor.config.reports import ScheduledReport
from auditor.config.serve import PreflightPair
from auditor.config.waivers import ExceptionsConfig
from auditor.model.globs import config_glob


class AuditConfig(Strict):
    """Every setting of a run; each area is a small model of its own (``auditor.config.*``)."""

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

    _parse = field_validator("stuck_backup_after", mode="before")(classmethod(lambda cls, v: duration(v)))

    def excluded(self, namespace: str) -> bool:
        """Namespaces the audit does not require to be protected (listed, but raising no findings)."""
        return any(config_glob(namespace, g) for g in self.exclude_namespaces)

    def policy_for(self, namespace: str, namespace_labels: dict[str, str], pvc_labels: dict[str, str]) -> AppliedPolicy:
        for policy in self.policies:
            if policy.matches(namespace, namespace_labels, pvc_labels):
                return AppliedPolicy(name=policy.name, rpo=policy.rpo or self.defaults.rpo,
                                     retention=policy.retention or self.defaults.retention)
        return AppliedPolicy(name="default", rpo=self.defaults.rpo, retention=self.defaults.retention)
