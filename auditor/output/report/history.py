"""Trends for the report: plain data, so any store (or a test) can supply it.

``trend`` is one value per day (the share of audited volumes within their RPO); ``schedule_days`` maps
``namespace/schedule`` to each day's outcome. A scan alone already yields the schedule outcomes of the
last 30 days from its Backup objects; the store adds the trend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

OUTCOMES = ("ok", "partial", "failed", "running", "none")


@dataclass(frozen=True)
class WaiverChange:
    """A waiver appeared, changed or vanished, as the recorded scans saw it (the store's waiver history)."""

    waiver: str
    event: str  # appeared | changed | vanished
    at: datetime
    detail: dict[str, Any]


@dataclass(frozen=True)
class History:
    trend: tuple[tuple[date, float], ...] = ()
    schedule_days: dict[str, dict[date, str]] = field(default_factory=dict)
    waivers: tuple[WaiverChange, ...] | None = None  # None: no history store was read


def day_outcome(phases: Iterable[str]) -> str:
    """One day of a schedule: ``ok`` if any backup Completed, else the best of the rest."""
    seen = set(phases)
    if "Completed" in seen:
        return "ok"
    if "PartiallyFailed" in seen:
        return "partial"
    if seen & {"Failed", "FailedValidation"}:
        return "failed"
    return "running" if seen else "none"


class HistorySource(Protocol):
    """What the report reads from the history store (``auditor.store.Store.history``)."""

    def history(self, cluster: str | None = None, limit: int = 50) -> list[Any]: ...


def trend_from_summaries(store: HistorySource, clusters: Iterable[str], as_of: datetime,
                         days: int = 30) -> tuple[tuple[date, float], ...]:
    """Per day, the newest scan of each cluster: protected / audited volumes, summed over clusters."""
    newest: dict[date, dict[str, tuple[datetime, int, int]]] = {}
    for cluster in clusters:
        for s in store.history(cluster, limit=days * 48):
            if s.error or s.as_of > as_of or as_of - s.as_of > timedelta(days=days):
                continue
            day = newest.setdefault(s.as_of.date(), {})
            if cluster not in day or s.as_of > day[cluster][0]:
                day[cluster] = (s.as_of, s.volumes_protected, s.volumes_audited)
    out = []
    for d in sorted(newest):
        protected = sum(v[1] for v in newest[d].values())
        audited = sum(v[2] for v in newest[d].values())
        if audited:
            out.append((d, protected / audited))
    return tuple(out)


def read_store(url: str, clusters: Iterable[str], as_of: datetime) -> History:
    """The trend from a history store (an error naming the store if it cannot be read)."""
    from auditor.store import Store  # deferred: SQLAlchemy (1.1 s) only when a report uses a store

    with Store(url, create=False) as store:
        return History(trend=trend_from_summaries(store, clusters, as_of),
                       waivers=tuple(WaiverChange(e.waiver, e.event, e.at, e.detail)
                                     for e in store.waiver_events(until=as_of)))


def record_report(url: str, manifest: dict[str, Any], path: str, formats: str) -> None:
    """Keep the manifest with the scans, so a scheduled report can be found and verified later."""
    from auditor.store import Store  # deferred: SQLAlchemy (1.1 s) only when a report uses a store

    with Store(url) as store:
        store.record_report(format=formats, path=path, manifest=manifest,
                            sha256=manifest["scan_document"]["sha256"])
