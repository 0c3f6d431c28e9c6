"""A scan's result: per cluster its analysis and every rule × subject result, and what spans the run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from auditor.model.preflight import PreflightOutcome
from auditor.model.rules import Finding, Rule
from auditor.model.runs import RunRecord

if TYPE_CHECKING:  # the analysis's own result types: named for type checking only, never imported at run time
    from auditor.analyse.compliance import FrameworkScore
    from auditor.analyse.coverage import ClusterAnalysis
    from auditor.analyse.exceptions import ExceptionsReport


@dataclass(frozen=True)
class ClusterScan:
    name: str
    analysis: ClusterAnalysis | None
    results: tuple[Finding, ...] = ()  # every rule × subject result: findings, passes, not evaluated
    error: str | None = None
    compliance: tuple[FrameworkScore, ...] = ()  # per framework (issue: credentials & compliance)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(r for r in self.results if r.is_finding)


@dataclass(frozen=True)
class FindingAge:
    """How long the oldest open finding of a rule has been open in a cluster (from the history store)."""

    cluster: str
    rule_id: str
    severity: str
    seconds: float


@dataclass(frozen=True)
class RunStats:
    """Executor runs of one backend (the kind of object it creates) with one outcome, from the history store."""

    backend: str
    outcome: str
    count: int
    seconds_sum: float = 0.0  # over the runs that ended
    seconds_count: int = 0


@dataclass(frozen=True)
class ScanResult:
    as_of: datetime
    clusters: tuple[ClusterScan, ...]
    rules: tuple[Rule, ...]
    exceptions: ExceptionsReport | None = None  # the exceptions register (matched, unused, expired)
    finding_ages: tuple[FindingAge, ...] = ()  # only when a history store is used
    executor_runs: tuple[RunStats, ...] = ()  # only when a history store is used
    recent_runs: tuple[RunRecord, ...] = ()  # the newest executor runs, newest first (reports)
    filters: dict[str, Any] | None = None  # set on a filtered view (auditor.output.filters): what it keeps
    preflights: tuple[PreflightOutcome, ...] = ()  # auditor serve's restore preflight pairs (docs/preflight.md)

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.clusters for f in c.findings]

    @property
    def results(self) -> list[Finding]:
        return [r for c in self.clusters for r in c.results]
