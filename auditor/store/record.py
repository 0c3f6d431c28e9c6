"""Recording a scan: the document, per-volume statuses, findings with identities and first-seen times,
and each cluster's protection state. One transaction: a scan is stored whole or not at all."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import case, func, insert, null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from auditor import __version__
from auditor.analyse.fleet import cluster_uid
from auditor.analyse.history import recorded_state
from auditor.analyse.scan import ClusterScan, ScanResult
from auditor.model.rules import SEVERITIES, Finding
from auditor.store import read
from auditor.store import schema as s
from auditor.store.compression import compress
from auditor.store.identity import finding_identity
from auditor.store.waivers import record_waivers

KEEP_STATES = 3  # per cluster: enough for a scan recorded slightly out of order


def identities(findings: Iterable[Finding]) -> dict[str, Finding]:
    """Every finding under a unique identity. A rule may report one subject more than once (a RoleBinding
    that reads two credential Secrets): those get a suffix from their message with digits blanked, so an
    age that grows from scan to scan does not make a finding look new."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(finding_identity(f), []).append(f)
    out: dict[str, Finding] = {}
    for base, group in groups.items():
        if len(group) == 1:
            out[base] = group[0]
            continue
        for f in sorted(group, key=lambda x: x.message):
            key = f"{base}#{hashlib.sha1(re.sub(r'[0-9]+', '#', f.message).encode()).hexdigest()[:8]}"
            n = 2
            while key in out:
                key, n = f"{key.rsplit('~', 1)[0]}~{n}", n + 1
            out[key] = f
    return out


def record_scan(session: Session, result: ScanResult, document: dict[str, Any], recorded_at: datetime,
                interval: float | None = None, uids: Mapping[str, str] | None = None) -> int:
    """Record the scan; ``interval``: the recording agent's scan interval (silence, GOV-006); ``uids``: the
    kube-system uid of clusters this scan could not read, as an earlier scan saw them."""
    scan = s.Scan(as_of=result.as_of, recorded_at=recorded_at, tool_version=__version__, document=compress(document))
    session.add(scan)
    session.flush()
    for cluster in result.clusters:
        uid = cluster_uid(cluster.analysis.inventory.namespaces) if cluster.analysis is not None else None
        if uid is None:  # not read now: as an earlier scan saw it, or the one cluster recorded under the name
            uid = (uids or {}).get(cluster.name) or _only_uid(session, cluster.name)
        _record_cluster(session, scan, cluster, uid, interval)
        claim(session, cluster.name, uid, scan.as_of, recorded_at, interval)
    record_waivers(session, scan, result)
    return scan.id


def claim(session: Session, name: str, uid: str | None, as_of: datetime, recorded_at: datetime,
          interval: float | None) -> None:
    """Record that cluster (``name``, ``uid``) was scanned at ``as_of``: one upsert, safe under concurrent
    writers. ``uid`` None: the scan could not read it (nor did an earlier one)."""
    table = s.ClusterIdentity
    dialect = session.get_bind().dialect.name
    values = {"name": name, "uid": uid or "", "first_seen": as_of, "last_seen": as_of, "last_recorded": recorded_at,
              "interval_seconds": interval}
    statement = (pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)).values(values)
    new = statement.excluded
    session.execute(statement.on_conflict_do_update(index_elements=["name", "uid"], set_={
        "first_seen": case((new.first_seen < table.first_seen, new.first_seen), else_=table.first_seen),
        "last_seen": case((new.last_seen > table.last_seen, new.last_seen), else_=table.last_seen),
        "last_recorded": case((new.last_recorded > table.last_recorded, new.last_recorded),
                              else_=table.last_recorded),
        "interval_seconds": func.coalesce(new.interval_seconds, table.interval_seconds),
    }))


def _only_uid(session: Session, name: str) -> str | None:
    """The uid of the one cluster recorded under ``name`` (None when there are none or several)."""
    table = s.ClusterIdentity
    known = list(session.scalars(select(table.uid).where(table.name == name).limit(2)))
    return known[0] or None if len(known) == 1 else None


def _record_cluster(session: Session, scan: s.Scan, c: ClusterScan, uid: str | None,
                    interval: float | None) -> None:
    analysis = c.analysis
    previous = read.latest_cluster_scan(session, c.name, scan.as_of, uid) if analysis is not None else None
    carried = read.open_first_seen(session, previous.id) if previous is not None else {}
    findings = identities(c.findings)
    audited = [v for v in analysis.volumes if v.audited] if analysis is not None else []
    statuses = Counter(v.status for v in audited)
    severities = Counter(f.severity for f in c.findings if f.status == "open")
    row = s.ClusterScan(
        scan_id=scan.id, cluster=c.name, as_of=scan.as_of,
        complete=analysis is not None and analysis.inventory.complete, error=c.error,
        source=analysis.inventory.source if analysis is not None else None,
        volumes_audited=len(audited), volumes_protected=statuses["protected"], volumes_stale=statuses["stale"],
        volumes_unprotected=statuses["unprotected"], volumes_unknown=statuses["unknown"],
        findings_open=sum(severities.values()), findings_by_severity={k: severities.get(k, 0) for k in SEVERITIES},
        new_findings=len(findings.keys() - carried.keys()) if analysis is not None else 0,
        resolved_findings=len(carried.keys() - findings.keys()) if analysis is not None else 0,
        compliance={f.framework: f.score for f in c.compliance} or None,
        protection=recorded_state(analysis).to_dict() if analysis is not None else None,
        cluster_uid=uid, interval_seconds=interval, summary_only=False,
    )
    session.add(row)
    session.flush()
    _drop_old_states(session, c.name, uid)
    if analysis is not None and analysis.volumes:
        session.execute(insert(s.Volume), [
            {"cluster_scan_id": row.id, "namespace": v.namespace, "pvc": v.pvc, "status": v.status,
             "audited": v.audited, "last_success": v.last_success, "policy": v.policy.name,
             "methods": ",".join(v.methods)[:255]} for v in analysis.volumes])
    if findings:
        session.execute(insert(s.Finding), [
            {"cluster_scan_id": row.id, "identity": key, "rule_id": f.rule_id, "severity": f.severity,
             "status": f.status, "kind": f.kind, "namespace": f.namespace, "name": f.name, "message": f.message,
             "evidence": _jsonable(f.evidence), "first_seen": carried.get(key, scan.as_of)}
            for key, f in findings.items()])


def _jsonable(value: dict[str, Any]) -> Any:
    """Evidence as the document prints it (datetimes, tuples and sets become JSON)."""
    return orjson.loads(orjson.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def _drop_old_states(session: Session, cluster: str, uid: str | None) -> None:
    """Keep the protection state of the newest ``KEEP_STATES`` scans of a cluster only: the next scan compares
    with the newest, and at 50,000 backups a state is ~10 MB of JSON."""
    c = s.ClusterScan
    mine = read.same_cluster(uid)
    newest = (select(c.id).where(c.cluster == cluster, c.protection.is_not(None), mine)
              .order_by(c.as_of.desc(), c.id.desc()).limit(KEEP_STATES))
    session.execute(update(c).where(c.cluster == cluster, c.protection.is_not(None), mine,
                                    c.id.not_in(select(newest.subquery().c.id))).values(protection=null()))
