"""Retention: per cluster, keep the newest ``max_scans`` scans and those within ``max_age`` of the newest.

Age is measured from each cluster's newest scan, not from the wall clock, so that scans recorded with
``--as-of`` (back-filled history, the demo) are not pruned as soon as they are written.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from auditor.config import Retention
from auditor.store import schema as s


def apply_retention(session: Session, retention: Retention, keep: int | None = None) -> int:
    """Delete the cluster scans retention drops, then scans left without clusters (but ``keep``)."""
    c = s.ClusterScan
    ranked = select(c.id, c.cluster, c.as_of,
                    func.row_number().over(partition_by=c.cluster, order_by=(c.as_of.desc(), c.id.desc())).label("n"),
                    func.max(c.as_of).over(partition_by=c.cluster).label("newest")).subquery()
    doomed = []
    for row_id, _cluster, as_of, n, newest in session.execute(select(ranked)):
        too_many = retention.max_scans is not None and n > retention.max_scans
        too_old = retention.max_age is not None and as_of < newest - timedelta(seconds=retention.max_age)
        if too_many or too_old:
            doomed.append(row_id)
    for start in range(0, len(doomed), 500):
        session.execute(delete(c).where(c.id.in_(doomed[start:start + 500])))
    orphans = select(s.Scan.id).where(~select(c.id).where(c.scan_id == s.Scan.id).exists(), s.Scan.id != (keep or -1))
    ids = list(session.scalars(orphans))
    if ids:
        session.execute(delete(s.Scan).where(s.Scan.id.in_(ids)))
    return len(ids)
