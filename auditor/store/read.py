"""Queries over recorded scans. Every function takes an open session and returns plain records."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session

from auditor.analyse.fleet import AgentState, with_conflicts
from auditor.store import schema as s
from auditor.store.views import FleetRow, ScanRef, ScanSummary, StoredFinding

if TYPE_CHECKING:
    from auditor.analyse.protection import ProtectionState

OPEN = ("open", "excepted")


def ref(cs: s.ClusterScan) -> ScanRef:
    return ScanRef(cs.scan_id, cs.as_of)


def same_cluster(uid: str | None) -> ColumnElement[bool]:
    """Rows of the cluster with this kube-system uid (or recorded without one); any row when ``uid`` is None.
    Two clusters claiming one name (GOV-007) never read each other's scans."""
    c = s.ClusterScan
    return or_(c.cluster_uid == uid, c.cluster_uid.is_(None)) if uid else true()


def latest_cluster_scan(session: Session, cluster: str, at: datetime | None = None,
                        uid: str | None = None) -> s.ClusterScan | None:
    """The newest scan of ``cluster`` (with kube-system ``uid``) that read it (no error), at or before ``at``."""
    query = select(s.ClusterScan).where(s.ClusterScan.cluster == cluster, s.ClusterScan.error.is_(None),
                                        same_cluster(uid))
    if at is not None:
        query = query.where(s.ClusterScan.as_of <= at)
    return session.scalars(query.order_by(s.ClusterScan.as_of.desc(), s.ClusterScan.id.desc()).limit(1)).first()


def previous_of(session: Session, cs: s.ClusterScan) -> s.ClusterScan | None:
    """The scan of the same cluster just before ``cs`` (that read it)."""
    c = s.ClusterScan
    query = select(c).where(c.cluster == cs.cluster, c.error.is_(None), c.summary_only.is_(False),
                            same_cluster(cs.cluster_uid),
                            or_(c.as_of < cs.as_of, and_(c.as_of == cs.as_of, c.id < cs.id)))
    return session.scalars(query.order_by(c.as_of.desc(), c.id.desc()).limit(1)).first()


def previous_state(session: Session, cluster: str, at: datetime, uid: str | None = None) -> ProtectionState | None:
    """The protection state of the newest scan of ``cluster`` at or before ``at`` that still has one."""
    # deferred: the protection analysis pulls the Velero planner (0.3 s); only GOV-002's comparison reads it
    from auditor.analyse.protection import ProtectionState

    c = s.ClusterScan
    query = select(c.protection).where(c.cluster == cluster, c.error.is_(None), c.protection.is_not(None),
                                       c.as_of <= at, same_cluster(uid)).order_by(c.as_of.desc(), c.id.desc()).limit(1)
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
    """The newest scan that read each cluster, one per (name, kube-system uid), in one query. Scans recorded
    without a uid count only for a name no uid was recorded under."""
    c = s.ClusterScan
    key = func.coalesce(c.cluster_uid, "")
    ranked = select(c.id, func.row_number().over(partition_by=(c.cluster, key), order_by=(c.as_of.desc(),
                                                                                          c.id.desc()))
                    .label("n")).where(c.error.is_(None), c.summary_only.is_(False))
    if cluster is not None:
        ranked = ranked.where(c.cluster == cluster)
    sub = ranked.subquery()
    rows = list(session.scalars(select(c).join(sub, sub.c.id == c.id).where(sub.c.n == 1)
                                .order_by(c.cluster, key)))
    with_uid = {r.cluster for r in rows if r.cluster_uid}
    return [r for r in rows if r.cluster_uid or r.cluster not in with_uid]


def identities(session: Session) -> list[AgentState]:
    """Every cluster identity the store knows, with rival claims on a name filled in."""
    rows = session.scalars(select(s.ClusterIdentity))
    return with_conflicts(AgentState(r.name, r.uid, r.first_seen, r.last_seen, r.interval_seconds) for r in rows)


def fleet(session: Session, at: datetime) -> list[FleetRow]:
    """One row per cluster identity: its newest scan and the newest that read it. Two queries whatever the
    number of clusters (the identities, then both newest rows per identity through window functions)."""
    agents = identities(session)
    c = s.ClusterScan
    key = func.coalesce(c.cluster_uid, "")
    ranked = select(c.id, func.row_number().over(partition_by=(c.cluster, key),
                                                 order_by=(c.as_of.desc(), c.id.desc())).label("n_all"),
                    func.row_number().over(partition_by=(c.cluster, key, c.error.is_(None)),
                                           order_by=(c.as_of.desc(), c.id.desc())).label("n_good")).subquery()
    query = (select(c, ranked.c.n_all).join(ranked, ranked.c.id == c.id)
             .where(or_(ranked.c.n_all == 1, and_(ranked.c.n_good == 1, c.error.is_(None)))))
    newest: dict[tuple[str, str], ScanSummary] = {}
    latest: dict[tuple[str, str], ScanSummary] = {}
    for cs, n_all in session.execute(query):
        k = (cs.cluster, cs.cluster_uid or "")
        row = summary(cs)
        if n_all == 1:
            newest[k] = row
        if cs.error is None:
            latest[k] = row
    out = []
    for a in agents:
        k, legacy = (a.name, a.uid), (a.name, "")
        fold = a.uid and not a.other_uids  # its scans recorded before uids were are its own
        new = newest.get(k) or (newest.get(legacy) if fold else None)
        good = latest.get(k) or (latest.get(legacy) if fold else None)
        out.append(FleetRow(a, at, new, good))
    return out


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
        cluster_uid=cs.cluster_uid, interval_seconds=cs.interval_seconds, summary_only=cs.summary_only,
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
