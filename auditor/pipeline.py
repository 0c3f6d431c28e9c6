"""The scan: collect each cluster → analyse → evaluate the rule catalog. Output formats read its result."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from auditor.analyse.compliance import FrameworkScore
from auditor.analyse.coverage import ClusterAnalysis, analyse_cluster
from auditor.analyse.exceptions import ExceptionsReport
from auditor.checks import Finding, evaluate, load_catalog
from auditor.checks.registry import Rule
from auditor.collect.catalog import VeleroCatalog, read_catalog
from auditor.collect.clusters import ClusterTarget, in_cluster_target, kubeconfig_targets
from auditor.collect.dump import read_dump
from auditor.collect.inventory import Inventory
from auditor.collect.live import LiveSource, Progress, RawSink, gc_paused
from auditor.config import AuditConfig
from auditor.errors import ClusterAccessError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanOptions:
    snapshots: tuple[Path, ...] = ()
    cluster_name: str | None = None
    kubeconfig: str | None = None
    contexts: tuple[str, ...] = ()
    all_contexts: bool = False
    in_cluster: bool = False
    catalogs: tuple[str, ...] = ()  # "DIR" (every cluster) or "CLUSTER=DIR"
    config: AuditConfig = field(default_factory=AuditConfig)
    as_of: datetime | None = None
    page_size: int = 500

    @property
    def live(self) -> bool:
        return not self.snapshots


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
class ScanResult:
    as_of: datetime
    clusters: tuple[ClusterScan, ...]
    rules: tuple[Rule, ...]
    exceptions: ExceptionsReport | None = None  # the exceptions register (matched, unused, expired)

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.clusters for f in c.findings]

    @property
    def results(self) -> list[Finding]:
        return [r for c in self.clusters for r in c.results]


def live_targets(options: ScanOptions) -> list[ClusterTarget]:
    if options.in_cluster:
        return [in_cluster_target(options.cluster_name or "in-cluster")]
    return kubeconfig_targets(options.kubeconfig, options.contexts, options.all_contexts)


def collect_inventories(options: ScanOptions, progress: Progress | None = None,
                        sink_for: Callable[[str], RawSink] | None = None,
                        ) -> Iterator[tuple[str, Inventory | None, str | None]]:
    """(cluster, inventory or None, error) for each requested cluster; one bad cluster never stops the rest."""
    if options.snapshots:
        for path in options.snapshots:
            inventory = read_dump(path, options.cluster_name if len(options.snapshots) == 1 else None)
            yield inventory.cluster, inventory, None
        return
    for target in live_targets(options):
        source = LiveSource(target.api_client, target.name, page_size=options.page_size, progress=progress,
                            backup_namespace=options.config.velero_namespace)
        try:
            yield target.name, source.collect(sink_for(target.name) if sink_for else None), None
        except ClusterAccessError as exc:
            yield target.name, None, str(exc)


def catalogs_for(options: ScanOptions, cluster: str) -> VeleroCatalog | None:
    chosen = None
    for spec in options.catalogs:
        name, sep, path = spec.partition("=")
        if sep and name == cluster:
            return read_catalog(Path(path))
        if not sep:
            chosen = spec
    return read_catalog(Path(chosen)) if chosen else None


def run_scan(options: ScanOptions, progress: Progress | None = None) -> ScanResult:
    as_of = options.as_of or datetime.now(UTC).replace(microsecond=0)
    rules = load_catalog()
    clusters = []
    for name, inventory, error in collect_inventories(options, progress):
        if inventory is None:
            clusters.append(ClusterScan(name, None, (), error))
            continue
        catalog = catalogs_for(options, inventory.cluster)
        with gc_paused():
            analysis = analyse_cluster(inventory, options.config, as_of, catalog)
            findings = evaluate(analysis, rules)
        clusters.append(ClusterScan(inventory.cluster, analysis, tuple(findings)))
    return ScanResult(as_of, tuple(clusters), rules)
