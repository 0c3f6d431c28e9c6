"""The report's input: the scan document, plus the sections only a report needs.

Every report format is built from one document dict, so a live scan, a snapshot and a saved document
(``--from-scan``) give the same report. ``report_document`` adds keys the scan document does not carry:
schedules with their recent runs, storage locations, and the non-finding check results (for JUnit).
Added keys never change the meaning of existing ones (``schema_version`` stays 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from auditor.analyse.coverage import ClusterAnalysis
from auditor.analyse.schedules import backup_time
from auditor.errors import InputError
from auditor.output.document import build_document, iso
from auditor.pipeline import ScanResult

RUN_WINDOW = timedelta(days=31)  # schedule runs kept for the per-day heatmap
MAX_RUNS = 400  # per schedule (an hourly schedule fires ~744 times in 31 days)


@dataclass(frozen=True)
class SourceDocument:
    """A document and the exact bytes its SHA-256 is taken of."""

    data: dict[str, Any]
    raw: bytes
    path: Path | None = None  # the ``--from-scan`` file, None when built from a scan


def report_document(result: ScanResult) -> dict[str, Any]:
    """The scan document plus the report-only sections (keys the document already has are kept)."""
    doc = build_document(result)
    extras: dict[str, Any] = {
        "schedules": [e for c in result.clusters if c.analysis for e in schedule_entries(c.analysis)],
        "storage_locations": [e for c in result.clusters if c.analysis for e in storage_entries(c.analysis)],
        "results": [{"rule_id": r.rule_id, "severity": r.severity, "status": r.status, "cluster": r.cluster,
                     "kind": r.kind, "namespace": r.namespace, "name": r.name, "message": r.message}
                    for r in result.results if not r.is_finding],
    }
    for key, value in extras.items():
        doc.setdefault(key, value)
    return doc


def from_result(result: ScanResult) -> SourceDocument:
    doc = report_document(result)
    return SourceDocument(doc, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")


def load_document(path: Path) -> SourceDocument:
    """A saved scan document (``auditor scan -o json`` or a report's JSON)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}", file=str(path)) from None
    if not isinstance(data, dict) or data.get("schema_version") != "1" or not isinstance(data.get("volumes"), list):
        raise InputError("not a scan document (expected schema_version \"1\" with volumes and findings; "
                         "write one with `auditor scan -o json`)", file=str(path))
    return SourceDocument(data, raw, path)


def schedule_entries(analysis: ClusterAnalysis) -> list[dict[str, Any]]:
    as_of = analysis.as_of
    out = []
    for state in sorted(analysis.schedules.values(), key=lambda s: s.key):
        s = state.schedule
        latest, success = state.latest, state.last_success
        runs = [{"time": iso(t), "phase": b.phase or "New", "errors": b.errors, "warnings": b.warnings}
                for b in state.backups[:MAX_RUNS] for t in [backup_time(b)] if t and as_of - t <= RUN_WINDOW]
        out.append({
            "cluster": analysis.inventory.cluster, "namespace": s.meta.namespace, "name": s.meta.name,
            "tool": "velero", "cron": s.cron, "enabled": state.enabled, "paused": state.paused,
            "phase": s.phase, "problem": state.cron_error or "; ".join(s.validation_errors) or None,
            "interval_seconds": state.interval(as_of), "ttl_seconds": state.ctx.ttl,
            "backups": len(state.backups), "missed_runs": state.missed_runs(as_of),
            "latest": _backup_ref(latest), "last_success": _backup_ref(success), "runs": runs,
        })
    return out


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


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
