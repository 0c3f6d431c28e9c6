"""The config (``--config FILE``), one small typed model per area.

- :mod:`~auditor.config.policy`: the audit policy (defaults, policies, excluded namespaces);
- :mod:`~auditor.config.waivers`: exceptions and how they are governed;
- :mod:`~auditor.config.history`: the history store, its retention, what GOV-002 reports;
- :mod:`~auditor.config.reports`: scheduled reports;
- :mod:`~auditor.config.executor` and :mod:`~auditor.config.templates`: executor jobs, Backup templates, the Lease;
- :mod:`~auditor.config.etcd`: etcd snapshot evidence;
- :mod:`~auditor.config.serve`: restore preflight pairs;
- :mod:`~auditor.config.audit`: the whole file; :mod:`~auditor.config.load`: reading it.

Config is a floor below the analysis: it imports the model's parsers and nothing above them.
"""

from auditor.config.audit import AuditConfig
from auditor.config.base import DEFAULT_RETENTION, DEFAULT_RPO, help_text
from auditor.config.etcd import EtcdConfig, EtcdSnapshotSource
from auditor.config.executor import (
    JOB_ACTIONS,
    BackupJob,
    EtcdJob,
    ExecutorConfig,
    ExecutorJob,
    LeaseConfig,
    RestoreDrillJob,
    SnapshotJob,
)
from auditor.config.history import HistoryConfig, Retention, Weakening
from auditor.config.load import load_config, load_exceptions
from auditor.config.policy import (
    DEFAULT_EXCLUDED,
    FRAMEWORKS,
    AppliedPolicy,
    ClusterDefaults,
    ClusterPolicy,
    ClusterSettings,
    Defaults,
    Policy,
)
from auditor.config.reports import ScheduledReport
from auditor.config.serve import PreflightPair
from auditor.config.templates import BackupTemplate
from auditor.config.waivers import DEFAULT_MAX_DAYS, ExceptionRule, ExceptionsConfig, Selector

__all__ = [
    "DEFAULT_EXCLUDED", "DEFAULT_MAX_DAYS", "DEFAULT_RETENTION", "DEFAULT_RPO", "FRAMEWORKS", "JOB_ACTIONS",
    "AppliedPolicy", "AuditConfig", "BackupJob", "BackupTemplate", "ClusterDefaults",
    "ClusterPolicy", "ClusterSettings", "Defaults", "EtcdConfig", "EtcdJob",
    "EtcdSnapshotSource", "ExceptionRule", "ExceptionsConfig", "ExecutorConfig", "ExecutorJob", "HistoryConfig",
    "LeaseConfig", "Policy", "PreflightPair", "RestoreDrillJob", "Retention", "ScheduledReport", "Selector",
    "SnapshotJob", "Weakening", "help_text", "load_config", "load_exceptions",
]
