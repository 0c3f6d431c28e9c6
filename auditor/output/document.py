"""The scan document (``-o json``, ``schema_version: "1"``). Keys may be added; none changes meaning."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, BinaryIO

import orjson

from auditor import __version__
from auditor.analyse.compliance import FrameworkScore
from auditor.analyse.coverage import ClusterAnalysis, VolumeResult
from auditor.analyse.evidence import RecoveryPoint
from auditor.analyse.scan import ClusterScan, ScanResult
from auditor.analyse.schedules import backup_time
from auditor.model.analysis import STATUSES
from auditor.model.rules import SEVERITIES

SCHEMA_VERSION = "1"
FILTER_NOTE = "volumes and findings are filtered; compliance scores are those of the whole scan"
RUN_WINDOW = timedelta(days=31)  # schedule runs kept for the per-day heatmap
MAX_RUNS = 400  # per schedule (an hourly schedule fires ~744 times in 31 days)


@lru_cache(maxsize=4096)
def iso(t: datetime | None) -> str | None:
    """Cached: a large scan writes the same few backup times for tens of thousands of volumes."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def volume_entry(v: VolumeResult, shown: dict[RecoveryPoint, dict[str, str]] | None = None) -> dict[str, Any]:
    """A volume's entry; ``shown``: the entries of recovery points already made (volumes share points, and
    the document is written entry by entry, so sharing their dicts costs nothing)."""
    points = [p.as_dict() for p in v.recovery_points[:3]] if shown is None else \
        [shown.get(p) or shown.setdefault(p, p.as_dict()) for p in v.recovery_points[:3]]
    return {
        "cluster": v.cluster, "namespace": v.namespace, "pvc": v.pvc, "pv": v.pv, "storage_class": v.storage_class,
        "status": v.status, "audited": v.audited, "last_success": iso(v.last_success), "methods": list(v.methods),
        "covered_by": list(v.covered_by), "policy": v.policy.name, "rpo_seconds": v.policy.rpo,
        "retention_seconds": v.policy.retention, "reasons": list(v.reasons),
        "recovery_points": points,
    }


def cluster_entry(c: ClusterScan) -> dict[str, Any]:
    if c.analysis is None:
        return {"name": c.name, "complete": False, "gaps": [], "error": c.error, "source": None,
                "server_version": None}
    inv = c.analysis.inventory
    return {
        "name": c.name, "complete": inv.complete, "gaps": [g.as_dict() for g in inv.gaps], "error": None,
        "source": inv.source, "server_version": inv.server_version,
        "unknown_kinds": inv.unknown_kinds,
        "counts": {"namespaces": len(inv.namespaces), "pvcs": len(inv.pvcs), "pvs": len(inv.pvs),
                   "pods": len(inv.pods), "schedules": len(inv.schedules), "backups": len(inv.backups)},
    }


def summary(result: ScanResult) -> dict[str, Any]:
    volumes = [v for c in result.clusters if c.analysis for v in c.analysis.volumes]
    audited = [v for v in volumes if v.audited]
    by_status = Counter(v.status for v in audited)
    open_findings = [f for f in result.findings if f.status == "open"]
    by_severity = Counter(f.severity for f in open_findings)
    checks = Counter(r.status for r in result.results)
    per_cluster = []
    for c in result.clusters:
        vols = [v for v in (c.analysis.volumes if c.analysis else ()) if v.audited]
        sev = Counter(f.severity for f in c.findings if f.status == "open")
        per_cluster.append({
            "cluster": c.name, "complete": bool(c.analysis and c.analysis.inventory.complete), "error": c.error,
            "volumes_by_status": {s: sum(1 for v in vols if v.status == s) for s in STATUSES},
            "findings_by_severity": {s: sev.get(s, 0) for s in SEVERITIES},
            "compliance": {fw.framework: fw.score for fw in c.compliance},
        })
    filtered = {"filtered": {**result.filters, "note": FILTER_NOTE}} if result.filters else {}
    return {
        **filtered,
        "per_cluster": per_cluster,
        "findings_excepted": sum(1 for f in result.findings if f.status == "excepted"),
        "clusters": len(result.clusters),
        "clusters_complete": sum(1 for c in result.clusters if c.analysis and c.analysis.inventory.complete),
        "volumes": len(volumes), "volumes_audited": len(audited),
        "volumes_by_status": {s: by_status.get(s, 0) for s in STATUSES},
        "protected_ratio": round(by_status.get("protected", 0) / len(audited), 4) if audited else None,
        "findings": len(open_findings),
        "findings_by_severity": {s: by_severity.get(s, 0) for s in SEVERITIES},
        "checks": {s: checks.get(s, 0) for s in ("pass", "open", "excepted", "not-evaluated", "error")},
    }


def compliance_entries(c: ClusterScan) -> list[dict[str, Any]]:
    """Each framework's score of the cluster; with GOV-006/007 results (a scan with a history store), also its
    score without them (``without_fleet_rules``: what a fleet report shows, judging those rules once)."""
    own = {fw.framework: fw for fw in c.compliance_without_fleet}
    out = []
    for fw in c.compliance:
        entry = {"cluster": c.name, "framework": fw.framework, "name": fw.name, **_framework_score(fw)}
        if fw.framework in own:
            entry["without_fleet_rules"] = {**_framework_score(own[fw.framework]), "passed": own[fw.framework].passed,
                                            "failed": own[fw.framework].failed}
        out.append(entry)
    return out


def _framework_score(fw: FrameworkScore) -> dict[str, Any]:
    return {"score": fw.score, "coverage": fw.coverage,
            "controls": [{"id": ctl.control_id, "title": ctl.title, "rules": list(ctl.rules), "status": ctl.status,
                          "passed": ctl.passed, "failed": ctl.failed, "not_evaluated": ctl.not_evaluated,
                          "excepted": ctl.excepted} for ctl in fw.controls]}


def compliance_rollup(result: ScanResult) -> list[dict[str, Any]]:
    """Per framework across the fleet: the score of all clusters' checks taken together."""
    totals: dict[str, dict[str, Any]] = {}
    for c in result.clusters:
        for fw in c.compliance:
            t = totals.setdefault(fw.framework, {"framework": fw.framework, "name": fw.name, "passed": 0,
                                                 "failed": 0, "clusters": {}})
            t["passed"] += fw.passed  # distinct checks: a rule shared by several controls counts once
            t["failed"] += fw.failed
            t["clusters"][c.name] = fw.score
    for t in totals.values():
        evaluated = t["passed"] + t["failed"]
        t["score"] = round(t["passed"] / evaluated, 4) if evaluated else None
    return list(totals.values())


def credential_entries(c: ClusterScan) -> list[dict[str, Any]]:
    """Fingerprints, classes and ages of backup credentials: never a value."""
    return [{"cluster": c.name, "namespace": x.namespace, "name": x.name, "key": x.key, "tool": x.tool,
             "kind": x.kind, "fingerprint": x.fingerprint, "created": iso(x.created), "rotated": iso(x.rotated),
             "age_seconds": x.age_seconds, "default_password": x.default_password, "used_by": list(x.used_by)}
            for x in (c.analysis.credentials if c.analysis else ())]


def build_document(result: ScanResult) -> dict[str, Any]:
    return {key: list(value) if key in STREAMED else value for key, value in _parts(result).items()}


#: the document's long lists, produced entry by entry (see :func:`write_document`)
STREAMED = ("volumes", "findings", "schedules")


def write_document(result: ScanResult, out: BinaryIO) -> None:
    """The document as ``orjson.dumps(build_document(result), option=OPT_INDENT_2)`` writes it, byte for byte,
    without holding it: the long lists are serialised entry by entry (a large cluster's document is ~100 MB
    of dicts and as much text again)."""
    parts = _parts(result)
    out.write(b"{")
    for i, (key, value) in enumerate(parts.items()):
        out.write(b"," if i else b"")
        out.write(b"\n  " + orjson.dumps(key) + b": ")
        if key not in STREAMED:
            out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  "))
            continue
        first = True
        for entry in value:
            out.write(b"[\n    " if first else b",\n    ")
            out.write(orjson.dumps(entry, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n    "))
            first = False
        out.write(b"[]" if first else b"\n  ]")
    out.write(b"\n}" if parts else b"}")


def _parts(result: ScanResult) -> dict[str, Any]:
    parts = _core_parts(result)
    if result.preflights:  # auditor serve's restore preflight pairs (docs/preflight.md)
        parts["preflights"] = [p.as_dict() for p in result.preflights]
    return parts


def _core_parts(result: ScanResult) -> dict[str, Any]:
    shown: dict[RecoveryPoint, dict[str, str]] = {}
    volumes = (volume_entry(v, shown) for c in result.clusters if c.analysis for v in c.analysis.volumes)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "as_of": iso(result.as_of),
        "clusters": [cluster_entry(c) for c in result.clusters],
        "warnings": [{"cluster": c.name, **w.as_dict()} for c in result.clusters if c.analysis
                     for w in c.analysis.inventory.warnings],
        "volumes": volumes,
        "findings": (f.as_dict() for f in result.results if f.is_reported),
        "compliance": [e for c in result.clusters for e in compliance_entries(c)],
        "compliance_rollup": compliance_rollup(result),
        "credentials": [e for c in result.clusters for e in credential_entries(c)],
        "exceptions": result.exceptions.as_dict() if result.exceptions else
        {"matched": [], "unused": [], "expired": []},
        "summary": summary(result),
        "executor_runs": [run_entry(r) for r in result.recent_runs],
        "schedules": (e for c in result.clusters if c.analysis for e in schedule_entries(c.analysis)),
        "storage_locations": [e for c in result.clusters if c.analysis for e in storage_entries(c.analysis)],
    }


def schedule_entries(analysis: ClusterAnalysis) -> Iterator[dict[str, Any]]:
    """One entry a Schedule, made as it is written (a large fleet's runs are many)."""
    as_of = analysis.as_of
    for state in sorted(analysis.schedules.values(), key=lambda s: s.key):
        s = state.schedule
        latest, success = state.latest, state.last_success
        runs = [{"time": iso(t), "phase": b.phase or "New", "errors": b.errors, "warnings": b.warnings}
                for b in state.backups[:MAX_RUNS] for t in [backup_time(b)] if t and as_of - t <= RUN_WINDOW]
        yield {
            "cluster": analysis.inventory.cluster, "namespace": s.meta.namespace, "name": s.meta.name,
            "tool": "velero", "cron": s.cron, "enabled": state.enabled, "paused": state.paused,
            "phase": s.phase, "problem": state.cron_error or "; ".join(s.validation_errors) or None,
            "interval_seconds": state.interval(as_of), "ttl_seconds": state.ctx.ttl,
            "backups": len(state.backups), "missed_runs": state.missed_runs(as_of),
            "latest": _backup_ref(latest), "last_success": _backup_ref(success), "runs": runs,
        }


def _backup_ref(b: Any) -> dict[str, Any] | None:
    if b is None:
        return None
    return {"name": b.meta.name, "phase": b.phase, "time": iso(backup_time(b)), "errors": b.errors,
            "warnings": b.warnings, "failure_reason": b.failure_reason}


def storage_entries(analysis: ClusterAnalysis) -> list[dict[str, Any]]:
    """Where backups go. Credentials are named (secret/key), never read."""
    inv = analysis.inventory
    out: list[dict[str, Any]] = []
    for b in inv.bsls:
        out.append({"cluster": inv.cluster, "kind": "BackupStorageLocation", "namespace": b.meta.namespace,
                    "name": b.meta.name, "provider": b.provider, "bucket": b.bucket, "prefix": b.prefix,
                    "region": b.config.get("region"), "default": b.default, "access_mode": b.access_mode,
                    "phase": b.phase, "last_validated": iso(b.last_validated), "message": b.message,
                    "credential": _credential_ref(b.credential_name, b.credential_key)})
    for v in inv.vsls:
        out.append({"cluster": inv.cluster, "kind": "VolumeSnapshotLocation", "namespace": v.meta.namespace,
                    "name": v.meta.name, "provider": v.provider, "bucket": None, "prefix": None,
                    "region": v.config.get("region"), "default": False, "access_mode": None, "phase": v.phase,
                    "last_validated": None, "message": None,
                    "credential": _credential_ref(v.credential_name, v.credential_key)})
    return out


def _credential_ref(name: str | None, key: str | None) -> str | None:
    return f"{name}/{key}" if name and key else name


def run_entry(run: Any) -> dict[str, Any]:
    """An executor run (history store) as evidence: what was created, for what, when, how it ended."""
    detail = run.detail or {}
    return {"cluster": run.cluster, "kind": run.kind, "namespace": run.namespace, "target": run.target,
            "object": run.object_name, "status": run.status, "started_at": iso(run.started_at),
            "finished_at": iso(run.finished_at), "duration_seconds": run.duration_seconds,
            "outcome": str(detail.get("phase") or detail.get("reason") or detail.get("error") or "")[:300] or None}
