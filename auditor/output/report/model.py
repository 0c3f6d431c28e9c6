"""What a report says, as plain data: built once from the scan document, read by every template.

Templates only lay out; every number, sentence and ordering is decided here, so HTML, PDF and
Markdown cannot disagree. Everything that came from the cluster stays a plain ``str`` (escaped by
the templates); only the SVG charts are markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from markupsafe import Markup


@dataclass(frozen=True)
class Caps:
    """Row limits per long table (None: everything). The PDF caps; HTML and CSV never do."""

    findings_per_rule: int | None = None
    volumes: int | None = None
    namespaces: int | None = None
    schedules: int | None = None
    overdue: int | None = None
    heatmap: int | None = None
    controls: int | None = None


FULL = Caps()
PRINT = Caps(findings_per_rule=20, volumes=250, namespaces=60, schedules=80, overdue=50, heatmap=40, controls=60)
#: a report from the history store lists a fleet's worth of entries: the HTML caps too (JSON and CSV carry all)
FLEET = Caps(findings_per_rule=200, volumes=2000, namespaces=500, schedules=500, overdue=500, heatmap=200,
             controls=None)
#: ... and its PDF is a summary to read: a page or two per long list, the fleet table and frameworks in full
FLEET_PRINT = Caps(findings_per_rule=10, volumes=60, namespaces=30, schedules=40, overdue=30, heatmap=30, controls=60)


@dataclass(frozen=True)
class Meta:
    title: str
    clusters: tuple[str, ...]
    as_of: datetime
    period_start: datetime | None
    generated_at: datetime
    generated_by: str
    tool_version: str
    document_sha256: str
    document_name: str  # the file the scan document is in (or will be written to)
    report_id: str
    framework_focus: tuple[str, ...]  # empty: every framework


@dataclass(frozen=True)
class Risk:
    severity: str
    text: str


@dataclass(frozen=True)
class FrameworkSummary:
    framework: str
    name: str
    score: float | None  # every cluster's checks together
    coverage: float | None  # the lowest of the clusters'
    by_cluster: str  # "prod 75.5%, staging 60.0%" with more than one cluster


@dataclass(frozen=True)
class Summary:
    headline: str
    volumes: int
    audited: int
    by_status: dict[str, int]
    protected_ratio: float | None
    coverage_ratio: float | None  # audited volumes an enabled schedule captures
    pass_rate: float | None  # passed / (passed + open) rule × subject checks
    checks: dict[str, int]
    findings: int
    by_severity: dict[str, int]
    excepted: int
    risks: tuple[Risk, ...]
    frameworks: tuple[FrameworkSummary, ...]
    clusters_complete: int
    clusters: int


@dataclass(frozen=True)
class GapView:
    resource: str
    namespace: str | None
    reason: str
    message: str
    meaning: str


@dataclass(frozen=True)
class ClusterView:
    name: str
    source: str | None
    server_version: str | None
    complete: bool
    error: str | None
    counts: dict[str, int]
    gaps: tuple[GapView, ...]
    unknown_kinds: dict[str, int]
    by_status: dict[str, int]
    volumes: int
    as_of: datetime | None = None  # a report from the store: the scan's time, its age, and whether it is old
    age_seconds: float | None = None
    stale: bool = False


@dataclass(frozen=True)
class FleetFinding:
    """A finding about the fleet itself (GOV-006 silent agent, GOV-007 one name claimed twice): judged once from
    the history store at the report's time, not per cluster."""

    rule_id: str
    severity: str
    cluster: str
    message: str


@dataclass(frozen=True)
class FleetRow:
    """A report from the history store: one cluster's newest scan, its age and counts (the fleet rollup)."""

    cluster: str
    scan_id: int | None
    as_of: datetime | None
    age_seconds: float | None
    stale: bool  # older than its agent's interval allows (2x, or 2 h)
    complete: bool
    error: str | None
    by_status: dict[str, int]
    audited: int
    by_severity: dict[str, int]
    scores: dict[str, float | None]
    trend_first: float | None  # share within RPO at the start of the trend, and now
    trend_last: float | None
    newest_error: str | None = None  # the newest attempt failed (the row shows the scan before it)
    omitted: str = ""  # what its lists leave out ("239 volumes, 16 schedules"), with --fleet-detail summary


@dataclass(frozen=True)
class PolicyView:
    name: str
    rpo_seconds: float
    retention_seconds: float
    volumes: int


@dataclass(frozen=True)
class ControlView:
    control_id: str
    title: str
    rules: tuple[str, ...]
    status: str
    passed: int
    failed: int
    not_evaluated: int
    excepted: int


@dataclass(frozen=True)
class FrameworkView:
    framework: str
    name: str
    cluster: str | None
    evaluated: bool  # False: the scan carried no scores; the mapping is shown with open findings only
    score: float | None
    coverage: float | None
    controls: tuple[ControlView, ...]


@dataclass(frozen=True)
class MatrixRow:
    control_id: str
    title: str
    rules: tuple[str, ...]
    cells: tuple[ControlView | None, ...]  # per cluster, in ``FrameworkMatrix.clusters`` order


@dataclass(frozen=True)
class FrameworkMatrix:
    """One framework, clusters side by side (the PDF's compact form of several clusters' tables)."""

    framework: str
    name: str
    clusters: tuple[FrameworkView, ...]
    rows: tuple[MatrixRow, ...]


@dataclass(frozen=True)
class NamespaceRow:
    cluster: str
    namespace: str
    by_status: dict[str, int]
    total: int
    audited: bool


@dataclass(frozen=True)
class OverdueRow:
    cluster: str
    namespace: str
    pvc: str
    status: str
    rpo_seconds: float
    age_seconds: float | None  # None: no recovery point at all
    last_success: datetime | None
    source: str | None


@dataclass(frozen=True)
class ScheduleRow:
    cluster: str
    key: str
    tool: str
    cron: str
    health: str  # healthy | missed runs | failing | never succeeded | paused | invalid
    problem: str | None
    latest_phase: str | None
    latest_time: datetime | None
    last_success: datetime | None
    missed_runs: int
    runs: int
    success_rate: float | None  # completed / finished runs in the window
    ttl_seconds: float | None
    days: dict[date, str] = field(default_factory=dict)  # day → ok | partial | failed | running


@dataclass(frozen=True)
class StorageRow:
    cluster: str
    kind: str
    key: str
    provider: str | None
    target: str | None
    default: bool
    access_mode: str | None
    phase: str | None
    last_validated: datetime | None
    message: str | None
    credential: str | None


@dataclass(frozen=True)
class RunRow:
    """A backup, snapshot or restore drill the auditor's executor ran (from the history store)."""

    cluster: str
    kind: str
    key: str  # namespace/object
    target: str
    status: str
    started: datetime | None
    duration_seconds: float | None
    outcome: str | None


@dataclass(frozen=True)
class CredentialRow:
    cluster: str
    secret: str
    tool: str
    kind: str
    fingerprint: str | None
    rotated: datetime | None
    age_seconds: float | None
    default_password: bool
    used_by: tuple[str, ...]


@dataclass(frozen=True)
class FindingRow:
    cluster: str
    namespace: str | None
    kind: str
    name: str
    status: str
    message: str
    evidence: tuple[tuple[str, str], ...]
    exception: str | None


@dataclass(frozen=True)
class RuleGroup:
    rule_id: str
    title: str
    severity: str
    category: str
    description: str
    remediation: str
    references: tuple[str, ...]
    frameworks: tuple[str, ...]
    open: int
    excepted: int
    rows: tuple[FindingRow, ...]


@dataclass(frozen=True)
class ExceptionRow:
    state: str  # matched | unused | expired
    id: str
    rules: str
    scope: str
    reason: str
    owner: str
    expires: str | None
    source: str
    findings: int | None
    since: str | None = None  # the day the history store first saw it (None: no store, or not recorded)
    history: str | None = None  # its later changes, e.g. "changed 2026-11-02"; for a vanished one, when


@dataclass(frozen=True)
class VolumeRow:
    cluster: str
    namespace: str
    pvc: str
    status: str
    audited: bool
    policy: str
    rpo_seconds: float
    last_success: datetime | None
    age_seconds: float | None
    methods: tuple[str, ...]
    covered_by: tuple[str, ...]
    reason: str | None


@dataclass(frozen=True)
class RuleRow:
    id: str
    title: str
    severity: str
    category: str
    frameworks: str


@dataclass(frozen=True)
class Charts:
    coverage: Markup
    namespaces: Markup
    rpo: Markup
    heatmap: Markup | None  # every schedule
    heatmap_print: Markup | None  # the worst ``PRINT.heatmap`` schedules
    trend: Markup | None
    heatmap_rows: int


@dataclass(frozen=True)
class Report:
    meta: Meta
    summary: Summary
    clusters: tuple[ClusterView, ...]
    policies: tuple[PolicyView, ...]
    excluded_namespaces: tuple[str, ...]
    frameworks: tuple[FrameworkView, ...]
    framework_matrix: tuple[FrameworkMatrix, ...]
    namespaces: tuple[NamespaceRow, ...]
    rpo_buckets: tuple[tuple[str, int, str], ...]
    overdue: tuple[OverdueRow, ...]
    evidence_counts: dict[str, int]
    method_counts: dict[str, int]
    schedules: tuple[ScheduleRow, ...] | None  # None: the scan document carries no schedules
    days: tuple[date, ...]
    storage: tuple[StorageRow, ...] | None
    credentials: tuple[CredentialRow, ...] | None
    findings: tuple[RuleGroup, ...]
    exceptions: tuple[ExceptionRow, ...] | None
    volumes: tuple[VolumeRow, ...]
    rules: tuple[RuleRow, ...]
    charts: Charts
    trend: tuple[tuple[date, float], ...]
    runs: tuple[RunRow, ...] | None = None  # None: the scan document carries no executor runs
    preflights: tuple[Any, ...] | None = None  # PreflightRow (report/preflight.py); None: no pairs configured
    waiver_history: bool = False  # the exceptions register's history was read from a store
    extra: dict[str, Any] = field(default_factory=dict)
    fleet: tuple[FleetRow, ...] = ()  # a report from the history store: the fleet rollup
    fleet_lists: str = ""  # how a fleet report's lists are bounded, and what they leave out (a sentence)
    fleet_frameworks: tuple[FrameworkView, ...] = ()  # each framework over the fleet (controls summed)
    fleet_findings: tuple[FleetFinding, ...] = ()  # GOV-006/007 of the fleet, once each
