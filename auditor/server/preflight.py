"""``auditor serve``'s restore preflight pairs: on every scan interval, the newest good backup of each
configured schedule (in the scanned source cluster) is judged against its DR target (docs/preflight.md).

A pair is re-evaluated at most once per interval (event-triggered rescans reuse the last outcome): reading a
target cluster costs as much as scanning it. A pair that cannot be evaluated (no good backup yet, target
unreachable, bad catalog) is ``ready=None`` with the reason, never ready.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from auditor.analyse.exceptions import apply as apply_exceptions
from auditor.analyse.subjects import subjects
from auditor.checks.registry import RunContext, evaluate
from auditor.errors import AuditorError
from auditor.model.preflight import PreflightOutcome
from auditor.preflight import Cluster, read_cluster, run_preflight

if TYPE_CHECKING:
    from auditor.analyse.scan import ScanResult
    from auditor.config import PreflightPair

log = logging.getLogger(__name__)
GOOD_PHASES = ("Completed", "PartiallyFailed")


def pair_target(pair: PreflightPair) -> str:
    return pair.name or pair.target_context or (pair.target_snapshot.name if pair.target_snapshot else "target")


def newest_good_backup(result: ScanResult, pair: PreflightPair) -> tuple[Any, str] | None:
    """(source inventory, backup name) of the schedule's newest Completed/PartiallyFailed backup."""
    namespace, name = pair.schedule.split("/", 1)
    for scan in result.clusters:
        if scan.analysis is None or (pair.source_cluster and scan.name != pair.source_cluster):
            continue
        inv = scan.analysis.inventory
        for backup in inv.backups_by_schedule.get((namespace, name), ()):
            if backup.phase in GOOD_PHASES:
                return inv, backup.meta.name
    return None


def evaluate_pair(pair: PreflightPair, result: ScanResult, kubeconfig: str | None, now: datetime) -> PreflightOutcome:
    target_name = pair_target(pair)
    found = newest_good_backup(result, pair)
    if found is None:
        return PreflightOutcome(pair.schedule, target_name, now, None, pair.source_cluster or "",
                                error=f"no Completed or PartiallyFailed backup of {pair.schedule} in the scan")
    inventory, backup = found
    namespace, cluster = pair.schedule.split("/", 1)[0], inventory.cluster
    try:
        target = read_cluster(pair.target_snapshot, pair.target_context, kubeconfig, discovery=True)
        report = run_preflight(f"{namespace}/{backup}", Cluster(inventory.cluster, inventory), pair.velero_catalog,
                               target, now, dict(pair.namespace_mapping), dict(pair.storage_class_mapping))
    except AuditorError as exc:
        return PreflightOutcome(pair.schedule, target_name, now, None, cluster, backup=backup, error=str(exc))
    doc = report.document()
    doc["target"] = target_name
    return PreflightOutcome(pair.schedule, target_name, now, report.ready, cluster, backup=backup,
                            blockers=len(doc["blockers"]), warnings=len(doc["warnings"]),
                            unknown=len(doc["unknown"]), document=doc)


class PreflightRunner:
    """Keeps each pair's newest outcome; re-evaluates a pair once its outcome is ``interval`` seconds old."""

    def __init__(self, pairs: tuple[PreflightPair, ...], kubeconfig: str | None, interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pairs = pairs
        self.kubeconfig = kubeconfig
        self.interval = interval
        self.clock = clock
        self._last: dict[int, tuple[float, PreflightOutcome]] = {}

    def run(self, result: ScanResult) -> tuple[PreflightOutcome, ...]:
        outcomes = []
        for index, pair in enumerate(self.pairs):
            previous = self._last.get(index)
            if previous is not None and self.clock() - previous[0] < self.interval:
                outcomes.append(previous[1])
                continue
            try:
                outcome = evaluate_pair(pair, result, self.kubeconfig, result.as_of or datetime.now(UTC))
            except Exception as exc:  # a bug in one pair must not stop the scans
                log.exception("preflight of %s failed", pair.schedule)
                outcome = PreflightOutcome(pair.schedule, pair_target(pair), datetime.now(UTC), None,
                                           error=f"unexpected {type(exc).__name__}: {exc}")
            if outcome.ready is False:
                log.warning("preflight %s -> %s: not ready (%d blocker(s), %d unknown)", pair.schedule,
                            outcome.target, outcome.blockers, outcome.unknown)
            self._last[index] = (self.clock(), outcome)
            outcomes.append(outcome)
        return tuple(outcomes)


def with_findings(result: ScanResult, outcomes: tuple[PreflightOutcome, ...], overrides: dict[str, Any],
                  exceptions: tuple[Any, ...]) -> ScanResult:
    """The scan with the outcomes and rule PRE-001 judged on them (one result per pair, on its source
    cluster), waivers applied as the pipeline applies them."""
    rules = [r for r in result.rules if r.id == "PRE-001"]
    clusters = []
    for scan in result.clusters:
        if scan.analysis is None or not rules:
            clusters.append(scan)
            continue
        judged = evaluate(scan.analysis, rules, overrides, RunContext(preflights=outcomes))
        judged, _ = apply_exceptions(judged, list(exceptions), subjects(scan.analysis.inventory), result.as_of)
        kept = tuple(r for r in scan.results if r.rule_id != "PRE-001")
        clusters.append(replace(scan, results=kept + tuple(judged)))
    return replace(result, clusters=tuple(clusters), preflights=outcomes)

