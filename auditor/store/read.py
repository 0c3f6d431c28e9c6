"""Queries over recorded scans. Every function takes an open session and returns plain records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from auditor.analyse.protection import ProtectionState
from auditor.store import schema as s
from auditor.store.views import ScanRef, ScanSummary, StoredFinding

OPEN = ("open", "excepted")


def ref(cs: s.ClusterScan) -> ScanRef:
    return ScanRef(cs.scan_id, cs.as_of)


def latest_cluster_scan(session: Session, cluster: str, at: datetime | None = None) -> s.ClusterScan | None:
    """The newest scan of ``cluster`` that read it (no error), at or before ``at``."""
    query = select(s.ClusterScan).where(s.ClusterScan.cluster == cluster, s.ClusterScan.error.is_(None))
    if at is not None:
        query = query.where(s.ClusterScan.as_of <= at)
    return session.scalars(query.order_by(s.ClusterScan.as_of.desc(), s.ClusterScan.id.desc()).limit(1)).first()


def previous_of(session: Session, cs: s.ClusterScan) -> s.ClusterScan | None:
    """The scan of the same cluster just before ``cs`` (that read it)."""
    c = s.ClusterScan
    query = select(c).where(c.cluster == cs.cluster, c.error.is_(None),
                            or_(c.as_of < cs.as_of, and_(c.as_of == cs.as_of, c.id < cs.id)))
    return session.scalars(query.order_by(c.as_of.desc(), c.id.desc()).limit(1)).first()


def previous_state(session: Session, cluster: str, at: datetime) -> ProtectionState | None:
    """The protection state of the newest scan of ``cluster`` at or before ``at`` that still has one."""
    c = s.ClusterScan
    query = select(c.protection).where(c.cluster == cluster, c.error.is_(None), c.protection.is_not(None),
                                       c.as_of <= at).order_by(c.as_of.desc(), c.id.desc()).limit(1)
    state = session.scalars(query).first()
    return ProtectionState.from_dict(state) if state else None


def open_first_seen(session: Session, cluster_scan_id: int) -> dict[str, datetime]:
    rows = session.execute(select(s.Finding.identity, s.Finding.first_seen).where(
        s.Finding.cluster_scan_id == cluster_scan_id, s.Finding.status.in_(OPEN)))
    return {identity: first_seen for identity, first_seen in rows}


def cluster_scans_of(session: Session, scan_id: int) -> list[s.ClusterScan]:
    return list(session.scalars(select(s.ClusterScan).where(s.ClusterScan.scan_id == scan_id)
                                .order_by(s.ClusterScan.cluster)))


def latest_per_cluster(session: Session, cluster: str | None = None) -> list[s.ClusterScan]:
    c = s.ClusterScan
    ranked = select(c.id, func.row_number().over(partition_by=c.cluster, order_by=(c.as_of.desc(), c.id.desc()))
                    .label("n")).where(c.error.is_(None))
    if cluster is not None:
        ranked = ranked.where(c.cluster == cluster)
    sub = ranked.subquery()
    return list(session.scalars(select(c).join(sub, sub.c.id == c.id).where(sub.c.n == 1).order_by(c.cluster)))


def summaries(session: Session, cluster: str | None, limit: int) -> list[ScanSummary]:
    """The newest ``limit`` cluster scans (of one cluster, or all), oldest first."""
    query = select(s.ClusterScan)
    if cluster is not None:
        query = query.where(s.ClusterScan.cluster == cluster)
    rows = session.scalars(query.order_by(s.ClusterScan.as_of.desc(), s.ClusterScan.id.desc()).limit(limit))
    return [summary(cs) for cs in reversed(list(rows))]


def summary(cs: s.ClusterScan) -> ScanSummary:
    return ScanSummary(
        scan_id=cs.scan_id, cluster=cs.cluster, as_of=cs.as_of, complete=cs.complete, error=cs.error,
        volumes_audited=cs.volumes_audited, volumes_protected=cs.volumes_protected, volumes_stale=cs.volumes_stale,
        volumes_unprotected=cs.volumes_unprotected, volumes_unknown=cs.volumes_unknown,
        findings_open=cs.findings_open, findings_by_severity=dict(cs.findings_by_severity),
        new_findings=cs.new_findings, resolved_findings=cs.resolved_findings, compliance=dict(cs.compliance or {}),
    )


def findings_of(session: Session, cs: s.ClusterScan, statuses: tuple[str, ...] = OPEN) -> list[StoredFinding]:
    rows = session.scalars(select(s.Finding).where(s.Finding.cluster_scan_id == cs.id, s.Finding.status.in_(statuses))
                           .order_by(s.Finding.id))
    return [StoredFinding(f.identity, f.rule_id, f.severity, f.status, cs.cluster, f.kind, f.namespace, f.name,
                          f.message, dict(f.evidence), f.first_seen) for f in rows]


def volumes_of(session: Session, cs: s.ClusterScan) -> dict[tuple[str, str], str]:
    rows = session.execute(select(s.Volume.namespace, s.Volume.pvc, s.Volume.status)
                           .where(s.Volume.cluster_scan_id == cs.id))
    return {(ns, pvc): status for ns, pvc, status in rows}
