"""The fleet parts of a report from the history store (``report --from-store``), built from its document's
``fleet`` section: the rollup rows, how its lists are bounded, and each framework over the whole fleet.

A fleet of a hundred clusters is read as a summary: one row per cluster, each framework's controls summed
over the clusters (each cluster's score is in its row), and lists bounded per cluster with a count of what
they leave out (``--fleet-detail``).
"""

from __future__ import annotations

from typing import Any

from auditor.model.analysis import STATUSES
from auditor.model.rules import SEVERITIES
from auditor.output.report.model import ControlView, FleetFinding, FleetRow, FrameworkView
from auditor.output.report.source import parse_iso

#: the worst clusters named next to a framework's fleet score (every cluster's is in the fleet table)
LOWEST_SHOWN = 5
STATUS_ORDER = ("fail", "error", "not-evaluated", "excepted", "pass")


def fleet_rows(doc: dict[str, Any]) -> tuple[FleetRow, ...]:
    """The fleet rollup: one row per cluster, its newest scan, age, counts and trend."""
    fleet = doc.get("fleet")
    if not isinstance(fleet, dict):
        return ()
    summaries = {p.get("cluster"): p for p in (doc.get("summary") or {}).get("per_cluster") or []}
    out = []
    for r in fleet.get("clusters") or []:
        p = summaries.get(r.get("cluster")) or {}
        by_status = {s: int((p.get("volumes_by_status") or {}).get(s, 0)) for s in STATUSES}
        trend = [float(v) for _, v in r.get("trend") or []]
        out.append(FleetRow(
            cluster=str(r.get("cluster", "")), scan_id=r.get("scan_id"), as_of=parse_iso(r.get("as_of")),
            age_seconds=r.get("age_seconds"), stale=bool(r.get("stale")), complete=bool(p.get("complete")),
            error=p.get("error"), by_status=by_status, audited=sum(by_status.values()),
            by_severity={s: int((p.get("findings_by_severity") or {}).get(s, 0)) for s in SEVERITIES},
            scores=dict(p.get("compliance") or {}), trend_first=trend[0] if len(trend) > 1 else None,
            trend_last=trend[-1] if trend else None, newest_error=r.get("newest_attempt_error"),
            omitted=left_out(r.get("omitted"))))
    return tuple(out)


def fleet_findings_of(doc: dict[str, Any]) -> tuple[FleetFinding, ...]:
    """The fleet's own findings (``fleet.findings``: GOV-006, GOV-007), once each, the most severe first."""
    fleet = doc.get("fleet")
    found = [f for f in (fleet.get("findings") if isinstance(fleet, dict) else None) or [] if isinstance(f, dict)]
    rank: dict[Any, int] = {s: i for i, s in enumerate(SEVERITIES)}
    return tuple(FleetFinding(str(f.get("rule_id", "")), str(f.get("severity", "")), str(f.get("cluster", "")),
                              str(f.get("message", "")))
                 for f in sorted(found, key=lambda f: (rank.get(f.get("severity"), len(rank)), str(f.get("rule_id")),
                                                       str(f.get("cluster")))))


LIST_NAMES = {"volumes": "volumes", "findings": "findings", "schedules": "schedules", "warnings": "warnings",
              "executor_runs": "executor runs"}


def left_out(counts: Any) -> str:
    """``239 volumes, 16 schedules``: what a fleet report's lists leave out."""
    if not isinstance(counts, dict):
        return ""
    return ", ".join(f"{int(counts[k]):,} {name}" for k, name in LIST_NAMES.items() if counts.get(k))


def fleet_lists(doc: dict[str, Any]) -> str:
    """The sentence saying how a fleet report's lists are bounded (``--fleet-detail summary``)."""
    fleet = doc.get("fleet")
    if not isinstance(fleet, dict):
        return ""
    limits = fleet.get("per_cluster_limit")
    if not isinstance(limits, dict):
        return ""
    kept = ", ".join(f"{int(n):,} {LIST_NAMES.get(k, k)}" for k, n in limits.items())
    rest = left_out(fleet.get("omitted"))
    return (f"Each cluster's lists in this report keep the worst of what needs attention ({fleet.get('listed')}): "
            f"at most {kept} per cluster. "
            + (f"Left out of the lists: {rest}; " if rest else "Nothing was left out; ")
            + "every count, score and chart covers them. The HTML names what each cluster left out; "
              "--fleet-detail attention lists all of what needs attention, --fleet-detail all every entry "
              "(HTML and JSON).")



def fleet_frameworks(views: tuple[FrameworkView, ...], doc: dict[str, Any]) -> tuple[FrameworkView, ...]:
    """Each framework over the fleet: its controls' checks summed over the clusters, the fleet's score (the
    rollup's) and the lowest coverage. One table per framework, not one per cluster."""
    rollup = {r.get("framework"): r for r in doc.get("compliance_rollup") or []}
    out = []
    for framework in dict.fromkeys(v.framework for v in views if v.evaluated):
        mine = [v for v in views if v.framework == framework and v.evaluated]
        controls: dict[str, list[ControlView]] = {}
        for v in mine:
            for c in v.controls:
                controls.setdefault(c.control_id, []).append(c)
        coverages = [v.coverage for v in mine if v.coverage is not None]
        out.append(FrameworkView(
            framework=framework, name=mine[0].name, cluster=f"{len(mine)} clusters", evaluated=True,
            score=rollup.get(framework, {}).get("score"), coverage=min(coverages) if coverages else None,
            controls=tuple(ControlView(
                cs[0].control_id, cs[0].title, cs[0].rules,
                min((c.status for c in cs), key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 0),
                sum(c.passed for c in cs), sum(c.failed for c in cs), sum(c.not_evaluated for c in cs),
                sum(c.excepted for c in cs)) for cs in controls.values())))
    return tuple(out)


def lowest_scores(mine: list[FrameworkView]) -> str:
    """``lowest: a 80.0%, b 81.2%; every cluster's score is in the fleet table``."""
    scored = sorted((v for v in mine if v.score is not None), key=lambda v: (v.score or 0.0, str(v.cluster)))
    unscored = sum(1 for v in mine if v.score is None)
    shown = ", ".join(f"{v.cluster} {v.score:.1%}" for v in scored[:LOWEST_SHOWN])
    return (f"lowest: {shown}" if shown else "") + (f"; {unscored} not evaluated" if unscored else "") + \
        "; every cluster's score is in the fleet table"
