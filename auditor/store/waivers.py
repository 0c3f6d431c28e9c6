"""Waiver history: each recorded scan compares the waivers it applied with the last ones the store knows.

A waiver *appears* the first time a scan applies it, *changes* when its rules, scope, reason, owner or expiry
differ from the last recorded version, and *vanishes* when a scan of a cluster it could apply to no longer
has it (a scan of other clusters says nothing about it). The report's exceptions register shows the events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from auditor.analyse.scan import ScanResult
from auditor.model.globs import config_glob
from auditor.store import schema as s

EVENTS = ("appeared", "changed", "vanished")


@dataclass(frozen=True)
class WaiverEvent:
    waiver: str
    event: str  # appeared | changed | vanished
    at: datetime
    detail: dict[str, Any]


def digest(detail: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(detail, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _latest(session: Session, at: datetime) -> dict[str, s.WaiverEvent]:
    """The newest event of each waiver recorded at or before ``at``."""
    newest: dict[str, s.WaiverEvent] = {}
    rows = session.scalars(select(s.WaiverEvent).where(s.WaiverEvent.at <= at)
                           .order_by(s.WaiverEvent.at, s.WaiverEvent.id))
    for row in rows:
        newest[row.waiver] = row
    return newest


def record_waivers(session: Session, scan: s.Scan, result: ScanResult) -> int:
    """Record what changed in the waivers since the last scan; returns the number of events."""
    if result.exceptions is None:
        return 0
    register = result.exceptions
    current = {rule.key: rule.as_dict() for rule in
               [*(r for r, _ in register.matched), *register.unused, *register.expired]}
    scanned = [c.name for c in result.clusters if c.analysis is not None]
    events = []
    latest = _latest(session, scan.as_of)
    for key, detail in current.items():
        before = latest.get(key)
        if before is None or before.event == "vanished":
            events.append((key, "appeared", detail))
        elif before.digest != digest(detail):
            events.append((key, "changed", detail))
    for key, before in latest.items():
        if before.event == "vanished" or key in current:
            continue
        pattern = str((before.detail.get("selector") or {}).get("cluster") or "*")
        if any(config_glob(c, pattern) for c in scanned):
            events.append((key, "vanished", before.detail))
    if events:
        session.execute(insert(s.WaiverEvent), [
            {"scan_id": scan.id, "at": scan.as_of, "waiver": key, "event": event, "digest": digest(detail),
             "detail": detail} for key, event, detail in events])
    return len(events)


def waiver_events(session: Session, until: datetime | None = None) -> list[WaiverEvent]:
    """Every recorded event, oldest first (up to ``until``)."""
    query = select(s.WaiverEvent).order_by(s.WaiverEvent.at, s.WaiverEvent.id)
    if until is not None:
        query = query.where(s.WaiverEvent.at <= until)
    return [WaiverEvent(row.waiver, row.event, row.at, dict(row.detail)) for row in session.scalars(query)]
