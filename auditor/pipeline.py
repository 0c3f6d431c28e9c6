"""The scan: collect each cluster → analyse → evaluate the rule catalog. Output formats read its result."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.analyse.compliance import load_frameworks, score
from auditor.analyse.coverage import ClusterAnalysis, analyse_cluster
from auditor.analyse.exceptions import ExceptionRule, ExceptionsReport, check_terms
from auditor.analyse.exceptions import apply as apply_exceptions
from auditor.analyse.protection import ProtectionState
from auditor.analyse.subjects import annotation_exceptions, subjects
from auditor.checks import evaluate, load_catalog
from auditor.checks.gaps import unevaluated_where_blind
from auditor.checks.governance import LATE_RULES
from auditor.checks.registry import RunContext, catalog_dir
from auditor.collect.catalog import read_catalog
from auditor.collect.clusters import ClusterTarget, in_cluster_target, kubeconfig_targets
from auditor.collect.dump import read_dump
from auditor.collect.etcd_manifests import with_etcd_manifests
from auditor.collect.live import (
    DEFAULT_CLUSTER_DEADLINE,
    DEFAULT_REQUEST_TIMEOUT,
    LiveSource,
    Progress,
    RawSink,
    gc_paused,
)
from auditor.collect.secrets import SecretPolicy, load_installation_key
from auditor.config import AuditConfig
from auditor.errors import AuditorError, ClusterAccessError, ConfigError
from auditor.model.catalog import VeleroCatalog
from auditor.model.inventory import Inventory
from auditor.model.rules import Finding
from auditor.model.scan import ClusterScan, ScanResult

if TYPE_CHECKING:
    from auditor.custom_rules.loader import CustomRule

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
    secret_values: bool = True  # fingerprint backup credentials (False: --no-secret-values)
    fingerprint_key_file: Path | None = None
    framework: str | None = None  # focus output on one framework's rules
    store: str | None = None  # history store URL: its caller (auditor.recording) compares and records the scan
    previous: Mapping[str, ProtectionState] = field(default_factory=dict)  # by cluster, when no store has one
    custom_rules: tuple[CustomRule, ...] = ()  # compiled CEL rules (--rules-dir, custom_rules_dirs)
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT  # seconds one API request may wait
    cluster_deadline: float | None = DEFAULT_CLUSTER_DEADLINE  # seconds to read one live cluster (None: no limit)
    #: how a live cluster's inventory is read (default: ``source.collect(sink)``); ``auditor serve`` passes one
    #: that serves event-triggered rescans from its watch cache (``auditor/server/cache.py``)
    collector: Callable[[ClusterTarget, LiveSource, RawSink | None], Inventory] | None = field(default=None,
                                                                                             compare=False)

    @property
    def live(self) -> bool:
        return not self.snapshots


def live_targets(options: ScanOptions) -> list[ClusterTarget]:
    if options.in_cluster:
        return [in_cluster_target(options.cluster_name or "in-cluster")]
    return kubeconfig_targets(options.kubeconfig, options.contexts, options.all_contexts)


def secret_policy(options: ScanOptions) -> SecretPolicy:
    if not options.secret_values:
        return SecretPolicy(read_values=False)
    return SecretPolicy(read_values=True, key=load_installation_key(options.fingerprint_key_file))


def collect_inventories(options: ScanOptions, progress: Progress | None = None,
                        sink_for: Callable[[str], RawSink] | None = None,
                        ) -> Iterator[tuple[str, Inventory | None, str | None]]:
    """(cluster, inventory or None, error) for each requested cluster; one bad cluster never stops the rest."""
    secrets = secret_policy(options)
    if options.snapshots:
        for path in options.snapshots:
            with gc_paused():
                inventory = read_dump(path, options.cluster_name if len(options.snapshots) == 1 else None, secrets)
            yield inventory.cluster, inventory, None
        return
    for target in live_targets(options):
        source = LiveSource(target.api_client, target.name, page_size=options.page_size, progress=progress,
                            backup_namespace=options.config.velero_namespace, secrets=secrets,
                            request_timeout=options.request_timeout, deadline=options.cluster_deadline)
        sink = sink_for(target.name) if sink_for else None
        try:
            inventory = options.collector(target, source, sink) if options.collector else source.collect(sink)
            yield target.name, inventory, None
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


def frameworks_dir() -> Path:
    return catalog_dir() / "frameworks"


#: how a scan reads each cluster's previous protection state (GOV-002): ``Store.previous_state`` when the
#: caller keeps a history store (``auditor.recording``)
PreviousState = Callable[[str, datetime], ProtectionState | None]


def previous_state(options: ScanOptions, previous: PreviousState | None, cluster: str, as_of: datetime,
                   ) -> ProtectionState | None:
    state = previous(cluster, as_of) if previous is not None else None
    return state or options.previous.get(cluster)


def run_scan(options: ScanOptions, progress: Progress | None = None,
             previous: PreviousState | None = None) -> ScanResult:
    """Collect and analyse every cluster, then evaluate the rules with what spans them (fingerprints,
    exceptions), apply the exceptions and score the frameworks. ``previous`` reads each cluster's previous
    state (else ``options.previous``); recording the scan is the caller's business (``auditor.recording``)."""
    as_of = options.as_of or datetime.now(UTC).replace(microsecond=0)
    config = options.config
    rules = load_catalog()
    frameworks = load_frameworks(frameworks_dir())
    if options.framework:
        chosen = [f for f in frameworks if f.id == options.framework]
        if not chosen:
            raise ConfigError(f"unknown framework {options.framework!r} (known: {', '.join(f.id for f in frameworks)})")
        frameworks = tuple(chosen)
        mapped = {rule for c in chosen[0].controls for rule in c.rules}
        rules = tuple(r for r in rules if r.id in mapped)
    custom = tuple(r for r in options.custom_rules if not options.framework or options.framework in r.rule.frameworks)
    if custom:
        from auditor.custom_rules.frameworks import with_custom_rules

        frameworks = with_custom_rules(frameworks, custom)
    analysed: list[tuple[str, ClusterAnalysis | None, str | None]] = []
    for name, inventory, error in collect_inventories(options, progress):
        if inventory is None:
            analysed.append((name, None, error))
            continue
        catalog = catalogs_for(options, inventory.cluster)
        inventory = with_etcd_manifests(inventory, config.etcd)  # the executor's etcd snapshots (SYS-002)
        with gc_paused():
            state = previous_state(options, previous, inventory.cluster, as_of)
            try:
                analysed.append((inventory.cluster, analyse_cluster(inventory, config, as_of, catalog, state),
                                 None))
            except AuditorError:
                raise
            except Exception as exc:  # a defect on this cluster's data must not cost the other clusters
                log.warning("analysis of cluster %s failed: %s: %.200s", inventory.cluster, type(exc).__name__, exc)
                log.debug("analysis traceback", exc_info=True)
                analysed.append((inventory.cluster, None,
                                 f"the analysis failed on this cluster's data: {type(exc).__name__}: {str(exc)[:300]}"))
    analyses = [a for _, a, _ in analysed if a is not None]
    exception_rules = list(config.exceptions.waivers)
    if config.exceptions.from_annotations:
        exception_rules += [e for a in analyses for e in annotation_exceptions(a.inventory)]
    exception_rules = check_terms(exception_rules, as_of, config.exceptions.max_days)
    run = RunContext(fingerprint_clusters=fingerprint_clusters(analyses), exceptions=tuple(exception_rules))
    early = tuple(r for r in rules if r.id not in LATE_RULES)
    late = tuple(r for r in rules if r.id in LATE_RULES)
    judged: dict[str, list[Finding]] = {}
    registers = []
    for _, analysis, _ in analysed:
        if analysis is None:
            continue
        with gc_paused():
            results = unevaluated_where_blind(analysis, evaluate(analysis, early, config.rules, run))
            if custom:
                from auditor.custom_rules.evaluate import evaluate_custom

                results += evaluate_custom(analysis, custom)
            judged[analysis.inventory.cluster], register = apply_exceptions(
                results, exception_rules, subjects(analysis.inventory), as_of)
        registers.append(register)
    if late:  # the rules about the waivers themselves, with their use across every cluster of the run
        merged = merge_registers(registers, exception_rules, as_of)
        late_run = replace(run, exception_use={r.key: n for r, n in merged.matched},
                           exception_unknown=frozenset(r.key for r in merged.undetermined),
                           evaluated_rules=frozenset([*(r.id for r in rules), *(r.rule.id for r in custom)]),
                           unreadable_clusters=tuple(name for name, a, _ in analysed if a is None))
        for analysis in analyses:
            late_results = unevaluated_where_blind(analysis, evaluate(analysis, late, config.rules, late_run))
            results, register = apply_exceptions(late_results, exception_rules, subjects(analysis.inventory), as_of)
            judged[analysis.inventory.cluster] += results
            registers.append(register)
    clusters = []
    for name, analysis, error in analysed:
        if analysis is None:
            clusters.append(ClusterScan(name, None, (), error))
            continue
        results = judged[analysis.inventory.cluster]
        compliance = tuple(score(f, results) for f in frameworks)
        clusters.append(ClusterScan(name, analysis, tuple(results), None, compliance))
    return ScanResult(as_of, tuple(clusters), rules + tuple(r.rule for r in custom),
                      merge_registers(registers, exception_rules, as_of))


def fingerprint_clusters(analyses: list[ClusterAnalysis]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for a in analyses:
        for c in a.credentials:
            if c.fingerprint:
                found.setdefault(c.fingerprint, set()).add(a.inventory.cluster)
    return {fp: frozenset(clusters) for fp, clusters in found.items()}


def merge_registers(registers: list[ExceptionsReport], rules: list[ExceptionRule], as_of: datetime,
                    ) -> ExceptionsReport:
    counts: dict[str, int] = {}
    unknown: set[str] = set()
    for reg in registers:
        for rule, n in reg.matched:
            counts[rule.key] = counts.get(rule.key, 0) + n
        unknown.update(r.key for r in reg.undetermined)
    active = [r for r in rules if not r.expired(as_of)]
    unused = tuple(r for r in active if r.key not in counts)
    return ExceptionsReport(matched=tuple((r, counts[r.key]) for r in active if r.key in counts), unused=unused,
                            expired=tuple(r for r in rules if r.expired(as_of)),
                            undetermined=tuple(r for r in unused if r.key in unknown))
