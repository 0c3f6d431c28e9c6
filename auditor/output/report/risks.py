"""The executive summary's words: one headline sentence and the five biggest risks, in plain language."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from auditor.model.rules import SEVERITIES, Rule
from auditor.output.report.model import Risk

NOUNS = {"PersistentVolumeClaim": ("volume", "volumes"), "Schedule": ("schedule", "schedules"),
         "Backup": ("backup", "backups"), "Namespace": ("namespace", "namespaces"),
         "BackupStorageLocation": ("storage location", "storage locations"),
         "Secret": ("credential", "credentials"), "Cluster": ("cluster", "clusters")}
RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _n(count: int, kind: str) -> str:
    one, many = NOUNS.get(kind, (kind, kind + "s"))
    return f"{count:,} {one if count == 1 else many}"


def headline(by_status: dict[str, int], audited: int, clusters: list[dict[str, Any]]) -> str:
    if not clusters:
        return "No cluster was scanned."
    if not audited:
        text = "No audited persistent volume was found."
    else:
        text = (f"{by_status.get('protected', 0):,} of {audited:,} audited volumes "
                f"({by_status.get('protected', 0) / audited:.1%}) have a proven recovery point within their RPO")
        rest = [(by_status.get("unprotected", 0), "are captured by no enabled schedule"),
                (by_status.get("stale", 0), "are captured but their newest recovery point is older than the RPO"),
                (by_status.get("unknown", 0), "cannot be proven either way")]
        parts = [f"{n:,} {what}" for n, what in rest if n]
        text += ("; " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + ".") if parts \
            else "."
    incomplete = [c for c in clusters if not c.get("complete")]
    if incomplete:
        text += f" {len(incomplete)} of {len(clusters)} clusters could not be read completely."
    return text


def top_risks(doc: dict[str, Any], rules: dict[str, Rule], limit: int = 5) -> tuple[Risk, ...]:
    """Unreadable clusters first (they undermine every verdict), then open findings grouped by rule."""
    risks: list[tuple[tuple[int, int], Risk]] = []
    for c in doc.get("clusters") or []:
        if c.get("error"):
            risks.append(((-1, 0), Risk("critical", f"Cluster {c.get('name')} could not be scanned at all "
                                                    f"({c['error']}): none of its volumes is audited.")))
        elif not c.get("complete"):
            hidden = [g["resource"] for g in c.get("gaps") or [] if g.get("reason") != "not-served"]
            risks.append(((RANK["high"], -10**9), Risk("high", f"Cluster {c.get('name')} could not be read completely "
                                                f"({', '.join(sorted(set(hidden)))}): verdicts that depend on "
                                                f"it are 'unknown'.")))
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    fleet = doc.get("fleet")
    for f in [*(doc.get("findings") or []), *((fleet.get("findings") if isinstance(fleet, dict) else None) or [])]:
        if f.get("status") == "open":
            groups[f["rule_id"]].append(f)
    for rule_id, items in groups.items():
        rule = rules.get(rule_id)
        severity = rule.severity if rule else str(items[0].get("severity", "info"))
        namespaces = {f.get("namespace") for f in items if f.get("namespace")}
        where = f" in {len(namespaces):,} namespace{'s' if len(namespaces) != 1 else ''}" if namespaces else ""
        title = rule.title if rule else rule_id
        example = items[0].get("message", "")
        text = f"{_n(len(items), str(items[0].get('kind', '')))}{where}: {title} ({rule_id}). E.g. {example}"
        risks.append(((RANK.get(severity, 9), -len(items)), Risk(severity, text)))
    expired = ((doc.get("exceptions") or {}).get("expired")) or []
    if expired:
        risks.append(((RANK["medium"], -len(expired)), Risk(
            "medium", f"{len(expired)} exception{'s have' if len(expired) != 1 else ' has'} expired: the "
                      f"findings they covered are open again and need a decision.")))
    risks.sort(key=lambda r: r[0])
    return tuple(r for _, r in risks[:limit])
