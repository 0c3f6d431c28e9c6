"""Prometheus metrics computed from one immutable scan result (``auditor serve``'s ``/metrics``).

A custom ``Collector`` reads a frozen :class:`MetricsInput`, so a scrape sees one scan or the next,
never a mix. The exposition is rendered once per scan (:class:`Exposition`): a scrape only copies
bytes, whatever the cluster's size. Each render uses its own ``CollectorRegistry``, never the global
one. Families and labels are documented in ``docs/metrics.md``; labels are bounded (no timestamps,
backup names or free text) and every value taken from a cluster is capped and sanitised.
"""

from __future__ import annotations

import gzip
import platform
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from auditor import __version__
from auditor.analyse.coverage import ClusterAnalysis
from auditor.analyse.etcd import etcd_evidence, etcd_rpo
from auditor.analyse.scan import ClusterScan, ScanResult
from auditor.analyse.schedules import backup_time
from auditor.model.analysis import STATUSES
from auditor.output.labels import label
from auditor.output.preflight_metrics import preflight_families

PREFIX = "backup_auditor_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Velero's Backup phases (``pkg/apis/velero/v1/backup_types.go``); anything else is exported as ``Unknown``.
BACKUP_PHASES = ("New", "FailedValidation", "Queued", "ReadyToStart", "InProgress", "WaitingForPluginOperations",
                 "WaitingForPluginOperationsPartiallyFailed", "Finalizing", "FinalizingPartiallyFailed",
                 "Completed", "PartiallyFailed", "Failed", "Deleting", "Unknown")
#: The phases a finished backup ends in: ``schedule_last_backup_phase`` has one 0/1 series per phase.
FINISHED_PHASES = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
FINDING_STATUSES = ("open", "excepted")
CONTROL_STATUSES = ("pass", "fail", "not-evaluated", "excepted")
INVENTORY_COUNTS = ("namespaces", "pvcs", "pvs", "pods", "schedules", "backups")


def enum_label(value: str | None, allowed: Iterable[str], other: str = "Unknown") -> str:
    """A value from a closed set, or ``other``: phases and modes are written by controllers, not trusted."""
    return value if value in set(allowed) else other


def _ts(t: datetime | None) -> float | None:
    return t.timestamp() if t is not None else None


def _bool(b: bool) -> float:
    return 1.0 if b else 0.0


@dataclass(frozen=True)
class ClusterHealth:
    """How the newest scan of one cluster went: kept by the server across scans (the counters)."""

    cluster: str
    finished_at: float  # Unix time the scan finished (wall clock, also with a fixed --as-of)
    duration_seconds: float
    success: bool  # the cluster could be read at all
    interval_seconds: float  # the configured rescan interval (for the dead man's switch)
    scans_succeeded: int = 0
    scans_failed: int = 0
    error: str | None = None  # never exported as a label; the JSON document carries it


@dataclass(frozen=True)
class MetricsInput:
    """Everything one exposition is computed from. Immutable: the collector never sees a partial scan."""

    result: ScanResult
    health: tuple[ClusterHealth, ...] = ()
    per_volume: bool = True


class ScanCollector(Collector):
    """prometheus_client collector over one :class:`MetricsInput`."""

    def __init__(self, data: MetricsInput) -> None:
        self.data = data

    def describe(self) -> list[Metric]:
        return []  # registering must not trigger a collect

    def collect(self) -> Iterator[Metric]:
        yield from _build_info()
        yield from _scan_health(self.data)
        scans = [c for c in self.data.result.clusters if c.analysis is not None]
        yield from _volumes([c.analysis for c in scans if c.analysis], self.data.per_volume)
        yield from _schedules([c.analysis for c in scans if c.analysis])
        yield from _findings(self.data.result, scans)
        yield from _compliance(scans)
        yield from _storage_locations([c.analysis for c in scans if c.analysis])
        yield from _credentials([c.analysis for c in scans if c.analysis])
        yield from _velero_servers([c.analysis for c in scans if c.analysis])
        yield from _etcd([c.analysis for c in scans if c.analysis])
        yield from preflight_families(self.data.result)


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=list(labels))


def _build_info() -> Iterator[Metric]:
    g = _gauge("build_info", "backup-auditor's version (always 1).", ["version", "python_version"])
    g.add_metric([__version__, platform.python_version()], 1.0)
    yield g


def _scan_health(data: MetricsInput) -> Iterator[Metric]:
    labels = ["cluster"]
    ts = _gauge("scan_timestamp_seconds", "Unix time the newest scan of the cluster finished, successful or not.",
                labels)
    duration = _gauge("scan_duration_seconds", "How long the newest scan of the cluster took.", labels)
    success = _gauge("scan_success", "1 when the newest scan could read the cluster, 0 when it failed.", labels)
    interval = _gauge("scan_interval_seconds", "The configured interval between full scans.", labels)
    scans = CounterMetricFamily(PREFIX + "scans", "Scans of the cluster since the process started, by result.",
                                labels=["cluster", "result"])
    for h in data.health:
        c = label(h.cluster)
        ts.add_metric([c], h.finished_at)
        duration.add_metric([c], h.duration_seconds)
        success.add_metric([c], _bool(h.success))
        interval.add_metric([c], h.interval_seconds)
        scans.add_metric([c, "success"], float(h.scans_succeeded))
        scans.add_metric([c, "error"], float(h.scans_failed))
    complete = _gauge("scan_complete", "1 when the newest verdicts of the cluster rest on everything the scan "
                      "needed (no gaps that hide data), 0 otherwise.", labels)
    as_of = _gauge("scan_as_of_timestamp_seconds", "Unix time the verdicts are judged at (now, or --as-of).", labels)
    gaps = _gauge("scan_gaps", "Resources the scan could not read, by resource and reason "
                  "(forbidden, error, not-found, not-served).", ["cluster", "resource", "reason"])
    objects = _gauge("inventory_objects", "Objects read from the cluster, by resource.", ["cluster", "resource"])
    for scan in data.result.clusters:
        c = label(scan.name)
        a = scan.analysis
        if a is None:
            complete.add_metric([c], 0.0)
            continue
        inv = a.inventory
        complete.add_metric([c], _bool(inv.complete))
        as_of.add_metric([c], a.as_of.timestamp())
        for (resource, reason), n in sorted(Counter((g.resource, g.reason) for g in inv.gaps).items()):
            gaps.add_metric([c, label(resource), label(reason)], float(n))
        for resource in INVENTORY_COUNTS:
            objects.add_metric([c, resource], float(len(getattr(inv, resource))))
    yield from (ts, duration, success, complete, as_of, interval, scans, gaps, objects)


def _volumes(analyses: list[ClusterAnalysis], per_volume: bool) -> Iterator[Metric]:
    volumes = _gauge("volumes", "PersistentVolumeClaims by protection status (protected, stale, unprotected, "
                     "unknown); audited=false for namespaces the policy excludes.",
                     ["cluster", "namespace", "status", "audited"])
    oldest = _gauge("namespace_oldest_last_recovery_point_timestamp_seconds",
                    "Of the namespace's volumes that have a recovery point, the oldest newest-recovery-point time.",
                    ["cluster", "namespace"])
    for a in analyses:
        cluster = label(a.inventory.cluster)
        counts: dict[tuple[str, bool], Counter[str]] = defaultdict(Counter)
        newest_by_ns: dict[str, float] = {}
        for v in a.volumes:
            counts[(v.namespace, v.audited)][v.status] += 1
            t = _ts(v.last_success)
            if t is not None and (v.namespace not in newest_by_ns or t < newest_by_ns[v.namespace]):
                newest_by_ns[v.namespace] = t
        for (ns, audited), by_status in sorted(counts.items()):
            for status in STATUSES:
                volumes.add_metric([cluster, label(ns), status, "true" if audited else "false"],
                                   float(by_status.get(status, 0)))
        for ns, t in sorted(newest_by_ns.items()):
            oldest.add_metric([cluster, label(ns)], t)
    yield volumes
    yield oldest
    if not per_volume:
        return
    keys = ["cluster", "namespace", "pvc"]
    state = _gauge("volume_status", "1 for the volume's protection status (one series per volume).",
                   [*keys, "status"])
    last = _gauge("volume_last_recovery_point_timestamp_seconds",
                  "Unix time of the volume's newest proven recovery point (absent when it has none).", keys)
    rpo = _gauge("volume_rpo_seconds", "The recovery point objective of the policy that applies to the volume.",
                 [*keys, "policy"])
    for a in analyses:
        cluster = label(a.inventory.cluster)
        for v in a.volumes:
            k = [cluster, label(v.namespace), label(v.pvc)]
            state.add_metric([*k, v.status], 1.0)
            t = _ts(v.last_success)
            if t is not None:
                last.add_metric(k, t)
            rpo.add_metric([*k, label(v.policy.name)], v.policy.rpo)
    yield from (state, last, rpo)


def _schedules(analyses: list[ClusterAnalysis]) -> Iterator[Metric]:
    keys = ["cluster", "namespace", "schedule"]
    paused = _gauge("schedule_paused", "1 when the Velero schedule is paused (spec.paused).", keys)
    valid = _gauge("schedule_valid", "1 when the schedule's cron parses and it did not fail validation.", keys)
    interval = _gauge("schedule_expected_interval_seconds",
                      "Seconds between the schedule's next two cron fire times.", keys)
    success = _gauge("schedule_last_success_timestamp_seconds",
                     "Unix time the schedule's newest Completed backup started (its data capture time).", keys)
    latest = _gauge("schedule_last_backup_timestamp_seconds",
                    "Unix time the schedule's newest backup, in any phase, was created.", keys)
    phase = _gauge("schedule_last_backup_phase",
                   "1 for the phase of the schedule's newest finished backup (Completed, PartiallyFailed, Failed, "
                   "FailedValidation); all 0 when none finished.", [*keys, "phase"])
    missed = _gauge("schedule_missed_runs", "Cron fire times since the newest backup was created, capped at 3 "
                    "(enabled schedules only).", keys)
    backups = _gauge("backups", "Velero Backup objects by phase.", ["cluster", "namespace", "phase"])
    for a in analyses:
        cluster = label(a.inventory.cluster)
        for s in a.schedules.values():
            k = [cluster, label(s.schedule.meta.namespace), label(s.schedule.meta.name)]
            paused.add_metric(k, _bool(s.paused))
            valid.add_metric(k, _bool(s.cron is not None and not s.failed_validation))
            expected = s.interval(a.as_of)
            if expected is not None:
                interval.add_metric(k, expected)
            ok = s.last_success
            if ok is not None and (t := _ts(backup_time(ok))) is not None:
                success.add_metric(k, t)
            newest = s.latest
            if newest is not None and (t := _ts(newest.meta.created or newest.started)) is not None:
                latest.add_metric(k, t)
            finished = s.latest_terminal
            for p in FINISHED_PHASES:
                phase.add_metric([*k, p], _bool(finished is not None and finished.phase == p))
            if s.enabled:
                missed.add_metric(k, float(s.missed_runs(a.as_of)))
        by_ns: dict[str, Counter[str]] = defaultdict(Counter)
        for b in a.inventory.backups:
            by_ns[b.meta.namespace or ""][enum_label(b.phase, BACKUP_PHASES)] += 1
        for ns in sorted(by_ns):
            for p in BACKUP_PHASES:
                backups.add_metric([cluster, label(ns), p], float(by_ns[ns].get(p, 0)))
    yield from (paused, valid, interval, success, latest, phase, missed, backups)


def _findings(result: ScanResult, scans: list[ClusterScan]) -> Iterator[Metric]:
    findings = _gauge("findings", "Rule findings by rule, severity and status (open, excepted).",
                      ["cluster", "rule", "severity", "status"])
    errors = _gauge("rule_errors", "Rule checks that crashed in the newest scan (the scan goes on).",
                    ["cluster", "rule"])
    for scan in scans:
        cluster = label(scan.name)
        counts = Counter((r.rule_id, r.status) for r in scan.results)
        for rule in result.rules:
            for status in FINDING_STATUSES:
                findings.add_metric([cluster, rule.id, rule.severity, status], float(counts.get((rule.id, status), 0)))
            errors.add_metric([cluster, rule.id], float(counts.get((rule.id, "error"), 0)))
    yield findings
    yield errors
    ages = _gauge("finding_open_age_seconds", "How long the oldest open finding of each rule has been open (since "
                  "it was first seen by a recorded scan; only with a history store).", ["cluster", "rule", "severity"])
    for age in result.finding_ages:
        ages.add_metric([label(age.cluster), age.rule_id, age.severity], age.seconds)
    yield ages
    runs = CounterMetricFamily("backup_auditor_executor_runs", "Executor runs recorded in the history store, by "
                               "backend (the object kind it creates) and outcome (only with a store).",
                               labels=["backend", "outcome"])
    durations = SummaryMetricFamily("backup_auditor_executor_run_duration_seconds", "How long executor runs took, "
                                    "from being recorded to their end, by backend and outcome (runs that ended; only "
                                    "with a store).", labels=["backend", "outcome"])
    for stats in result.executor_runs:
        runs.add_metric([stats.backend, stats.outcome], float(stats.count))
        if stats.seconds_count:
            durations.add_metric([stats.backend, stats.outcome], stats.seconds_count, stats.seconds_sum)
    yield runs
    yield durations


def _compliance(scans: list[ClusterScan]) -> Iterator[Metric]:
    keys = ["cluster", "framework"]
    score = _gauge("compliance_score_ratio", "Share of evaluated checks of the framework's controls that pass "
                   "(0-1; absent when nothing could be evaluated).", keys)
    coverage = _gauge("compliance_coverage_ratio", "Share of the framework's checks that could be evaluated (0-1).",
                      keys)
    controls = _gauge("compliance_controls", "The framework's controls by status.", [*keys, "status"])
    for scan in scans:
        cluster = label(scan.name)
        for fw in scan.compliance:
            k = [cluster, label(fw.framework)]
            if fw.score is not None:
                score.add_metric(k, fw.score)
            if fw.coverage is not None:
                coverage.add_metric(k, fw.coverage)
            by_status = Counter(c.status for c in fw.controls)
            for status in CONTROL_STATUSES:
                controls.add_metric([*k, status], float(by_status.get(status, 0)))
    yield from (score, coverage, controls)


def _storage_locations(analyses: list[ClusterAnalysis]) -> Iterator[Metric]:
    keys = ["cluster", "namespace", "location"]
    available = _gauge("storage_location_available",
                       "1 when the BackupStorageLocation's phase is Available, 0 otherwise.", keys)
    info = _gauge("storage_location_info", "The BackupStorageLocation's provider, access mode and default flag "
                  "(always 1).", [*keys, "provider", "access_mode", "default"])
    validated = _gauge("storage_location_last_validated_timestamp_seconds",
                       "Unix time Velero last validated the location.", keys)
    for a in analyses:
        cluster = label(a.inventory.cluster)
        for bsl in a.inventory.bsls:
            k = [cluster, label(bsl.meta.namespace), label(bsl.meta.name)]
            available.add_metric(k, _bool(bsl.phase == "Available"))
            info.add_metric([*k, label(bsl.provider), enum_label(bsl.access_mode, ("ReadWrite", "ReadOnly")),
                             "true" if bsl.default else "false"], 1.0)
            if (t := _ts(bsl.last_validated)) is not None:
                validated.add_metric(k, t)
    yield from (available, info, validated)


def _credentials(analyses: list[ClusterAnalysis]) -> Iterator[Metric]:
    keys = ["cluster", "namespace", "secret", "key", "tool", "kind"]
    rotated = _gauge("credential_last_rotated_timestamp_seconds",
                     "Unix time the backup credential was created or last changed (age = time() - value).", keys)
    default = _gauge("credential_default_password", "1 when the repository password is Velero's well-known "
                     "default.", keys)
    for a in analyses:
        cluster = label(a.inventory.cluster)
        for cred in a.credentials:
            k = [cluster, label(cred.namespace), label(cred.name), label(cred.key), label(cred.tool),
                 label(cred.kind)]
            if (t := _ts(cred.rotated)) is not None:
                rotated.add_metric(k, t)
            default.add_metric(k, _bool(cred.default_password))
    yield rotated
    yield default


def _velero_servers(analyses: list[ClusterAnalysis]) -> Iterator[Metric]:
    keys = ["cluster", "namespace"]
    up = _gauge("velero_server_up", "1 when the Velero server Deployment has a ready replica.", keys)
    desired = _gauge("velero_node_agent_desired_nodes", "Nodes the node-agent DaemonSet should run on.", keys)
    ready = _gauge("velero_node_agent_ready_nodes", "Nodes with a running, ready node-agent pod.", keys)
    for a in analyses:
        cluster = label(a.inventory.cluster)
        for ns, server in sorted(a.servers.items()):
            k = [cluster, label(ns)]
            up.add_metric(k, _bool(server.running))
            if server.node_agent is not None:
                desired.add_metric(k, float(server.node_agent.replicas or 0))
                ready.add_metric(k, float(len(server.node_agent_nodes)))
    yield from (up, desired, ready)


def _etcd(analyses: list[ClusterAnalysis]) -> Iterator[Metric]:
    """etcd snapshot evidence as SYS-002 reads it, one series per cluster, so alerts can compare age and RPO."""
    keys = ["cluster"]
    age = _gauge("etcd_snapshot_age_seconds", "Age at scan time of the cluster's newest verified etcd snapshot "
                 "(only clusters that have one).", keys)
    rpo = _gauge("etcd_snapshot_rpo_seconds", "The etcd recovery point objective rule SYS-002 judges by.", keys)
    managed = _gauge("etcd_self_managed", "1 when the cluster runs its own etcd (SYS-002 expects a snapshot), 0 "
                     "when none is visible; absent when no snapshot was found and the evidence could not be read.",
                     keys)
    for a in analyses:
        cluster = label(a.inventory.cluster)
        evidence = etcd_evidence(a.inventory)
        rpo.add_metric([cluster], etcd_rpo(a.config))
        if (seconds := evidence.age(a.as_of)) is not None:
            age.add_metric([cluster], seconds)
        if evidence.newest is not None or not evidence.blind:  # SYS-002 is not evaluated otherwise
            managed.add_metric([cluster], _bool(evidence.self_managed is not None))
    yield from (age, rpo, managed)


#: How a scheduled executor job's run ended (``skipped`` runs, already done elsewhere, are not exported).
JOB_OUTCOMES = ("succeeded", "failed", "submitted")
#: Why the executor's Lease could not be read or written (see ``auditor.server.leader``).
ELECTION_ERRORS = ("forbidden", "not-found", "error")


@dataclass(frozen=True)
class ExecutorState:
    """The scheduled executor of this process: whether it holds the Lease, and each job's newest runs."""

    leader: bool
    election_errors: tuple[tuple[str, int], ...] = ()  # (reason, count since start)
    last_runs: tuple[tuple[str, str, float], ...] = ()  # (job, outcome, Unix time the run ended)


def executor_families(state: ExecutorState | None) -> list[Metric]:
    """Per-process executor series (rendered per scrape); the families exist, empty, when no job is configured."""
    leader = _gauge("leader", "1 when this replica holds the executor Lease and runs the scheduled jobs, 0 "
                    "otherwise (only when jobs are configured).")
    errors = CounterMetricFamily(PREFIX + "leader_election_errors", "Failed reads or writes of the executor Lease "
                                 "by reason (forbidden, not-found, error); jobs do not run while they fail.",
                                 labels=["reason"])
    last = _gauge("executor_job_last_run_timestamp_seconds", "Unix time a scheduled executor job's newest run "
                  "with this outcome ended (succeeded, failed, submitted).", ["job", "outcome"])
    if state is not None:
        leader.add_metric([], _bool(state.leader))
        counts = dict(state.election_errors)
        for reason in ELECTION_ERRORS:
            errors.add_metric([reason], float(counts.get(reason, 0)))
        for job, outcome, t in state.last_runs:
            last.add_metric([label(job), enum_label(outcome, JOB_OUTCOMES, "failed")], t)
    return [leader, errors, last]


def render(data: MetricsInput) -> bytes:
    """The text exposition (format 0.0.4) of one input, through a registry of its own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScanCollector(data))
    return generate_latest(registry)


class Exposition:
    """Rendered once per scan; scrapes copy bytes. The gzip form is made on first request and kept."""

    def __init__(self, data: MetricsInput) -> None:
        self.data = data
        self.text = render(data)
        self._gzip: bytes | None = None
        self._lock = threading.Lock()

    def gzipped(self) -> bytes:
        with self._lock:
            if self._gzip is None:
                self._gzip = gzip.compress(self.text, compresslevel=6)
            return self._gzip
