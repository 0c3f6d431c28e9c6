"""A scan with a history store: who runs a scan (the CLI, ``auditor serve``) records it, not the pipeline.

With ``ScanOptions.store`` set, each cluster is compared with its previous scan (GOV-002), judged on the
clusters the store knows (GOV-006 silent agents, GOV-007 one name claimed by two clusters), the scan is
recorded with its document (retention from ``history.retention``), and the result carries what the store
knows beyond one scan: how long findings have been open, and the executor's runs.
"""

from __future__ import annotations

from dataclasses import replace

from auditor.analyse.scan import ScanResult
from auditor.collect.live import Progress
from auditor.errors import StoreError
from auditor.model.runs import RunRecord
from auditor.model.scan import FindingAge, RunStats
from auditor.output.document import build_document
from auditor.pipeline import ScanOptions, run_scan

#: executor runs a result carries for reports (newest first)
RECENT_RUNS = 50


def scan_and_record(options: ScanOptions, progress: Progress | None = None) -> ScanResult:
    """The scan; with a history store, compared with each cluster's previous scan and recorded."""
    if options.store is None:
        return run_scan(options, progress)
    from auditor.store import Store  # deferred: the store (SQLAlchemy, 1.1 s) only with a store; a plain scan never

    with Store(options.store) as store:
        try:  # the fleet as the store shows it before this scan: GOV-006 and GOV-007
            options = replace(options, fleet=tuple(store.identities()), fleet_unknown=None)
        except StoreError as exc:
            options = replace(options, fleet=None, fleet_unknown=f"the history store could not be read: {exc}")
        result = run_scan(options, progress, store.previous_state)
        store.record_scan(result, build_document(result), retention=options.config.history.retention)
        oldest: dict[tuple[str, str, str], float] = {}
        for item in store.open_findings(at=result.as_of):
            key = (item.finding.cluster, item.finding.rule_id, item.finding.severity)
            oldest[key] = max(oldest.get(key, 0.0), item.age_seconds)
        records = store.runs(limit=100_000)
        return replace(result, finding_ages=tuple(FindingAge(*key, age) for key, age in sorted(oldest.items())),
                       executor_runs=run_stats(records), recent_runs=tuple(records[:RECENT_RUNS]))


def run_stats(records: list[RunRecord]) -> tuple[RunStats, ...]:
    """Counts and durations by (backend, outcome)."""
    totals: dict[tuple[str, str], list[float]] = {}
    for run in records:
        entry = totals.setdefault((run.kind, run.status), [0, 0.0, 0])
        entry[0] += 1
        if run.duration_seconds is not None:
            entry[1] += run.duration_seconds
            entry[2] += 1
    return tuple(RunStats(kind, status, int(n), total, int(ended))
                 for (kind, status), (n, total, ended) in sorted(totals.items()))
