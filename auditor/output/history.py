"""``auditor history`` and ``auditor diff``: trends per cluster and what changed between two scans."""

from __future__ import annotations

import statistics
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.analyse.fleet import shown_names
from auditor.model.durations import format_duration
from auditor.model.rules import SEVERITIES
from auditor.output.safe import clean, text
from auditor.store.views import ClusterDiff, ScanSummary, StoredFinding

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
STATUS_STYLE = {"protected": "green", "stale": "yellow", "unprotected": "red", "unknown": "magenta"}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def history_document(rows: list[ScanSummary]) -> dict[str, Any]:
    return {"scans": [r.as_dict() for r in rows]}


def diff_document(diffs: list[ClusterDiff]) -> dict[str, Any]:
    return {"clusters": [d.as_dict() for d in diffs]}


def render_history(rows: list[ScanSummary], console: Console) -> None:
    """One line per cluster scan, oldest first; compliance scores in a second table (they need the width)."""
    if not rows:
        console.print("no scans recorded yet (auditor scan --store)")
        return
    shown = shown_names((r.cluster, r.cluster_uid) for r in rows)  # one name, two clusters: each with its uid
    table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 1, 0, 0))
    for name in ("scan", "as of (UTC)", "cluster", "vols", "cover", "in RPO", "c/h/m/l/i", "new", "fixed"):
        table.add_column(name, justify="left" if name in ("as of (UTC)", "cluster") else "right", no_wrap=True)
    for r in rows:
        when = f"{r.as_of:%Y-%m-%d %H:%M}"
        if r.error:
            table.add_row(str(r.scan_id), when, text(shown[(r.cluster, r.cluster_uid)]),
                          text(f"not scanned: {r.error}", style="red"))
            continue
        severities = Text()
        for i, sev in enumerate(SEVERITIES):
            n = r.findings_by_severity.get(sev, 0)
            severities.append(("/" if i else "") + str(n), style=SEVERITY_STYLE[sev] if n else "dim")
        table.add_row(str(r.scan_id), when, text(shown[(r.cluster, r.cluster_uid)]
                                                 + ("" if r.complete else " (incomplete)")),
                      str(r.volumes_audited), _pct(r.coverage), _pct(r.within_rpo), severities,
                      str(r.new_findings), str(r.resolved_findings))
    console.print(table)
    frameworks = sorted({f for r in rows for f in r.compliance})
    if frameworks:
        scores = Table(box=None, pad_edge=False, header_style="bold", title="compliance scores", title_justify="left")
        for name in ("scan", "cluster", *frameworks):
            scores.add_column(name, justify="left" if name == "cluster" else "right", no_wrap=True)
        for r in rows:
            if r.compliance:
                scores.add_row(str(r.scan_id), text(shown[(r.cluster, r.cluster_uid)]),
                               *(_pct(r.compliance.get(f)) for f in frameworks))
        console.print()
        console.print(scores)


def render_diff(diffs: list[ClusterDiff], console: Console) -> None:
    shown = shown_names((d.cluster, d.uid) for d in diffs)
    for d in diffs:
        console.print(text(f"cluster {shown[(d.cluster, d.uid)]}: scan {d.a.scan_id} ({d.a.as_of:%Y-%m-%d %H:%M}) "
                           f"-> scan {d.b.scan_id} ({d.b.as_of:%Y-%m-%d %H:%M})", style="bold"))
        console.print(f"  {len(d.new)} new, {len(d.resolved)} resolved, {len(d.changed)} changed, "
                      f"{d.unchanged} unchanged findings; {len(d.volumes)} volumes changed status", highlight=False)
        if d.new:
            console.print(Text("  NEW", style="bold red"))
            for f in d.new:
                console.print(_finding(f))
        if d.resolved:
            ttr = [r.seconds_to_resolve for r in d.resolved]
            console.print(Text(f"  RESOLVED (median time to resolve {format_duration(statistics.median(ttr))})",
                               style="bold green"))
            for r in d.resolved:
                console.print(_finding(r.finding, f" after {format_duration(r.seconds_to_resolve)}"))
        if d.changed:
            console.print(Text("  CHANGED", style="bold yellow"))
            for c in d.changed:
                what = clean(", ".join(f"{k} {getattr(c.before, k)} -> {getattr(c.after, k)}" for k in c.fields))
                console.print(_finding(c.after, f" ({what})"))
        if d.volumes:
            console.print(Text("  VOLUMES", style="bold"))
            for v in d.volumes:
                line = text(f"    {v.namespace}/{v.pvc}  ")
                line.append(v.before or "(new)", style=STATUS_STYLE.get(v.before or "", "dim"))
                line.append(" -> ")
                line.append(v.after or "(gone)", style=STATUS_STYLE.get(v.after or "", "dim"))
                console.print(line)
        console.print()


def _finding(f: StoredFinding, suffix: str = "") -> Text:
    line = Text("    ")
    line.append(f"{f.severity:<8}", style=SEVERITY_STYLE.get(f.severity, ""))
    line.append(f" {f.rule_id} ", style="bold")
    line.append(clean(f"{f.kind} {f.namespace + '/' if f.namespace else ''}{f.name}: {f.message}{suffix}"))
    return line
