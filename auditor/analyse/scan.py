"""A scan's result: per cluster its analysis and every rule × subject result, and what spans the run.

It lives on the analysis's floor, the lowest that can name what it holds (``ClusterAnalysis``, framework
scores, the exceptions register); ``pipeline.run_scan`` builds it, outputs and the store read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.analyse.compliance import FrameworkScore
from auditor.analyse.coverage import ClusterAnalysis
from auditor.analyse.exceptions import ExceptionsReport
from auditor.model.preflight import PreflightOutcome
from auditor.model.rules import Finding, Rule
from auditor.model.runs import RunRecord
from auditor.model.scan import FindingAge, RunStats


@dataclass(frozen=True)
class ClusterScan:
    name: str
    analysis: ClusterAnalysis | None
    results: tuple[Finding, ...] = ()  # every rule × subject result: findings, passes, not evaluated
    error: str | None = None
    compliance: tuple[FrameworkScore, ...] = ()  # per framework (issue: credentials & compliance)
    #: the same without GOV-006/007 (about the other clusters), when this cluster has results of them: what a
    #: fleet report scores the cluster by (it judges those rules once for the fleet)
    compliance_without_fleet: tuple[FrameworkScore, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(r for r in self.results if r.is_finding)


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
