"""The report's restore preflight rows: the last evaluation of each configured pair (docs/preflight.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.output.report.source import parse_iso


@dataclass(frozen=True)
class PreflightRow:
    cluster: str
    schedule: str
    target: str
    backup: str | None
    evaluated_at: datetime | None
    verdict: str  # ready | not-ready | not-evaluated
    reasons: tuple[str, ...]  # "PF-010 StorageClass gp3: ..." (blockers, then unknown checks), or the error
    warnings: int


def preflight_rows(doc: dict[str, Any]) -> tuple[PreflightRow, ...] | None:
    """None when the scan document has no ``preflights`` (no pair configured, or not from ``serve``)."""
    if "preflights" not in doc:
        return None
    rows = []
    for p in doc["preflights"] or []:
        ready = p.get("ready")
        verdict = "ready" if ready is True else "not-ready" if ready is False else "not-evaluated"
        reasons = tuple(f"{i.get('code')} {i.get('kind')} {i.get('name') or ''}: {i.get('message')}"
                        for i in [*(p.get("blockers") or []), *(p.get("unknown") or [])])
        error = (str(p["error"]),) if p.get("error") else ()
        rows.append(PreflightRow(str(p.get("cluster") or ""), str(p.get("schedule", "")), str(p.get("target", "")),
                                 p.get("backup"), parse_iso(p.get("evaluated_at")), verdict, reasons or error,
                                 int(p.get("warnings") or 0)))
    return tuple(rows)
