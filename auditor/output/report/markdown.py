"""A Markdown summary for a pull request or a ticket: the numbers, the risks and the worst findings.

Cluster text is escaped for Markdown (and HTML, which Markdown renderers pass through), so a hostile
name can neither inject a link, an image nor markup.
"""

from __future__ import annotations

import re

from auditor.output.report.model import Report
from auditor.output.report.templating import duration, pct, when
from auditor.output.safe import clean

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~-])")
MAX_ROWS = 20


def md(text: object) -> str:
    """Inline Markdown-safe text: HTML and Markdown specials escaped, newlines folded, control characters
    and bidi overrides shown as escapes (the file is also read with ``cat``)."""
    value = _SPECIAL.sub(r"\\\1", clean(" ".join(str(text).split())))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(value.split())


def fleet_table(r: Report) -> list[str]:
    """One row per cluster of a report from the history store: its newest scan, age, verdicts and trend."""
    lines = ["### Fleet: each cluster's newest scan", "",
             "| Cluster | Newest scan | Age | Within RPO | Unprotected | Critical / high | Within RPO, 30 days |",
             "|---|---|---:|---:|---:|---:|---|"]
    for c in r.fleet:
        scan = f"{when(c.as_of)} (scan {c.scan_id})" if c.scan_id else "never read"
        if c.newest_error and not c.error:
            scan += f"; newest attempt failed: {md(c.newest_error)}"
        age = ("**old** " if c.stale else "") + duration(c.age_seconds)
        trend = f"{pct(c.trend_first)} → {pct(c.trend_last)}" if c.trend_first is not None else pct(c.trend_last, "—")
        within = pct(c.by_status["protected"] / c.audited if c.audited else None, "n/a")
        lines.append(f"| {md(c.cluster)} | {scan}{' — ' + md(c.error) if c.error else ''} | {age} | {within} | "
                     f"{c.by_status['unprotected']:,} | {c.by_severity['critical']:,} / {c.by_severity['high']:,} | "
                     f"{trend} |")
    found = [f"- **{md(f.rule_id)}** ({md(f.severity)}) {md(f.cluster)}: {md(f.message)}" for f in r.fleet_findings]
    return [*lines, "", *([md(r.fleet_lists), ""] if r.fleet_lists else []),
            *(["Fleet findings (judged once from the history store):", "", *found, ""] if found else [])]


def render_markdown(r: Report, files: dict[str, str]) -> str:
    s = r.summary
    names = ", ".join(r.meta.clusters) if len(r.meta.clusters) <= 5 else f"{len(r.meta.clusters)} clusters"
    lines = [f"## Backup audit: {md(names or 'no cluster')} — as of {when(r.meta.as_of)}", "",
             md(s.headline), "",
             "| | |", "|---|---|",
             f"| Volumes within RPO | {pct(s.protected_ratio, 'n/a')} "
             f"({s.by_status['protected']:,} of {s.audited:,}) |",
             f"| Coverage (captured by an enabled schedule) | {pct(s.coverage_ratio, 'n/a')} |",
             f"| Posture (rule checks passed) | {pct(s.pass_rate)} |",
             f"| Open findings | {s.findings:,} ({', '.join(f'{n:,} {k}' for k, n in s.by_severity.items() if n)}"
             f"{'' if s.findings else 'none'}) |",
             f"| Excepted findings | {s.excepted:,} |",
             f"| Clusters read completely | {s.clusters_complete} of {s.clusters} |", ""]
    if r.fleet:
        lines += fleet_table(r)
    if s.frameworks:
        lines += ["| Framework | Score | Coverage |", "|---|---:|---:|"]
        lines += [f"| {md(f.name)} | {pct(f.score)} | {pct(f.coverage)} |" for f in s.frameworks]
        lines.append("")
    else:
        lines += ["Compliance scores: not evaluated.", ""]
    if s.risks:
        lines += ["### Biggest risks", ""]
        lines += [f"{i}. **{risk.severity}** {md(risk.text)}" for i, risk in enumerate(s.risks, 1)]
        lines.append("")
    if r.overdue:
        lines += ["### Volumes without a recovery point within their RPO", "",
                  "| Volume | Status | RPO | Newest point age |", "|---|---|---:|---:|"]
        lines += [f"| {md(o.namespace + '/' + o.pvc)} | {o.status} | {duration(o.rpo_seconds)} | "
                  f"{duration(o.age_seconds, 'never')} |" for o in r.overdue[:MAX_ROWS]]
        if len(r.overdue) > MAX_ROWS:
            lines.append(f"\n… and {len(r.overdue) - MAX_ROWS:,} more.")
        lines.append("")
    if r.findings:
        lines += ["### Findings by rule", "", "| Rule | Severity | Open | Excepted | Title |",
                  "|---|---|---:|---:|---|"]
        lines += [f"| {md(g.rule_id)} | {g.severity} | {g.open:,} | {g.excepted:,} | {md(g.title)} |"
                  for g in r.findings]
        lines.append("")
    gaps = [(c.name, g) for c in r.clusters for g in c.gaps if g.reason != "not-served"]
    if gaps:
        lines += ["### Not read (verdicts depending on these are 'unknown')", ""]
        lines += [f"- {md(name)}: {md(g.resource)} ({g.reason}): {md(g.message)}" for name, g in gaps]
        lines.append("")
    others = ", ".join(f"`{name}`" for fmt, name in files.items() if fmt not in ("md",))
    lines += [f"Report {r.meta.report_id}; scan document SHA-256 `{r.meta.document_sha256}`."
              + (f" Files: {others}." if others else ""), ""]
    return "\n".join(lines)
