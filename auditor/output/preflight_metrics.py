"""Prometheus series of ``auditor serve``'s restore preflight pairs (docs/preflight.md, docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from auditor.analyse.scan import ScanResult
from auditor.output.labels import label  # control characters replaced, length bounded

PREFIX = "backup_auditor_"


def preflight_families(result: ScanResult) -> Iterator[Metric]:
    """``preflight_ready`` (1 ready, 0 not ready, -1 not evaluated), blockers, unknown checks and when."""
    labels = ["cluster", "schedule", "target"]
    ready = GaugeMetricFamily(PREFIX + "preflight_ready", "1 when the schedule's newest good backup would restore "
                              "into the DR target (no blockers, nothing unknown), 0 when not, -1 when the pair "
                              "could not be evaluated (no good backup, target unreachable).", labels=labels)
    blockers = GaugeMetricFamily(PREFIX + "preflight_blockers", "Blockers of the newest preflight of the pair.",
                                 labels=labels)
    unknown = GaugeMetricFamily(PREFIX + "preflight_unknown_checks", "Checks of the newest preflight of the pair "
                                "that could not be evaluated (the target could not be read in full).", labels=labels)
    when = GaugeMetricFamily(PREFIX + "preflight_timestamp_seconds", "Unix time the pair was last evaluated.",
                             labels=labels)
    for p in result.preflights:
        key = [label(p.cluster), label(p.schedule), label(p.target)]
        ready.add_metric(key, -1.0 if p.ready is None else float(p.ready))
        blockers.add_metric(key, float(p.blockers))
        unknown.add_metric(key, float(p.unknown))
        when.add_metric(key, p.evaluated_at.timestamp())
    yield from (ready, blockers, unknown, when)
