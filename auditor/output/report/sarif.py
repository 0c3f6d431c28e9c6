"""SARIF 2.1.0 for code-scanning dashboards: the rule catalog with help text, one result per finding.

Kubernetes objects are not files, so a result's location is the subject ``cluster/namespace/kind/name``
(``-`` for cluster-scoped subjects): percent-encoded per segment as the artifact URI, and verbatim as
the logical location's fully qualified name. Excepted findings carry an accepted suppression.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote

import orjson

from auditor.model.rules import Rule
from auditor.output.report.junit import subject
from auditor.output.report.source import every_finding

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}


def _camel(title: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", title))


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    refs = "\n".join(f"- {r}" for r in rule.references)
    text = f"{rule.description}\n\nWhy: {rule.rationale}\n\nRemediation: {rule.remediation}"
    markdown = f"{rule.description}\n\n**Why:** {rule.rationale}\n\n**Remediation:** {rule.remediation}"
    if refs:
        text += f"\n\nReferences:\n{refs}"
        markdown += f"\n\n**References:**\n{refs}"
    out: dict[str, Any] = {
        "id": rule.id, "name": _camel(rule.title), "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description}, "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVELS.get(rule.severity, "warning")},
        "properties": {"tags": [rule.category, *sorted(rule.frameworks)], "precision": "high",
                       "security-severity": SECURITY_SEVERITY.get(rule.severity, "5.5"), "severity": rule.severity,
                       "frameworks": rule.frameworks},
    }
    if rule.references:
        out["helpUri"] = rule.references[0]
    return out


def location(f: dict[str, Any]) -> dict[str, Any]:
    parts = [str(f.get("cluster")), str(f.get("namespace") or "-"), str(f.get("kind")), str(f.get("name"))]
    return {"physicalLocation": {"artifactLocation": {"uri": "/".join(quote(p, safe="") for p in parts)}},
            "logicalLocations": [{"fullyQualifiedName": subject(f), "name": str(f.get("name")),
                                  "kind": "resource"}]}


def result(f: dict[str, Any], index: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f["rule_id"], "level": LEVELS.get(str(f.get("severity")), "warning"), "kind": "fail",
        "message": {"text": str(f.get("message") or f["rule_id"])}, "locations": [location(f)],
        "partialFingerprints": {"subject/v1": hashlib.sha256(f"{f['rule_id']}|{subject(f)}".encode()).hexdigest()},
        "properties": {"severity": f.get("severity"), "status": f.get("status"), "evidence": f.get("evidence") or {}},
    }
    if f["rule_id"] in index:
        out["ruleIndex"] = index[f["rule_id"]]
    e = f.get("exception")
    if f.get("status") == "excepted":
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": f"{(e or {}).get('reason', '')} (owner {(e or {}).get('owner', '?')}"
                                                 f", expires {(e or {}).get('expires') or 'never'})"}]
    return out


def notifications(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """What the scan could not read: the caveats a dashboard should show next to the results."""
    out = []
    for c in doc.get("clusters") or []:
        if c.get("error"):
            out.append({"level": "error", "message": {"text": f"cluster {c.get('name')}: {c['error']}"}})
        for g in c.get("gaps") or []:
            out.append({"level": "note" if g.get("reason") == "not-served" else "warning",
                        "message": {"text": f"cluster {c.get('name')}: could not read {g.get('resource')} "
                                            f"({g.get('reason')}): {g.get('message')}"}})
    return out


def sarif_log(doc: dict[str, Any], rules: tuple[Rule, ...], version: str) -> bytes:
    index = {r.id: i for i, r in enumerate(rules)}
    clusters = doc.get("clusters") or []
    run = {
        "tool": {"driver": {"name": "backup-auditor", "version": version, "semanticVersion": version,
                            "rules": [rule_descriptor(r) for r in rules]}},
        "automationDetails": {"id": f"backup-auditor/{','.join(str(c.get('name')) for c in clusters)}/"
                                    f"{doc.get('as_of')}"},
        "invocations": [{"executionSuccessful": all(c.get("complete") and not c.get("error") for c in clusters),
                         "endTimeUtc": doc.get("as_of"), "toolExecutionNotifications": notifications(doc)}],
        "results": [result(f, index) for f in every_finding(doc) if f.get("status") in ("open", "excepted")],
        "properties": {"as_of": doc.get("as_of"), "summary": doc.get("summary") or {}},
    }
    return orjson.dumps({"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}, option=orjson.OPT_INDENT_2)
