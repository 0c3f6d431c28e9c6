"""The console summary: clusters, volumes grouped by status with their reasons, findings by severity."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from rich.console import Console
from rich.text import Text

from auditor.analyse.scan import ScanResult
from auditor.model.analysis import STATUSES
from auditor.model.durations import format_duration
from auditor.model.rules import SEVERITIES
from auditor.output.document import summary
from auditor.output.filters import ScanFilter
from auditor.output.lines import LinePrinter
from auditor.output.safe import clean, text
from auditor.output.wide import render_volumes

STATUS_STYLE = {"protected": "green", "stale": "yellow", "unprotected": "red", "unknown": "magenta"}
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


MAX_WARNINGS_SHOWN = 10


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def render(result: ScanResult, console: Console, *, max_reasons: int = 3, wide: bool = False) -> None:
    with LinePrinter(console) as out:
        _render(result, console, out, max_reasons, wide)


def _render(result: ScanResult, console: Console, out: LinePrinter, max_reasons: int, wide: bool) -> None:
    s = summary(result)
    out.line(Text(f"backup-auditor scan as of {result.as_of:%Y-%m-%d %H:%M:%S} UTC", style="bold"))
    for c in result.clusters:
        if c.analysis is None:
            out.line(text(f"  cluster {c.name}: UNREACHABLE — {c.error}", style="red"))
            continue
        inv = c.analysis.inventory
        state = "complete" if inv.complete else "INCOMPLETE"
        line = Text("  cluster ")
        line.append(clean(c.name), style="bold")
        line.append(clean(f" ({inv.source}): {state}, {len(inv.pvcs)} PVCs, {len(inv.schedules)} schedules, "
                          f"{len(inv.backups)} backups"))
        out.line(line, soft_wrap=True)
        for gap in inv.gaps:
            style = "dim" if not gap.hides_data else "red"
            out.line(text(f"    gap: {gap.resource} ({gap.reason}) {gap.message}", style=style))
        for w in inv.warnings[:MAX_WARNINGS_SHOWN]:
            where = f"{w.kind} {w.namespace + '/' if w.namespace else ''}{w.name}"
            out.line(text(f"    warning: {where}: {w.message}", style="yellow"), soft_wrap=True)
        if len(inv.warnings) > MAX_WARNINGS_SHOWN:
            out.line(text(f"    (+{len(inv.warnings) - MAX_WARNINGS_SHOWN} more warnings: -o json)", style="dim"))

    by_status = defaultdict(list)
    for c in result.clusters:
        for v in c.analysis.volumes if c.analysis else ():
            by_status[v.status].append(v)
    multi = len(result.clusters) > 1
    if wide:  # -o wide: one table of the volumes with their PV, class, methods, coverage, last recovery point

        out.line()
        out.flush()
        render_volumes([v for st in STATUSES for v in by_status.get(st, [])], result.as_of, console, multi=multi)
    for status in () if wide else STATUSES:
        vols = by_status.get(status, [])
        if not vols:
            continue
        out.line()
        out.line(Text(f"{status.upper()} volumes ({len(vols)})", style=f"bold {STATUS_STYLE[status]}"))
        for v in sorted(vols, key=lambda x: (x.cluster, x.namespace, x.pvc)):
            age = "none"
            if v.last_success:
                age = format_duration((result.as_of - v.last_success).total_seconds()) + " ago"
            line = Text("  ")
            line.append(clean(f"{v.cluster}/") if multi else "", style="dim")
            line.append(clean(v.key), style="bold")
            line.append(clean(f"  last recovery point {age}; methods {', '.join(v.methods) or '-'}; "
                              f"policy {v.policy.name} (RPO {format_duration(v.policy.rpo)})"))
            if v.covered_by:
                line.append(clean(f"; covered by {', '.join(v.covered_by)}"))
            if not v.audited:
                line.append("  [namespace not audited]", style="dim")
            out.line(line, soft_wrap=True)
            for reason in v.reasons[:max_reasons]:
                out.line(text(f"      - {reason}"), soft_wrap=True)
            if len(v.reasons) > max_reasons:
                out.line(text(f"      (+{len(v.reasons) - max_reasons} more: auditor explain pvc {v.key})",
                                   style="dim"), soft_wrap=True)

    findings = [f for f in result.findings if f.status == "open"]
    if findings:
        out.line()
        out.line(Text(f"Findings ({len(findings)})", style="bold"))
        order = {sev: i for i, sev in enumerate(SEVERITIES)}
        for f in sorted(findings, key=lambda f: (order.get(f.severity, 9), f.rule_id, f.namespace or "", f.name)):
            line = Text("  ")
            line.append(f"{f.severity:<8}", style=SEVERITY_STYLE.get(f.severity, ""))
            line.append(f" {f.rule_id} ")
            line.append(clean(f"{f.cluster}: ") if multi else "", style="dim")
            line.append(clean(f.message))
            out.line(line, soft_wrap=True)
    errors = Counter(f.rule_id for f in result.results if f.status == "error")
    if errors:
        out.line()
        out.line(Text(f"Rule errors ({sum(errors.values())}): " + ", ".join(
            f"{rule} on {n} subject(s)" for rule, n in sorted(errors.items())) + " (-o json lists them)",
            style="red"), soft_wrap=True)
    out.line()
    if result.filters:
        out.line(Text(f"Filtered ({ScanFilter(**_filter_fields(result.filters)).text()}): volumes, findings "
                           "and their counts are of the filtered view; compliance scores are of the whole scan.",
                           style="yellow"), soft_wrap=True)
    for c in result.clusters:
        if c.compliance:
            scores = ", ".join(f"{fw.framework} {_pct(fw.score)} (coverage {_pct(fw.coverage)})" for fw in c.compliance)
            out.line(text(f"Compliance{' of ' + c.name if multi else ''}: {scores}"), soft_wrap=True)
    if result.exceptions and (result.exceptions.matched or result.exceptions.unused or result.exceptions.expired):
        ex = result.exceptions
        out.line(Text(f"Exceptions: {sum(n for _, n in ex.matched)} finding(s) excepted by {len(ex.matched)} "
                           f"exception(s); {len(ex.unused)} unused; {len(ex.expired)} expired"), soft_wrap=True)
    counts = ", ".join(f"{n} {st}" for st, n in s["volumes_by_status"].items())
    ratio = f"{s['protected_ratio']:.0%}" if s["protected_ratio"] is not None else "n/a"
    sev = ", ".join(f"{n} {k}" for k, n in s["findings_by_severity"].items() if n)
    out.line(Text(f"Volumes audited: {s['volumes_audited']} of {s['volumes']} ({counts}); "
                       f"protected {ratio}. Findings: {s['findings']}" + (f" ({sev})" if sev else "") + ".",
                       style="bold"))


def _filter_fields(described: dict[str, Any]) -> dict[str, Any]:
    """ScanFilter's fields back from its description (the severity is described as "high and worse")."""
    fields: dict[str, Any] = {k: tuple(v) for k, v in described.items()
                              if k in ("namespaces", "clusters", "statuses", "rules")}
    if "severity" in described:
        fields["severity"] = str(described["severity"]).split()[0]
    return fields
