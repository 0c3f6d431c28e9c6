"""The scan: collect each cluster → analyse → evaluate the rule catalog. Output formats read its result."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.analyse.compliance import score_counts, status_counts
from auditor.analyse.coverage import ClusterAnalysis, analyse_cluster
from auditor.analyse.exceptions import ExceptionsReport, check_terms
from auditor.analyse.exceptions import apply as apply_exceptions
from auditor.analyse.fleet import cluster_uid
from auditor.analyse.protection import ProtectionState
from auditor.analyse.scan import ClusterScan, ScanResult
from auditor.analyse.subjects import annotation_exceptions, subjects
from auditor.checks import evaluate
from auditor.checks.fleet import FLEET_RULES
from auditor.checks.gaps import unevaluated_where_blind
from auditor.checks.governance import LATE_RULES
from auditor.checks.registry import RunContext
from auditor.collect.catalog import read_catalog
from auditor.collect.clusters import ClusterTarget, in_cluster_target, kubeconfig_targets
from auditor.collect.dump import read_dump
from auditor.collect.etcd_manifests import with_etcd_manifests
from auditor.collect.heap import gc_paused
from auditor.collect.live import (
    DEFAULT_CLUSTER_DEADLINE,
    DEFAULT_REQUEST_TIMEOUT,
    LiveSource,
    Progress,
    RawSink,
)
from auditor.collect.parallel import (
    ClusterProgress,
    ClusterRead,
    in_order,
    processes_available,
    read_in_processes,
    workers_for,
)
from auditor.collect.secrets import SecretPolicy, load_installation_key
from auditor.config import AuditConfig
from auditor.config.waivers import ExceptionRule
from auditor.errors import AuditorError, ClusterAccessError, ConfigError
from auditor.load.frameworks import load_frameworks
from auditor.load.rules import load_catalog
from auditor.model.inventory import Inventory
from auditor.model.rules import Finding, Rule
from auditor.model.tools.velero import VeleroCatalog

if TYPE_CHECKING:
    from auditor.analyse.compliance import Framework
    from auditor.custom_rules.loader import CustomRule

    Focused = tuple[tuple[Rule, ...], tuple[Framework, ...], tuple[CustomRule, ...]]

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
    #: the clusters the history store knows (``AgentState``: GOV-006, GOV-007), given by ``auditor serve --store``
    fleet: tuple[Any, ...] | None = None
    fleet_unknown: str | None = None  # why the configured store could not show the fleet (GOV-006/007 unknown)
    custom_rules: tuple[CustomRule, ...] = ()  # compiled CEL rules (--rules-dir, custom_rules_dirs)
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT  # seconds one API request may wait
    cluster_deadline: float | None = DEFAULT_CLUSTER_DEADLINE  # seconds to read one live cluster (None: no limit)
    parallel: int | None = None  # clusters read at once (--parallel); None: min(4, clusters)
    #: how a live cluster's inventory is read (default: ``source.collect(sink)``); ``auditor serve`` passes one
    #: that serves event-triggered rescans from its watch cache (``auditor/server/cache.py``)
    collector: Callable[[ClusterTarget, LiveSource, RawSink | None], Inventory] | None = field(default=None,
                                                                                             compare=False)

    @property
    def live(self) -> bool:
        return not self.snapshots


def live_targets(options: ScanOptions) -> list[ClusterTarget]:
    if options.in_cluster:
        return [in_cluster_target(options.cluster_name)]  # unnamed: its kube-system uid
    return kubeconfig_targets(options.kubeconfig, options.contexts, options.all_contexts)


def secret_policy(options: ScanOptions) -> SecretPolicy:
    if not options.secret_values:
        return SecretPolicy(read_values=False)
    return SecretPolicy(read_values=True, key=load_installation_key(options.fingerprint_key_file))


Collected = tuple[str, Inventory | None, str | None]  # cluster, its inventory or None, the error


def collect_inventories(options: ScanOptions, progress: Progress | None = None,
                        sink_for: Callable[[str], RawSink] | None = None) -> Generator[Collected, None, None]:
    """(cluster, inventory or None, error) for each requested cluster, in the order asked, up to
    ``options.parallel`` live clusters read at once (dumps one after another); one bad cluster never stops the
    rest. Close it when leaving early: live clusters read at once are read in worker processes, stopped then.
    (A scan reads through :func:`judged_clusters`, whose workers also analyse; ``rbac`` needs only this.)"""
    if options.snapshots or sink_for is not None or options.collector is not None or not processes_available():
        tasks = collect_tasks(options, progress, sink_for)
        yield from in_order(tasks, 1 if options.snapshots else scan_workers(options, len(tasks)))
        return
    targets = live_targets(options)
    workers = scan_workers(options, len(targets))
    secrets = secret_policy(options)
    if workers <= 1:
        for target in targets:
            yield _read_live(options, secrets, target, progress, None, lambda _: None, split_read=True)
        return
    lines = ClusterProgress(_shown_by(progress), [t.name for t in targets]) if progress is not None else None
    reads = [(t.name, partial(_live_inventory, options, secrets, t, None)) for t in targets]
    yield from read_in_processes(reads, workers, options.cluster_deadline, lines)


def scan_workers(options: ScanOptions, clusters: int) -> int:
    """Clusters read at once: ``--parallel``, else min(4, clusters) live clusters (a real API server keeps a
    reader waiting, so more than the cores still overlap) and dumps one after another (CPU-bound only: workers
    pay their pickling and gain only on idle cores). ``auditor serve``'s collector (its watch cache) reads one
    at a time. In a scan (:func:`judged_clusters`) each is read, analysed and judged in a worker process
    (docs/failure-model.md has the figures)."""
    if options.collector is not None:
        return 1
    return workers_for(clusters, options.parallel, cpu_bound=bool(options.snapshots))


def collect_tasks(options: ScanOptions, progress: Progress | None = None,
                  sink_for: Callable[[str], RawSink] | None = None) -> list[Callable[[], Collected]]:
    """One task per requested cluster, reading it in the caller's thread: a dump directory or a live cluster."""
    secrets = secret_policy(options)
    if options.snapshots:
        name = options.cluster_name if len(options.snapshots) == 1 else None
        return [partial(_read_dump, path, name, secrets) for path in options.snapshots]
    targets = live_targets(options)
    progress_for: Callable[[str], Progress | None] = lambda _: progress  # noqa: E731
    finished: Callable[[str], None] = lambda _: None  # noqa: E731
    if progress is not None and scan_workers(options, len(targets)) > 1:
        lines = ClusterProgress(_shown_by(progress), [t.name for t in targets])
        progress_for, finished = lines.for_cluster, lines.finished
    return [partial(_read_live, options, secrets, target, progress_for(target.name), sink_for, finished)
            for target in targets]


def _shown_by(progress: Progress) -> Callable[[str], None]:
    """How a progress line of several clusters reaches the terminal: the progress' own ``show``, else as the
    kind of a report without objects."""
    show = getattr(progress, "show", None)
    return show if callable(show) else (lambda line: progress(line, 0))


def _read_dump(path: Path, name: str | None, secrets: SecretPolicy) -> Collected:
    with gc_paused():
        inventory = read_dump(path, name, secrets)
    return inventory.cluster, inventory, None


def _live_inventory(options: ScanOptions, secrets: SecretPolicy, target: ClusterTarget,
                    sink: RawSink | None, progress: Progress | None, split_read: bool = False) -> Inventory:
    """One live cluster's inventory (raises ``ClusterAccessError`` when it cannot be read at all). ``split_read``:
    only where clusters are read one at a time in this process (``collect/split.py``), never in a worker."""
    source = LiveSource(target.api_client, target.name, page_size=options.page_size, progress=progress,
                        backup_namespace=options.config.velero_namespace, secrets=secrets,
                        request_timeout=options.request_timeout, deadline=options.cluster_deadline,
                        split_read=split_read)
    return options.collector(target, source, sink) if options.collector else source.collect(sink)


def _read_live(options: ScanOptions, secrets: SecretPolicy, target: ClusterTarget, progress: Progress | None,
               sink_for: Callable[[str], RawSink] | None, finished: Callable[[str], None],
               split_read: bool = False) -> Collected:
    sink = sink_for(target.name) if sink_for else None
    try:
        return target.name, _live_inventory(options, secrets, target, sink, progress, split_read), None
    except ClusterAccessError as exc:
        return target.name, None, str(exc)
    finally:
        finished(target.name)


def catalogs_for(options: ScanOptions, cluster: str) -> VeleroCatalog | None:
    chosen = None
    for spec in options.catalogs:
        name, sep, path = spec.partition("=")
        if sep and name == cluster:
            return read_catalog(Path(path))
        if not sep:
            chosen = spec
    return read_catalog(Path(chosen)) if chosen else None


#: how a scan reads each cluster's previous protection state (GOV-002): ``Store.previous_state`` when the
#: caller keeps a history store (``auditor.recording``)
PreviousState = Callable[[str, datetime, str | None], ProtectionState | None]  # cluster, as of, kube-system uid


def previous_state(options: ScanOptions, previous: PreviousState | None, cluster: str, as_of: datetime,
                   uid: str | None = None) -> ProtectionState | None:
    state = previous(cluster, as_of, uid) if previous is not None else None
    return state or options.previous.get(cluster)


def run_scan(options: ScanOptions, progress: Progress | None = None,
             previous: PreviousState | None = None) -> ScanResult:
    """Collect and analyse every cluster with the rules that need only it (:class:`ClusterJudge`: in the worker
    processes of clusters read at once, else here), then evaluate the rules with what spans them (fingerprints,
    exceptions), apply the exceptions and score the frameworks. ``previous`` reads each cluster's previous
    state (else ``options.previous``); recording the scan is the caller's business (``auditor.recording``)."""
    as_of = options.as_of or datetime.now(UTC).replace(microsecond=0)
    config = options.config
    every_rule = load_catalog()
    focus = _Focus(every_rule, load_frameworks(), options.custom_rules)
    focus.of(options.framework)  # an unknown --framework is refused before any cluster is read
    judge = ClusterJudge(options, as_of, every_rule, focus, deferred=RUN_RULES | (PREVIOUS_RULES if previous else
                                                                                  frozenset()))
    works = judged_clusters(options, judge, progress)
    with closing(works):  # each settled as its turn comes (while the next ones are read, when read at once)
        done = [judge.settle(work, previous) for work in works]
    analyses = [w.analysis for w in done if w.analysis is not None]
    exception_rules = list(config.exceptions.waivers)
    if config.exceptions.from_annotations:
        exception_rules += [e for w in done for e in w.waivers]
    exception_rules = check_terms(exception_rules, as_of, config.exceptions.max_days)
    run = replace(judge.run, fingerprint_clusters=fingerprint_clusters(analyses), exceptions=tuple(exception_rules))
    # each cluster's rules and frameworks: --framework, else its clusters[] entry's framework, else all of them
    chosen = {a.inventory.cluster: judge.focused(a.inventory.cluster) for a in analyses}
    rules, custom = focus.union(list(chosen.values()) or [focus.of(options.framework)])
    judged: dict[str, list[Finding]] = {}
    registers = []
    for work in done:
        analysis = work.analysis
        if analysis is None:
            continue
        with gc_paused():
            spanning = tuple(r for r in chosen[analysis.inventory.cluster][0] if r.id in RUN_RULES)
            results = judge.in_catalog_order(
                work.results, unevaluated_where_blind(analysis, evaluate(analysis, spanning, config.rules, run)))
            results += work.custom
            judged[analysis.inventory.cluster], register = apply_exceptions(
                results, exception_rules, subjects(analysis.inventory), as_of)
        registers.append(register)
    if any(r.id in LATE_RULES for r in rules):  # the rules about the waivers themselves, with their use across
        merged = merge_registers(registers, exception_rules, as_of)  # every cluster of the run
        late_run = replace(run, exception_use={r.key: n for r, n in merged.matched},
                           exception_unknown=frozenset(r.key for r in merged.undetermined),
                           evaluated_rules=frozenset([*(r.id for r in rules), *(r.rule.id for r in custom)]),
                           unreadable_clusters=tuple(w.name for w in done if w.analysis is None))
        for analysis in analyses:
            late = tuple(r for r in chosen[analysis.inventory.cluster][0] if r.id in LATE_RULES)
            late_results = unevaluated_where_blind(analysis, evaluate(analysis, late, config.rules, late_run))
            results, register = apply_exceptions(late_results, exception_rules, subjects(analysis.inventory), as_of)
            judged[analysis.inventory.cluster] += results
            registers.append(register)
    clusters = []
    for work in done:
        analysis = work.analysis
        if analysis is None:
            clusters.append(ClusterScan(work.name, None, (), work.error))
            continue
        results = judged[analysis.inventory.cluster]
        counts = status_counts(results)  # once per cluster, for every framework
        frameworks = chosen[analysis.inventory.cluster][1]
        compliance = tuple(score_counts(f, counts) for f in frameworks)
        own = {rule: n for rule, n in counts.items() if rule not in FLEET_RULES}
        without_fleet = tuple(score_counts(f, own) for f in frameworks) if len(own) < len(counts) else ()
        clusters.append(ClusterScan(work.name, analysis, tuple(results), None, compliance, without_fleet))
    return ScanResult(as_of, tuple(clusters), rules + tuple(r.rule for r in custom),
                      merge_registers(registers, exception_rules, as_of))


#: rules that read what spans the run's clusters (``RunContext.fingerprint_clusters``, ``.exceptions``): judged
#: here once every cluster is analysed; every other rule but the late ones is judged with its cluster
RUN_RULES = frozenset({"CRD-005", "GOV-004"})
#: rules that read a cluster's previous state (GOV-002): judged here when a history store gives it, because the
#: store's connections stay in this process (a forked child must not use them)
PREVIOUS_RULES = frozenset({"GOV-002"})


@dataclass(frozen=True)
class ClusterWork:
    """One cluster's share of a scan, done where it was read (a worker process, or here), and what comes back
    from a worker: its analysis (the outputs and the store read it), the results of the rules that need only
    it, and the waivers its objects declare. Without an analysis, ``error`` says why."""

    name: str
    analysis: ClusterAnalysis | None
    error: str | None = None
    results: tuple[Finding, ...] = ()  # its own rules' results, in catalog order, the blind ones not evaluated
    custom: tuple[Finding, ...] = ()  # its custom (CEL) rules' results
    waivers: tuple[ExceptionRule, ...] = ()  # from its objects' annotations (exceptions.from_annotations)


class ClusterJudge:
    """Analyses one cluster and judges the rules that need only it. Made before any worker is forked, so each
    child runs this same code on its own cluster: the document is the same whether clusters are read at once
    or one after another. ``deferred``: rules left for this process (:data:`RUN_RULES`, :data:`PREVIOUS_RULES`)."""

    def __init__(self, options: ScanOptions, as_of: datetime, every_rule: tuple[Rule, ...], focus: _Focus,
                 deferred: frozenset[str]) -> None:
        self.options, self.as_of, self.focus, self.deferred = options, as_of, focus, deferred
        self.run = RunContext(catalog=every_rule, fleet=options.fleet, fleet_unknown=options.fleet_unknown)
        self.order = {rule.id: i for i, rule in enumerate(every_rule)}

    def focused(self, cluster: str) -> Focused:
        """The cluster's rules and frameworks: --framework, else its clusters[] entry's, else all of them."""
        return self.focus.of(self.options.framework or self.options.config.for_cluster(cluster).framework)

    def __call__(self, name: str, inventory: Inventory | None, error: str | None) -> ClusterWork:
        if inventory is None:
            return ClusterWork(name, None, error)
        options, config = self.options, self.options.config
        catalog = catalogs_for(options, inventory.cluster)
        inventory = with_etcd_manifests(inventory, config.etcd)  # the executor's etcd snapshots (SYS-002)
        cluster = inventory.cluster
        with gc_paused():
            try:
                analysis = analyse_cluster(inventory, config, self.as_of, catalog, options.previous.get(cluster))
            except AuditorError:
                raise
            except Exception as exc:  # a defect on this cluster's data must not cost the other clusters
                log.warning("analysis of cluster %s failed: %s: %.200s", cluster, type(exc).__name__, exc)
                log.debug("analysis traceback", exc_info=True)
                why = f"the analysis failed on this cluster's data: {type(exc).__name__}: {str(exc)[:300]}"
                return ClusterWork(cluster, None, why)
            rules, _, custom = self.focused(cluster)
            own = tuple(r for r in rules if r.id not in LATE_RULES and r.id not in self.deferred)
            results = unevaluated_where_blind(analysis, evaluate(analysis, own, config.rules, self.run))
            custom_results: list[Finding] = []
            if custom:
                from auditor.custom_rules.evaluate import evaluate_custom  # deferred: CEL (0.5 s) if rules

                custom_results = evaluate_custom(analysis, custom)
            waivers = annotation_exceptions(inventory) if config.exceptions.from_annotations else []
        return ClusterWork(cluster, analysis, None, tuple(results), tuple(custom_results), tuple(waivers))

    def settle(self, work: ClusterWork, previous: PreviousState | None) -> ClusterWork:
        """In this process, as the cluster's turn comes: its previous state from the history store, and the
        rules that read it."""
        analysis = work.analysis
        if previous is None or analysis is None:
            return work
        cluster = analysis.inventory.cluster
        with gc_paused():
            uid = cluster_uid(analysis.inventory.namespaces)
            state = previous_state(self.options, previous, cluster, self.as_of, uid)
            analysis = replace(analysis, previous=state)
            rules = tuple(r for r in self.focused(cluster)[0] if r.id in PREVIOUS_RULES and r.id not in LATE_RULES)
            later = unevaluated_where_blind(analysis, evaluate(analysis, rules, self.options.config.rules, self.run))
        return replace(work, analysis=analysis, results=tuple(self.in_catalog_order(work.results, later)))

    def in_catalog_order(self, own: Sequence[Finding], later: list[Finding]) -> list[Finding]:
        """Results judged in two places, in the order one evaluation of every rule gives (catalog order; each
        rule's own results kept in theirs: the sort is stable, and merges two sorted runs in linear time)."""
        if not later:
            return list(own)
        return sorted([*own, *later], key=lambda f: self.order[f.rule_id])


def judged_clusters(options: ScanOptions, judge: ClusterJudge,
                    progress: Progress | None = None) -> Generator[ClusterWork, None, None]:
    """Each requested cluster's :class:`ClusterWork`, in the order asked. Clusters read at once are read,
    analysed and judged in worker processes (``collect.parallel.read_in_processes``), live clusters and dumps
    alike, each sending back its work pickled; one at a time (or without ``fork``) here, as each inventory
    comes. Close it when leaving early: the worker processes are stopped then."""
    if options.collector is None and processes_available():
        secrets = secret_policy(options)
        tasks: list[tuple[str, ClusterRead[ClusterWork]]]
        if options.snapshots:
            name = options.cluster_name if len(options.snapshots) == 1 else None
            tasks = [(str(p), partial(_judged_dump, judge, p, name, secrets)) for p in options.snapshots]
        else:
            targets = live_targets(options)
            tasks = [(t.name, partial(_judged_live, judge, options, secrets, t)) for t in targets]
        workers = scan_workers(options, len(tasks))
        if workers > 1:
            _warm(options)
            lines = None
            if progress is not None and not options.snapshots:
                lines = ClusterProgress(_shown_by(progress), [name for name, _ in tasks])
            deadline = None if options.snapshots else options.cluster_deadline
            for name, work, error in read_in_processes(tasks, workers, deadline, lines):
                yield work if work is not None else ClusterWork(name, None, error)
            return
    collected = collect_inventories(options, progress)
    with closing(collected):
        for one in collected:
            yield judge(*one)


def _judged_live(judge: ClusterJudge, options: ScanOptions, secrets: SecretPolicy, target: ClusterTarget,
                 progress: Progress | None) -> ClusterWork:
    """A worker's live cluster: read (an unreachable one is its error row), analysed and judged."""
    try:
        inventory = _live_inventory(options, secrets, target, None, progress)
    except ClusterAccessError as exc:
        return ClusterWork(target.name, None, str(exc))
    return judge(target.name, inventory, None)


def _judged_dump(judge: ClusterJudge, path: Path, name: str | None, secrets: SecretPolicy,
                 _: Progress | None) -> ClusterWork:
    """A worker's dump: read (bad input stops the run, as one after another), analysed and judged."""
    return judge(*_read_dump(path, name, secrets))


def _warm(options: ScanOptions) -> None:
    """Import here, once, what each worker would otherwise import on its own: the CEL evaluator (0.5 s) when
    there are custom rules, the S3 client when etcd manifests come from S3."""
    if options.custom_rules:
        importlib.import_module("auditor.custom_rules.evaluate")
    if any(s.s3 for s in options.config.etcd.snapshots):
        importlib.import_module("auditor.collect.s3")


class _Focus:
    """The rules, frameworks and custom rules of a framework focus (None: every framework), each made once."""

    def __init__(self, rules: tuple[Rule, ...], frameworks: tuple[Framework, ...],
                 custom: tuple[CustomRule, ...]) -> None:
        self.rules, self.frameworks, self.custom = rules, frameworks, custom
        self._made: dict[str | None, Focused] = {}

    def of(self, framework: str | None) -> Focused:
        if framework not in self._made:
            self._made[framework] = self._make(framework)
        return self._made[framework]

    def _make(self, framework: str | None) -> Focused:
        rules, frameworks = self.rules, self.frameworks
        if framework:
            chosen = [f for f in frameworks if f.id == framework]
            if not chosen:
                raise ConfigError(f"unknown framework {framework!r} (known: {', '.join(f.id for f in frameworks)})")
            frameworks = tuple(chosen)
            mapped = {rule for c in chosen[0].controls for rule in c.rules}
            rules = tuple(r for r in rules if r.id in mapped)
        custom = tuple(r for r in self.custom if not framework or framework in r.rule.frameworks)
        if custom:
            from auditor.custom_rules.frameworks import with_custom_rules  # deferred: CEL, if custom rules

            frameworks = with_custom_rules(frameworks, custom)
        return rules, frameworks, custom

    def union(self, chosen: list[Focused]) -> tuple[tuple[Rule, ...], tuple[CustomRule, ...]]:
        """Every rule some cluster is judged by, in catalog order (the scan's rule list)."""
        rule_ids = {r.id for rules, _, _ in chosen for r in rules}
        custom_ids = {r.rule.id for _, _, custom in chosen for r in custom}
        return (tuple(r for r in self.rules if r.id in rule_ids),
                tuple(r for r in self.custom if r.rule.id in custom_ids))


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
