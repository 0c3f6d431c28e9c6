"""The console summary: clusters, volumes grouped by status with their reasons, findings by severity."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.analyse.coverage import STATUSES
from auditor.checks.registry import SEVERITIES
from auditor.durations import format_duration
from auditor.output.document import summary
from auditor.pipeline import ScanResult

STATUS_STYLE = {"protected": "green", "stale": "yellow", "unprotected": "red", "unknown": "magenta"}
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def render(result: ScanResult, console: Console, *, max_reasons: int = 3) -> None:
    s = summary(result)
    console.print(Text(f"backup-auditor scan as of {result.as_of:%Y-%m-%d %H:%M:%S} UTC", style="bold"))
    for c in result.clusters:
        if c.analysis is None:
            console.print(Text(f"  cluster {c.name}: UNREACHABLE — {c.error}", style="red"))
            continue
        inv = c.analysis.inventory
        state = "complete" if inv.complete else "INCOMPLETE"
        console.print(f"  cluster [bold]{c.name}[/] ({inv.source}): {state}, {len(inv.pvcs)} PVCs, "
                      f"{len(inv.schedules)} schedules, {len(inv.backups)} backups", markup=True, highlight=False)
        for gap in inv.gaps:
            style = "dim" if not gap.hides_data else "red"
            console.print(Text(f"    gap: {gap.resource} ({gap.reason}) {gap.message}", style=style))

    by_status = defaultdict(list)
    for c in result.clusters:
        for v in c.analysis.volumes if c.analysis else ():
            by_status[v.status].append(v)
    multi = len(result.clusters) > 1
    for status in STATUSES:
        vols = by_status.get(status, [])
        if not vols:
            continue
        table = Table(title=f"{status.upper()} volumes ({len(vols)})", title_justify="left",
                      title_style=STATUS_STYLE[status], show_lines=False, expand=False)
        if multi:
            table.add_column("cluster")
        table.add_column("namespace/pvc", overflow="fold")
        table.add_column("last recovery point")
        table.add_column("methods")
        table.add_column("policy")
        table.add_column("why" if status != "protected" else "covered by", overflow="fold")
        for v in sorted(vols, key=lambda x: (x.cluster, x.namespace, x.pvc)):
            age = "none"
            if v.last_success:
                age = format_duration((result.as_of - v.last_success).total_seconds()) + " ago"
            detail = "; ".join(v.reasons[:max_reasons]) if status != "protected" else ", ".join(v.covered_by)
            if not v.audited:
                detail = "(namespace not audited) " + detail
            row = [v.key, age, ", ".join(v.methods) or "-", f"{v.policy.name} ({format_duration(v.policy.rpo)})",
                   detail]
            table.add_row(*([v.cluster] if multi else []), *row)
        console.print(table)

    findings = [f for f in result.findings if f.status == "open"]
    if findings:
        table = Table(title=f"Findings ({len(findings)})", title_justify="left", title_style="bold")
        table.add_column("severity")
        table.add_column("rule")
        if multi:
            table.add_column("cluster")
        table.add_column("object", overflow="fold")
        table.add_column("message", overflow="fold")
        order = {sev: i for i, sev in enumerate(SEVERITIES)}
        for f in sorted(findings, key=lambda f: (order.get(f.severity, 9), f.rule_id, f.namespace or "", f.name)):
            obj = f"{f.kind} {f.namespace + '/' if f.namespace else ''}{f.name}"
            table.add_row(Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")), f.rule_id,
                          *([f.cluster] if multi else []), obj, f.message)
        console.print(table)
    counts = ", ".join(f"{n} {st}" for st, n in s["volumes_by_status"].items())
    ratio = f"{s['protected_ratio']:.0%}" if s["protected_ratio"] is not None else "n/a"
    sev = ", ".join(f"{n} {k}" for k, n in s["findings_by_severity"].items() if n)
    console.print(Text(f"Volumes audited: {s['volumes_audited']} of {s['volumes']} ({counts}); "
                       f"protected {ratio}. Findings: {s['findings']}" + (f" ({sev})" if sev else "") + ".",
                       style="bold"))
