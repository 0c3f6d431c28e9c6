"""The whole config file (``--config FILE``): the audit policy at its top level, each other area in its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from auditor.config.base import Strict, duration
from auditor.config.etcd import EtcdConfig
from auditor.config.executor import ExecutorConfig
from auditor.config.history import HistoryConfig
from auditor.config.policy import DEFAULT_EXCLUDED, ClusterPolicy, ClusterSettings, Defaults, Policy
from auditor.config.reports import ScheduledReport
from auditor.config.serve import PreflightPair
from auditor.config.waivers import ExceptionsConfig


class AuditConfig(Strict):
    """Every setting of a run; each area is a small model of its own (``auditor.config.*``)."""

    defaults: Defaults = Defaults()
    exclude_namespaces: tuple[str, ...] = DEFAULT_EXCLUDED
    policies: tuple[Policy, ...] = ()  # the first that matches a volume applies
    clusters: tuple[ClusterSettings, ...] = ()  # per-cluster defaults; the first that matches a cluster applies
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

    def for_cluster(self, cluster: str) -> ClusterPolicy:
        """The policy of one cluster: its policies, defaults, excluded namespaces and framework focus."""
        index, settings = next(((i, c) for i, c in enumerate(self.clusters) if c.matched_glob(cluster)), (None, None))
        excluded = self.exclude_namespaces
        if settings is not None and settings.exclude_namespaces is not None:
            excluded = settings.exclude_namespaces
        return ClusterPolicy(cluster, tuple((i, p) for i, p in enumerate(self.policies) if p.applies_to(cluster)),
                             self.defaults, excluded, settings, index)
