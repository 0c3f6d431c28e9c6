"""``auditor fleet``: one row per cluster the history store knows, and the hub's findings (GOV-006, GOV-007)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.model.durations import format_duration
from auditor.model.rules import SEVERITIES, Finding
from auditor.output.safe import text
from auditor.store.views import FleetRow

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
STATUSES = (("protected", "green"), ("stale", "yellow"), ("unprotected", "red"), ("unknown", "magenta"))


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fleet_document(rows: list[FleetRow], findings: list[Finding], at: datetime) -> dict[str, Any]:
    return {"as_of": _iso(at), "clusters": [r.as_dict() for r in rows],
            "silent": sum(r.silent for r in rows), "findings": [f.as_dict() for f in findings]}


def _short(uid: str) -> str:
    return uid[:8] if uid else "-"


def render_fleet(rows: list[FleetRow], findings: list[Finding], console: Console) -> None:
    """The fleet table (by cluster name), the compliance scores beside it, then the hub's findings."""
    if not rows:
        console.print("no cluster recorded yet (auditor serve --store URL in each cluster, or auditor scan --store)")
        return
    table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 1, 0, 0))
    for name in ("cluster", "uid", "newest scan (UTC)", "age", "complete", "vols p/s/u/?", "findings c/h/m/l/i",
                 "agent"):
        table.add_column(name, justify="right" if name in ("age",) else "left", no_wrap=True)
    for r in rows:
        latest = r.latest
        volumes, severities = Text(), Text()
        if latest is not None:
            for i, (status, style) in enumerate(STATUSES):
                n = getattr(latest, f"volumes_{status}")
                volumes.append(("/" if i else "") + str(n), style=style if n else "dim")
            for i, sev in enumerate(SEVERITIES):
                n = latest.findings_by_severity.get(sev, 0)
                severities.append(("/" if i else "") + str(n), style=SEVERITY_STYLE[sev] if n else "dim")
        complete = text("yes", style="green") if r.complete else text(
            f"no: {r.error}" if r.error else "no", style="yellow")
        every = f"every {format_duration(r.agent.interval_seconds)}" if r.agent.interval_seconds else "no interval"
        agent = text(f"SILENT ({every})", style="bold red") if r.silent else text(f"ok ({every})")
        cluster = text(r.cluster + (" (name claimed twice)" if r.agent.conflict else ""),
                    style="red" if r.agent.conflict else "")
        table.add_row(cluster, _short(r.agent.uid), f"{r.agent.last_seen:%Y-%m-%d %H:%M}",
                      format_duration(r.age_seconds), complete, volumes, severities, agent)
    console.print(table)
    frameworks = sorted({f for r in rows if r.latest for f in r.latest.compliance})
    if frameworks:
        scores = Table(box=None, pad_edge=False, header_style="bold", title="compliance scores", title_justify="left")
        for name in ("cluster", "uid", *frameworks):
            scores.add_column(name, justify="left" if name in ("cluster", "uid") else "right", no_wrap=True)
        for r in rows:
            if r.latest is not None and r.latest.compliance:
                scores.add_row(text(r.cluster), _short(r.agent.uid),
                               *(_pct(r.latest.compliance.get(f)) for f in frameworks))
        console.print()
        console.print(scores)
    if findings:
        console.print()
        for f in findings:
            console.print(text(f"{f.rule_id} {f.severity:<8} {f.message}", style=SEVERITY_STYLE.get(f.severity, "")))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
