"""Build the report model from a scan document (the one input every path produces)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from auditor.analyse.compliance import Framework
from auditor.model.analysis import STATUSES
from auditor.model.rules import SEVERITIES, Rule
from auditor.output.report import charts
from auditor.output.report.fleet_build import (
    fleet_findings_of,
    fleet_frameworks,
    fleet_lists,
    fleet_rows,
    lowest_scores,
)
from auditor.output.report.history import History
from auditor.output.report.model import (
    PRINT,
    Charts,
    ClusterView,
    ControlView,
    FrameworkMatrix,
    FrameworkSummary,
    FrameworkView,
    GapView,
    MatrixRow,
    Meta,
    NamespaceRow,
    OverdueRow,
    PolicyView,
    Report,
    RuleRow,
    ScheduleRow,
    Summary,
    VolumeRow,
)
from auditor.output.report.preflight import preflight_rows
from auditor.output.report.risks import headline, top_risks
from auditor.output.report.source import SourceDocument, parse_iso
from auditor.output.report.tables import (
    credential_rows,
    exception_rows,
    finding_groups,
    run_rows,
    schedule_rows,
    storage_rows,
)

STATUS_COLORS = {"protected": "#2e7d32", "stale": "#f9a825", "unprotected": "#c62828", "unknown": "#6a1b9a"}
STATUS_RANK = {"unprotected": 0, "unknown": 1, "stale": 2, "protected": 3}
GAP_MEANING = {
    "forbidden": "The scan's identity may not read this: verdicts that depend on it are 'unknown', never "
                 "'protected'. Grant read access and re-run.",
    "error": "Reading this failed (server error, broken connection or malformed object): verdicts that depend "
             "on it are 'unknown', never 'protected'.",
    "not-found": "The resource was not found: verdicts that depend on it are 'unknown'.",
    "not-served": "The cluster does not serve this API (the tool is not installed): there are no such objects, "
                  "nothing is hidden.",
}
DAYS = 30


@dataclass(frozen=True)
class BuildOptions:
    rules: tuple[Rule, ...]
    frameworks: tuple[Framework, ...] = ()  # the catalog, for documents without scores
    focus: tuple[str, ...] = ()  # framework ids to show (empty: all)
    history: History | None = None
    generated_by: str = "backup-auditor"
    generated_at: datetime | None = None
    document_sha256: str = ""
    document_name: str = ""


def build_report(source: SourceDocument, options: BuildOptions) -> Report:
    doc = source.data
    as_of = parse_iso(doc.get("as_of")) or datetime.now(UTC)
    rules = {r.id: r for r in options.rules}
    volumes: list[dict[str, Any]] = doc.get("volumes") or []
    audited = [v for v in volumes if v.get("audited", True)]
    frameworks = framework_views(doc, options)
    days = tuple(as_of.date() - timedelta(days=i) for i in range(DAYS - 1, -1, -1))
    schedules = schedule_rows(doc, as_of, options.history)
    summary = build_summary(doc, audited, frameworks, rules)
    namespaces = namespace_rows(volumes)
    buckets = rpo_buckets(audited, as_of)
    trend = tuple(sorted(options.history.trend)) if options.history else ()
    if trend and summary.protected_ratio is not None:  # this scan is the newest point of the trend
        trend = (*(p for p in trend if p[0] != as_of.date()), (as_of.date(), summary.protected_ratio))
    heat = sorted(schedules or (), key=lambda s: (-sum(o in ("failed", "partial") for o in s.days.values()), s.key))
    chart_rows = [(f"{s.key}" if len({x.cluster for x in heat}) < 2 else f"{s.cluster}/{s.key}", s.days)
                  for s in heat]
    sha = options.document_sha256
    fleet = fleet_rows(doc)
    counted = {str(p.get("cluster")): dict(p.get("volumes_by_status") or {})
               for p in (doc.get("summary") or {}).get("per_cluster") or []} if fleet else None
    meta = Meta(
        title="Fleet backup compliance report" if fleet else "Backup compliance report",
        clusters=tuple(c.get("name", "") for c in doc.get("clusters") or []),
        as_of=as_of, period_start=period_start(volumes, schedules, trend), generated_by=options.generated_by,
        generated_at=options.generated_at or datetime.now(UTC).replace(microsecond=0),
        tool_version=str(doc.get("tool_version", "")), document_sha256=sha, document_name=options.document_name,
        report_id=f"BA-{as_of:%Y%m%d-%H%M}-{sha[:8] or 'unhashed'}", framework_focus=options.focus)
    return Report(
        meta=meta, summary=summary,
        clusters=tuple(cluster_view(c, volumes, counted) for c in doc.get("clusters") or []),
        policies=policy_views(volumes), excluded_namespaces=tuple(sorted({v["namespace"] for v in volumes
                                                                          if not v.get("audited", True)})),
        frameworks=frameworks, framework_matrix=() if fleet else framework_matrix(frameworks), namespaces=namespaces,
        rpo_buckets=buckets, overdue=overdue_rows(audited, as_of),
        evidence_counts=dict(Counter(v["recovery_points"][0]["evidence"] for v in audited
                                     if v.get("recovery_points")).most_common()),
        method_counts=dict(Counter(m for v in audited if v["status"] == "protected"
                                   for m in v.get("methods") or []).most_common()),
        schedules=schedules, days=days, storage=storage_rows(doc), credentials=credential_rows(doc, as_of),
        findings=finding_groups(doc.get("findings") or [], rules),
        exceptions=exception_rows(doc, options.history.waivers if options.history else None),
        volumes=volume_rows(volumes, as_of), rules=tuple(rule_row(r) for r in options.rules),
        charts=Charts(
            coverage=charts.donut([(s, summary.by_status.get(s, 0), STATUS_COLORS[s]) for s in STATUSES],
                                  _pct(summary.protected_ratio), "within RPO"),
            namespaces=charts.stacked_bars(
                [(f"{n.namespace}" if len(meta.clusters) < 2 else f"{n.cluster}/{n.namespace}", n.by_status)
                 for n in namespaces if n.audited][:20], STATUS_COLORS, "Volumes by status, per namespace"),
            rpo=charts.columns(buckets, "Age of the newest recovery point, relative to each volume's RPO",
                               marker_after=2, marker_label="RPO"),
            heatmap=charts.heatmap(chart_rows, days, "Schedule outcomes per day") if heat else None,
            heatmap_print=charts.heatmap(chart_rows[:PRINT.heatmap], days, "Schedule outcomes per day",
                                         tooltips=False)
            if heat else None,
            heatmap_rows=len(chart_rows),
            trend=charts.trend_line(trend, "Audited volumes within RPO, per day", target=1.0) if trend else None),
        trend=trend, runs=run_rows(doc), preflights=preflight_rows(doc),
        waiver_history=options.history is not None and options.history.waivers is not None, fleet=fleet,
        fleet_lists=fleet_lists(doc) if fleet else "",
        fleet_frameworks=fleet_frameworks(frameworks, doc) if fleet else (), fleet_findings=fleet_findings_of(doc))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def build_summary(doc: dict[str, Any], audited: list[dict[str, Any]], frameworks: tuple[FrameworkView, ...],
                  rules: dict[str, Rule]) -> Summary:
    s = doc.get("summary") or {}
    by_status = {st: sum(1 for v in audited if v["status"] == st) for st in STATUSES}
    findings = doc.get("findings") or []
    open_findings = [f for f in findings if f.get("status") == "open"]
    checks = {k: int(v) for k, v in (s.get("checks") or {}).items()}
    passed, failed = checks.get("pass", 0), checks.get("open", len(open_findings))
    covered = sum(1 for v in audited if v.get("covered_by"))
    clusters = doc.get("clusters") or []
    by_severity = {sev: sum(1 for f in open_findings if f.get("severity") == sev) for sev in SEVERITIES}
    n_audited, n_volumes, n_open = len(audited), len(doc.get("volumes") or []), len(open_findings)
    excepted = sum(1 for f in findings if f.get("status") == "excepted")
    note = filtered_note(s.get("filtered"))
    if isinstance(doc.get("fleet"), dict):  # the lists keep what needs attention: the counts are the summary's
        by_status = {st: int((s.get("volumes_by_status") or {}).get(st, 0)) for st in STATUSES}
        by_severity = {sev: int((s.get("findings_by_severity") or {}).get(sev, 0)) for sev in SEVERITIES}
        n_audited, n_volumes = int(s.get("volumes_audited") or 0), int(s.get("volumes") or 0)
        n_open, excepted = sum(by_severity.values()), int(s.get("findings_excepted") or 0)
        covered = by_status["protected"] + by_status["stale"]
        note += fleet_note(doc["fleet"])
    return Summary(
        headline=headline(by_status, n_audited, clusters) + note,
        volumes=n_volumes, audited=n_audited, by_status=by_status,
        protected_ratio=round(by_status["protected"] / n_audited, 4) if n_audited else None,
        coverage_ratio=round(covered / n_audited, 4) if n_audited else None,
        pass_rate=round(passed / (passed + failed), 4) if checks and passed + failed else None,
        checks=checks, findings=n_open, by_severity=by_severity, excepted=excepted,
        risks=top_risks(doc, rules), clusters=len(clusters),
        clusters_complete=sum(1 for c in clusters if c.get("complete")),
        frameworks=framework_summaries(doc, frameworks))


def filtered_note(filtered: Any) -> str:
    """What a filtered report shows (``-n``, ``--cluster``, ``--status``, ``--severity``, ``--rule``)."""
    if not isinstance(filtered, dict):
        return ""
    how = "; ".join(f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in filtered.items() if k != "note")
    return f" Filtered ({how}): the volumes and findings of this report are a filtered view; the compliance " \
           "scores are those of the whole scan."


def fleet_note(fleet: dict[str, Any]) -> str:
    """What a report from the history store is made of: each cluster's newest scan, some of them old."""
    rows = fleet.get("clusters") or []
    stale = [r for r in rows if r.get("stale")]
    text = f" Each cluster's newest recorded scan ({len(rows)} cluster{'s' if len(rows) != 1 else ''}, none read now)"
    text += f"; {len(stale)} older than their agent's interval allows (marked with their age)." if stale else "."
    if fleet.get("listed"):
        text += f" Listed: {fleet['listed']}; the counts and scores cover everything."
    return text


def framework_summaries(doc: dict[str, Any], views: tuple[FrameworkView, ...]) -> tuple[FrameworkSummary, ...]:
    """One row per framework: the fleet's score (all clusters' checks together) and each cluster's."""
    evaluated = [v for v in views if v.evaluated]
    rollup = {r.get("framework"): r for r in doc.get("compliance_rollup") or []}
    out = []
    for framework in dict.fromkeys(v.framework for v in evaluated):
        mine = [v for v in evaluated if v.framework == framework]
        coverages = [v.coverage for v in mine if v.coverage is not None]
        score = mine[0].score if len(mine) == 1 else rollup.get(framework, {}).get("score")
        by_cluster = "" if len(mine) < 2 else lowest_scores(mine) if isinstance(doc.get("fleet"), dict) else \
            ", ".join(f"{v.cluster} {v.score:.1%}" if v.score is not None else f"{v.cluster} not evaluated"
                      for v in mine)
        out.append(FrameworkSummary(framework, mine[0].name, score, min(coverages) if coverages else None,
                                    by_cluster))
    return tuple(out)


def cluster_view(c: dict[str, Any], volumes: list[dict[str, Any]],
                 counted: dict[str, dict[str, int]] | None = None) -> ClusterView:
    """A cluster's section; ``counted``: its volumes by status when the document lists only some of them."""
    mine = [v for v in volumes if v.get("cluster") == c.get("name") and v.get("audited", True)]
    by_status = {s: sum(1 for v in mine if v["status"] == s) for s in STATUSES}
    if counted is not None and c.get("name") in counted:
        by_status = {s: int(counted[str(c.get("name"))].get(s, 0)) for s in STATUSES}
    return ClusterView(
        name=str(c.get("name", "")), source=c.get("source"), server_version=c.get("server_version"),
        complete=bool(c.get("complete")), error=c.get("error"), counts=dict(c.get("counts") or {}),
        gaps=tuple(GapView(g.get("resource", ""), g.get("namespace"), g.get("reason", ""), g.get("message", ""),
                           GAP_MEANING.get(g.get("reason", ""), "")) for g in c.get("gaps") or []),
        unknown_kinds=dict(c.get("unknown_kinds") or {}),
        by_status=by_status, volumes=sum(by_status.values()), as_of=parse_iso(c.get("scan_as_of")),
        age_seconds=c.get("age_seconds"), stale=bool(c.get("stale")))


def policy_views(volumes: list[dict[str, Any]]) -> tuple[PolicyView, ...]:
    seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in volumes:
        if v.get("audited", True):
            seen[v.get("policy") or "default"].append(v)
    return tuple(PolicyView(name, float(vs[0].get("rpo_seconds") or 0), float(vs[0].get("retention_seconds") or 0),
                            len(vs)) for name, vs in sorted(seen.items()))


def framework_views(doc: dict[str, Any], options: BuildOptions) -> tuple[FrameworkView, ...]:
    entries = list(doc.get("compliance") or [])
    for c in doc.get("clusters") or []:  # a document may also carry scores per cluster
        entries += [{**e, "cluster": c.get("name")} for e in c.get("compliance") or []]
    views = [FrameworkView(
        framework=str(e.get("framework", "")), name=str(e.get("name", e.get("framework", ""))),
        cluster=e.get("cluster"), evaluated=True, score=e.get("score"), coverage=e.get("coverage"),
        controls=tuple(ControlView(str(c.get("id", c.get("control_id", ""))), str(c.get("title", "")),
                                   tuple(c.get("rules") or ()),
                                   str(c.get("status", "not-evaluated")), int(c.get("passed", 0)),
                                   int(c.get("failed", 0)), int(c.get("not_evaluated", 0)),
                                   int(c.get("excepted", 0))) for c in e.get("controls") or []))
        for e in entries]
    if not views:  # an older document: show the mapping, with the open findings of each control's rules
        findings = Counter((f["rule_id"], f.get("status")) for f in doc.get("findings") or [])
        views = [FrameworkView(
            framework=f.id, name=f.name, cluster=None, evaluated=False, score=None, coverage=None,
            controls=tuple(ControlView(c.id, c.title, c.rules, "fail" if failed else "not-evaluated", 0, failed, 0,
                                       sum(findings[(r, "excepted")] for r in c.rules))
                           for c in f.controls for failed in [sum(findings[(r, "open")] for r in c.rules)]))
            for f in options.frameworks]
    if options.focus:
        views = [v for v in views if v.framework in options.focus]
    return tuple(views)


def framework_matrix(views: tuple[FrameworkView, ...]) -> tuple[FrameworkMatrix, ...]:
    out = []
    for framework in dict.fromkeys(v.framework for v in views if v.evaluated):
        mine = tuple(v for v in views if v.framework == framework and v.evaluated)
        controls = {c.control_id: c for v in mine for c in v.controls}
        rows = tuple(MatrixRow(c.control_id, c.title, c.rules,
                               tuple(next((x for x in v.controls if x.control_id == cid), None) for v in mine))
                     for cid, c in controls.items())
        out.append(FrameworkMatrix(framework, mine[0].name, mine, rows))
    return tuple(out)


def namespace_rows(volumes: list[dict[str, Any]]) -> tuple[NamespaceRow, ...]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for v in volumes:
        groups[(v.get("cluster", ""), v["namespace"])].append(v)
    rows = [NamespaceRow(cluster, ns, {s: sum(1 for v in vs if v["status"] == s) for s in STATUSES}, len(vs),
                         any(v.get("audited", True) for v in vs)) for (cluster, ns), vs in groups.items()]
    rows.sort(key=lambda r: (not r.audited, -r.by_status["unprotected"], -r.by_status["unknown"],
                             -r.by_status["stale"], r.cluster, r.namespace))
    return tuple(rows)


def _age(v: dict[str, Any], as_of: datetime) -> float | None:
    last = parse_iso(v.get("last_success"))
    return (as_of - last).total_seconds() if last else None


def rpo_buckets(audited: list[dict[str, Any]], as_of: datetime) -> tuple[tuple[str, int, str], ...]:
    edges = [("≤ ¼ RPO", 0.25, "#2e7d32"), ("¼–½ RPO", 0.5, "#43a047"), ("½–1 RPO", 1.0, "#7cb342"),
             ("1–2× RPO", 2.0, "#f9a825"), ("2–7× RPO", 7.0, "#ef6c00"), ("> 7× RPO", float("inf"), "#c62828")]
    counts = [0] * (len(edges) + 1)
    for v in audited:
        age, rpo = _age(v, as_of), float(v.get("rpo_seconds") or 0) or 86400.0
        if age is None:
            counts[-1] += 1
            continue
        counts[next(i for i, (_, edge, _) in enumerate(edges) if age / rpo <= edge)] += 1
    return (*((label, n, color) for (label, _, color), n in zip(edges, counts, strict=False)),
            ("none", counts[-1], "#90a4ae"))


def overdue_rows(audited: list[dict[str, Any]], as_of: datetime) -> tuple[OverdueRow, ...]:
    rows = []
    for v in audited:
        if v["status"] == "protected":
            continue
        points = v.get("recovery_points") or []
        rows.append(OverdueRow(v.get("cluster", ""), v["namespace"], v["pvc"], v["status"],
                               float(v.get("rpo_seconds") or 0), _age(v, as_of), parse_iso(v.get("last_success")),
                               points[0].get("source") if points else None))
    rows.sort(key=lambda r: (r.age_seconds is not None, -(r.age_seconds or 0) / (r.rpo_seconds or 1),
                             r.cluster, r.namespace, r.pvc))
    return tuple(rows)


def volume_rows(volumes: list[dict[str, Any]], as_of: datetime) -> tuple[VolumeRow, ...]:
    rows = [VolumeRow(str(v.get("cluster", "")), v["namespace"], v["pvc"], v["status"], bool(v.get("audited", True)),
                      str(v.get("policy") or ""), float(v.get("rpo_seconds") or 0), parse_iso(v.get("last_success")),
                      _age(v, as_of), tuple(v.get("methods") or ()), tuple(v.get("covered_by") or ()),
                      (v.get("reasons") or [None])[0]) for v in volumes]
    rows.sort(key=lambda r: (not r.audited, STATUS_RANK.get(r.status, 9), r.cluster, r.namespace, r.pvc))
    return tuple(rows)


def rule_row(r: Rule) -> RuleRow:
    return RuleRow(r.id, r.title, r.severity, r.category,
                   "; ".join(f"{k} {', '.join(v)}" for k, v in r.frameworks.items()))


def period_start(volumes: list[dict[str, Any]], schedules: tuple[ScheduleRow, ...] | None,
                 trend: tuple[tuple[date, float], ...]) -> datetime | None:
    times = [t for v in volumes for p in v.get("recovery_points") or [] for t in [parse_iso(p.get("time"))] if t]
    times += [datetime(d.year, d.month, d.day, tzinfo=UTC) for s in schedules or () for d in s.days]
    times += [datetime(d.year, d.month, d.day, tzinfo=UTC) for d, _ in trend[:1]]
    return min(times) if times else None
