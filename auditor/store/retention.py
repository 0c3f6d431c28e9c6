"""Retention: per cluster, the newest ``full_scans`` scans whole, then one summary a day, within bounds.

- The newest ``full_scans`` scans of each cluster (by name and kube-system uid) keep everything: their
  document, volumes and findings (what ``diff``, reports and first-seen times read).
- Older scans are reduced to their summary row (counts by status and severity, scores: what ``history``
  and trends read), one per cluster and UTC day — the newest of that day; the day's other scans go
  (``daily_summaries: false`` deletes them all). A scan's document goes once none of its clusters is whole.
- Beyond ``max_scans`` rows or ``max_age`` from the cluster's newest scan, rows are deleted.

Age is measured from each cluster's newest scan, not from the wall clock, so that scans recorded with
``--as-of`` (back-filled history, the demo) are not pruned as soon as they are written. After recording,
only the recorded clusters are pruned, so agents writing at once never touch each other's rows.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, func, null, select, update
from sqlalchemy.orm import Session

from auditor.config import Retention
from auditor.store import schema as s

BATCH = 500


@dataclass(frozen=True)
class Pruned:
    deleted: int  # cluster scans deleted
    reduced: int  # cluster scans reduced to their summary
    scans: int  # scans deleted (no cluster left)


def apply_retention(session: Session, retention: Retention, keep: int | None = None,
                    clusters: Collection[str] | None = None) -> int:
    """Apply ``retention`` (to ``clusters`` only, when given); returns the number of scans deleted."""
    return prune(session, retention, keep, clusters).scans


def prune(session: Session, retention: Retention, keep: int | None = None,
          clusters: Collection[str] | None = None) -> Pruned:
    c = s.ClusterScan
    key = func.coalesce(c.cluster_uid, "")
    ranked = select(c.id, c.scan_id, c.cluster, key.label("uid"), c.as_of, c.summary_only,
                    func.row_number().over(partition_by=(c.cluster, key),
                                           order_by=(c.as_of.desc(), c.id.desc())).label("n"),
                    func.max(c.as_of).over(partition_by=(c.cluster, key)).label("newest"))
    if clusters is not None:
        ranked = ranked.where(c.cluster.in_(list(clusters)))
    sub = ranked.subquery()
    doomed: list[int] = []
    reduce: list[int] = []
    touched: set[int] = set()
    days: dict[tuple[str, str], set[date]] = {}
    rows = session.execute(select(sub).order_by(sub.c.cluster, sub.c.uid, sub.c.n))
    for row_id, scan_id, cluster, uid, as_of, summary_only, n, newest in rows:
        seen = days.setdefault((cluster, uid), set())
        too_many = retention.max_scans is not None and n > retention.max_scans
        too_old = retention.max_age is not None and as_of < newest - timedelta(seconds=retention.max_age)
        day = as_of.date()
        if too_many or too_old:
            doomed.append(row_id)
        elif retention.full_scans is not None and n > retention.full_scans:
            if day in seen or not retention.daily_summaries:
                doomed.append(row_id)  # the day has its summary (or a whole scan) already
            elif not summary_only:
                reduce.append(row_id)
        if row_id in doomed or row_id in reduce:
            touched.add(scan_id)
        seen.add(day)
    for start in range(0, len(reduce), BATCH):
        ids = reduce[start:start + BATCH]
        session.execute(delete(s.Volume).where(s.Volume.cluster_scan_id.in_(ids)))
        session.execute(delete(s.Finding).where(s.Finding.cluster_scan_id.in_(ids)))
        session.execute(update(c).where(c.id.in_(ids)).values(summary_only=True, protection=null()))
    for start in range(0, len(doomed), BATCH):
        session.execute(delete(c).where(c.id.in_(doomed[start:start + BATCH])))
    candidates = select(s.Scan.id)
    if clusters is not None:
        candidates = candidates.where(s.Scan.id.in_(sorted(touched) or [-1]))
    orphans = candidates.where(~select(c.id).where(c.scan_id == s.Scan.id).exists(), s.Scan.id != (keep or -1))
    ids = list(session.scalars(orphans))
    for start in range(0, len(ids), BATCH):
        session.execute(delete(s.Scan).where(s.Scan.id.in_(ids[start:start + BATCH])))
    # a document stays while one of its clusters is whole
    summarised = candidates.where(s.Scan.document.is_not(None), s.Scan.id != (keep or -1),
                                  select(c.id).where(c.scan_id == s.Scan.id).exists(),
                                  ~select(c.id).where(c.scan_id == s.Scan.id, c.summary_only.is_(False)).exists())
    gone = list(session.scalars(summarised))
    for start in range(0, len(gone), BATCH):
        session.execute(update(s.Scan).where(s.Scan.id.in_(gone[start:start + BATCH])).values(document=None))
    return Pruned(len(doomed), len(reduce), len(ids))
