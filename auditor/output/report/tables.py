"""Rows of the report's operational tables: schedules, storage locations, credentials, findings, exceptions.

Each reads one key of the scan document; a key the document lacks gives ``None`` (the report then says
the section is not in the scan document), an empty list gives ``()`` (there is nothing).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from auditor.model.rules import SEVERITIES, Rule
from auditor.output.report.history import History, WaiverChange, day_outcome
from auditor.output.report.model import (
    CredentialRow,
    ExceptionRow,
    FindingRow,
    RuleGroup,
    RunRow,
    ScheduleRow,
    StorageRow,
)
from auditor.output.report.source import parse_iso

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
HEALTH_RANK = {"invalid": 0, "failing": 1, "never succeeded": 2, "missed runs": 3, "paused": 4, "healthy": 5}


def schedule_rows(doc: dict[str, Any], as_of: datetime, history: History | None) -> tuple[ScheduleRow, ...] | None:
    if "schedules" not in doc:
        return None
    rows = []
    for s in doc["schedules"]:
        key = f"{s.get('namespace')}/{s.get('name')}"
        runs = s.get("runs") or []
        by_day: dict[date, list[str]] = defaultdict(list)
        for run in runs:
            t = parse_iso(run.get("time"))
            if t:
                by_day[t.date()].append(str(run.get("phase") or ""))
        days = {d: day_outcome(phases) for d, phases in by_day.items()}
        if history and key in history.schedule_days:
            days = {**history.schedule_days[key], **days}
        finished = [r for r in runs if r.get("phase") in ("Completed", "PartiallyFailed", "Failed",
                                                           "FailedValidation")]
        latest, success = s.get("latest") or {}, s.get("last_success") or {}
        rows.append(ScheduleRow(
            cluster=str(s.get("cluster", "")), key=key, tool=str(s.get("tool", "velero")), cron=str(s.get("cron", "")),
            health=schedule_health(s), problem=s.get("problem"), latest_phase=latest.get("phase"),
            latest_time=parse_iso(latest.get("time")), last_success=parse_iso(success.get("time")),
            missed_runs=int(s.get("missed_runs") or 0), runs=len(runs),
            success_rate=round(sum(r.get("phase") == "Completed" for r in finished) / len(finished), 4)
            if finished else None, ttl_seconds=s.get("ttl_seconds"), days=days))
    rows.sort(key=lambda r: (HEALTH_RANK.get(r.health, 9), r.cluster, r.key))
    return tuple(rows)


def schedule_health(s: dict[str, Any]) -> str:
    if not s.get("enabled"):
        return "paused" if s.get("paused") else "invalid"
    if not s.get("last_success"):
        return "never succeeded"
    if (s.get("latest") or {}).get("phase") in ("Failed", "PartiallyFailed", "FailedValidation"):
        return "failing"
    return "missed runs" if s.get("missed_runs") else "healthy"


def storage_rows(doc: dict[str, Any]) -> tuple[StorageRow, ...] | None:
    if "storage_locations" not in doc:
        return None
    rows = []
    for s in doc["storage_locations"]:
        target = "/".join(p for p in (s.get("bucket"), s.get("prefix")) if p) or None
        if s.get("region"):
            target = f"{target or ''} ({s['region']})".strip()
        rows.append(StorageRow(str(s.get("cluster", "")), str(s.get("kind", "")),
                               f"{s.get('namespace')}/{s.get('name')}", s.get("provider"), target,
                               bool(s.get("default")), s.get("access_mode"), s.get("phase"),
                               parse_iso(s.get("last_validated")), s.get("message"), s.get("credential")))
    return tuple(rows)


def run_rows(doc: dict[str, Any]) -> tuple[RunRow, ...] | None:
    if "executor_runs" not in doc:
        return None
    return tuple(RunRow(str(r.get("cluster", "")), str(r.get("kind", "")),
                        f"{r.get('namespace') or ''}/{r.get('object')}", str(r.get("target", "")),
                        str(r.get("status", "")), parse_iso(r.get("started_at")), r.get("duration_seconds"),
                        r.get("outcome"))
                 for r in doc["executor_runs"] or [])


def credential_rows(doc: dict[str, Any], as_of: datetime) -> tuple[CredentialRow, ...] | None:
    if "credentials" not in doc:
        return None
    rows = []
    for c in doc["credentials"] or []:
        rotated = parse_iso(c.get("rotated"))
        age = c.get("age_seconds")
        rows.append(CredentialRow(
            cluster=str(c.get("cluster", "")), secret=f"{c.get('namespace')}/{c.get('name')}"
            + (f" [{c['key']}]" if c.get("key") else ""), tool=str(c.get("tool", "")), kind=str(c.get("kind", "")),
            fingerprint=c.get("fingerprint"), rotated=rotated,
            age_seconds=float(age) if age is not None else ((as_of - rotated).total_seconds() if rotated else None),
            default_password=bool(c.get("default_password")), used_by=tuple(c.get("used_by") or ())))
    rows.sort(key=lambda r: (not r.default_password, -(r.age_seconds or 0)))
    return tuple(rows)


def evidence_items(evidence: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    items = []
    for key, value in evidence.items():
        if isinstance(value, list | tuple):
            text = "; ".join(v if isinstance(v, str) else json.dumps(v, default=str) for v in value)
        elif isinstance(value, dict):
            text = json.dumps(value, default=str, ensure_ascii=False)
        else:
            text = str(value)
        items.append((str(key), text))
    return tuple(items)


def _exception_text(e: dict[str, Any] | None) -> str | None:
    if not e:
        return None
    expires = f", expires {e['expires']}" if e.get("expires") else ""
    return f"{e.get('reason', '')} (owner {e.get('owner', '?')}{expires})"


def finding_groups(findings: Iterable[dict[str, Any]], rules: dict[str, Rule]) -> tuple[RuleGroup, ...]:
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        by_rule[f["rule_id"]].append(f)
    groups = []
    for rule_id, items in by_rule.items():
        rule = rules.get(rule_id)
        items.sort(key=lambda f: (f.get("status") != "open", f.get("cluster", ""), f.get("namespace") or "",
                                  f.get("kind", ""), f.get("name", "")))
        severity = rule.severity if rule else str(items[0].get("severity", "info"))
        groups.append(RuleGroup(
            rule_id=rule_id, title=rule.title if rule else rule_id, severity=severity,
            category=rule.category if rule else "", description=rule.description if rule else "",
            remediation=rule.remediation if rule else "", references=tuple(rule.references) if rule else (),
            frameworks=tuple(f"{k} {', '.join(v)}" for k, v in rule.frameworks.items()) if rule else (),
            open=sum(f.get("status") == "open" for f in items), excepted=sum(f.get("status") == "excepted"
                                                                             for f in items),
            rows=tuple(FindingRow(str(f.get("cluster", "")), f.get("namespace"), str(f.get("kind", "")),
                                  str(f.get("name", "")), str(f.get("status", "")), str(f.get("message", "")),
                                  evidence_items(f.get("evidence") or {}), _exception_text(f.get("exception")))
                       for f in items)))
    groups.sort(key=lambda g: (g.open == 0, SEVERITY_RANK.get(g.severity, 9), -g.open, g.rule_id))
    return tuple(groups)


def exception_rows(doc: dict[str, Any], waivers: tuple[WaiverChange, ...] | None = None,
                   ) -> tuple[ExceptionRow, ...] | None:
    """The register: expired, unused and matched waivers, with their history when a store recorded it, and
    the waivers that vanished since (last seen as they read then)."""
    if "exceptions" not in doc:
        return None
    register = doc["exceptions"] or {}
    events: dict[str, list[WaiverChange]] = defaultdict(list)
    for change in waivers or ():
        events[change.waiver].append(change)
    rows = []
    seen = set()
    for state in ("expired", "unused", "matched"):
        for e in register.get(state) or []:
            seen.add(str(e.get("id", "")))
            rows.append(_exception_row(state, e, e.get("findings"), events.get(str(e.get("id", "")), [])))
    for key, changes in sorted(events.items()):
        if key not in seen and changes[-1].event == "vanished":
            rows.append(_exception_row("vanished", changes[-1].detail, None, changes))
    return tuple(rows)


def _exception_row(state: str, e: dict[str, Any], findings: int | None, changes: list[WaiverChange]) -> ExceptionRow:
    appeared = [c for c in changes if c.event == "appeared"]
    later = [f"{c.event} {c.at.date().isoformat()}" for c in changes if c.event != "appeared"
             and (not appeared or c.at >= appeared[-1].at)]
    return ExceptionRow(state, str(e.get("id", "")), ", ".join(e.get("rules") or ()), exception_scope(e),
                        str(e.get("reason", "")), str(e.get("owner", "")), e.get("expires"), str(e.get("source", "")),
                        findings, appeared[-1].at.date().isoformat() if appeared else None,
                        "; ".join(later) or None)


def exception_scope(e: dict[str, Any]) -> str:
    """cluster/namespace/kind/name as the user wrote it: a document's ``scope``, else from the selector
    (an annotation waiver's name is its object's, regex-escaped inside the selector: shown unescaped)."""
    if e.get("scope"):
        scope = str(e["scope"])
    else:
        sel = e.get("selector") or {}
        name = str(sel.get("name") or "*")
        if e.get("source") == "annotation":
            name = re.sub(r"\\(.)", r"\1", name)
        scope = "/".join([*(str(sel.get(k) or "*") for k in ("cluster", "namespace", "kind")), name])
    labels = (e.get("selector") or {}).get("labels")
    if labels:
        scope += " " + ",".join(f"{k}={v}" for k, v in labels.items())
    return scope
