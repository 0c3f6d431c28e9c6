"""What the store returns: plain frozen records, independent of the ORM session that loaded them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from auditor.analyse.fleet import AgentState


def _iso(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class ScanRef:
    scan_id: int
    as_of: datetime


@dataclass(frozen=True)
class ScanSummary:
    """One cluster in one recorded scan: a row of ``auditor history``."""

    scan_id: int
    cluster: str
    as_of: datetime
    complete: bool
    error: str | None
    volumes_audited: int
    volumes_protected: int
    volumes_stale: int
    volumes_unprotected: int
    volumes_unknown: int
    findings_open: int
    findings_by_severity: dict[str, int]
    new_findings: int
    resolved_findings: int
    compliance: dict[str, float | None] = field(default_factory=dict)
    cluster_uid: str | None = None  # the cluster's kube-system namespace uid (None: not recorded)
    interval_seconds: float | None = None  # the recording agent's scan interval (None: not an agent)
    summary_only: bool = False  # retention dropped its volumes, findings and document

    @property
    def coverage(self) -> float | None:
        """Share of audited volumes an enabled schedule captures (protected or stale)."""
        return _ratio(self.volumes_protected + self.volumes_stale, self.volumes_audited)

    @property
    def within_rpo(self) -> float | None:
        """Share of audited volumes with a proven recovery point within their RPO."""
        return _ratio(self.volumes_protected, self.volumes_audited)

    def as_dict(self) -> dict[str, Any]:
        return {"scan_id": self.scan_id, "cluster": self.cluster, "uid": self.cluster_uid, "as_of": _iso(self.as_of),
                "complete": self.complete, "error": self.error, "volumes_audited": self.volumes_audited,
                "volumes_by_status": {"protected": self.volumes_protected, "stale": self.volumes_stale,
                                      "unprotected": self.volumes_unprotected, "unknown": self.volumes_unknown},
                "coverage": self.coverage, "within_rpo": self.within_rpo, "findings": self.findings_open,
                "findings_by_severity": self.findings_by_severity, "new_findings": self.new_findings,
                "resolved_findings": self.resolved_findings, "compliance": self.compliance}


@dataclass(frozen=True)
class FleetRow:
    """One cluster in ``auditor fleet``: its identity, its newest scan and the newest that read it."""

    agent: AgentState
    at: datetime  # the time the row was judged at (ages and silence)
    newest: ScanSummary | None  # the newest recorded scan, read or not
    latest: ScanSummary | None  # the newest that read the cluster (its verdicts)

    @property
    def cluster(self) -> str:
        return self.agent.name

    @property
    def silent(self) -> bool:
        return self.agent.silent(self.at)

    @property
    def age_seconds(self) -> float:
        return self.agent.age(self.at)

    @property
    def complete(self) -> bool:
        """The newest scan read the whole cluster (a failed or partial newest scan is not complete)."""
        return self.newest is not None and self.newest.error is None and self.newest.complete

    @property
    def error(self) -> str | None:
        return self.newest.error if self.newest is not None else None

    def as_dict(self) -> dict[str, Any]:
        latest = self.latest
        return {
            "cluster": self.agent.name, "uid": self.agent.uid or None, "newest_scan": _iso(self.agent.last_seen),
            "age_seconds": round(self.age_seconds, 3), "complete": self.complete, "error": self.error,
            "scan_id": latest.scan_id if latest else None, "verdicts_as_of": _iso(latest.as_of) if latest else None,
            "volumes_audited": latest.volumes_audited if latest else None,
            "volumes_by_status": {"protected": latest.volumes_protected, "stale": latest.volumes_stale,
                                  "unprotected": latest.volumes_unprotected,
                                  "unknown": latest.volumes_unknown} if latest else None,
            "findings_by_severity": latest.findings_by_severity if latest else None,
            "compliance": latest.compliance if latest else None,
            "interval_seconds": self.agent.interval_seconds, "silent_after_seconds": self.agent.silent_after,
            "silent": self.silent, "name_claimed_by": list(self.agent.other_uids),
        }


@dataclass(frozen=True)
class StoredFinding:
    identity: str
    rule_id: str
    severity: str
    status: str
    cluster: str
    kind: str
    namespace: str | None
    name: str
    message: str
    evidence: dict[str, Any]
    first_seen: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "severity": self.severity, "status": self.status, "cluster": self.cluster,
                "kind": self.kind, "namespace": self.namespace, "name": self.name, "message": self.message,
                "first_seen": _iso(self.first_seen)}


@dataclass(frozen=True)
class OpenFinding:
    """A finding open in the newest scan of its cluster, and for how long (the findings-open-age gauge)."""

    finding: StoredFinding
    scan: ScanRef
    age_seconds: float


@dataclass(frozen=True)
class Resolved:
    finding: StoredFinding
    seconds_to_resolve: float  # from first seen to the scan that no longer has it


@dataclass(frozen=True)
class Changed:
    before: StoredFinding
    after: StoredFinding
    fields: tuple[str, ...]  # severity, status


@dataclass(frozen=True)
class VolumeChange:
    namespace: str
    pvc: str
    before: str | None  # None: the volume did not exist
    after: str | None  # None: the volume is gone


@dataclass(frozen=True)
class ClusterDiff:
    cluster: str
    a: ScanRef
    b: ScanRef
    new: tuple[StoredFinding, ...]
    resolved: tuple[Resolved, ...]
    changed: tuple[Changed, ...]
    unchanged: int
    volumes: tuple[VolumeChange, ...]
    uid: str | None = None  # the cluster's kube-system uid (two clusters claiming one name: two diffs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster, "uid": self.uid,
            "a": {"scan_id": self.a.scan_id, "as_of": _iso(self.a.as_of)},
            "b": {"scan_id": self.b.scan_id, "as_of": _iso(self.b.as_of)},
            "new": [f.as_dict() for f in self.new],
            "resolved": [{**r.finding.as_dict(), "seconds_to_resolve": r.seconds_to_resolve} for r in self.resolved],
            "changed": [{**c.after.as_dict(), "changed": list(c.fields),
                         "before": {k: getattr(c.before, k) for k in c.fields}} for c in self.changed],
            "unchanged": self.unchanged,
            "volumes": [{"namespace": v.namespace, "pvc": v.pvc, "before": v.before, "after": v.after}
                        for v in self.volumes],
        }
