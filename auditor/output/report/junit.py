"""JUnit XML for CI dashboards: one test suite per rule, one test case per rule × subject.

Failures are findings, skipped cases are excepted or not evaluated, errors are checks that crashed.
Passes come from the ``results`` of a report's document; a plain ``scan -o json`` document has only
the findings, which the suite's properties say.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from auditor.model.rules import Rule
from auditor.output.report.source import every_finding

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: Any) -> str:
    """Cluster text as valid XML 1.0 (control characters dropped; ElementTree escapes the rest)."""
    return _XML_INVALID.sub("", "" if value is None else str(value))


def subject(r: dict[str, Any]) -> str:
    return f"{r.get('cluster')}/{r.get('namespace') or '-'}/{r.get('kind')}/{r.get('name')}"


def junit_xml(doc: dict[str, Any], rules: dict[str, Rule]) -> bytes:
    results = every_finding(doc) + list(doc.get("results") or [])
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_rule[r["rule_id"]].append(r)
    root = ET.Element("testsuites", name="backup-auditor")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for rule_id in sorted(by_rule):
        items = sorted(by_rule[rule_id], key=subject)
        rule = rules.get(rule_id)
        suite = ET.SubElement(root, "testsuite", name=xml_text(f"{rule_id} {rule.title if rule else ''}".strip()),
                              timestamp=xml_text(doc.get("as_of")), time="0")
        counts = dict.fromkeys(totals, 0)
        for r in items:
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", name=xml_text(subject(r)), classname=f"backup-auditor.{rule_id}",
                                 time="0")
            status = r.get("status")
            if status == "open":
                counts["failures"] += 1
                fail = ET.SubElement(case, "failure", message=xml_text(r.get("message")),
                                     type=xml_text(r.get("severity")))
                fail.text = xml_text("\n".join(f"{k}: {v}" for k, v in (r.get("evidence") or {}).items()))
            elif status == "error":
                counts["errors"] += 1
                ET.SubElement(case, "error", message=xml_text(r.get("message")))
            elif status in ("excepted", "not-evaluated"):
                counts["skipped"] += 1
                e = r.get("exception") or {}
                why = f"excepted: {e.get('reason', '')} (owner {e.get('owner', '?')})" if status == "excepted" \
                    else f"not evaluated: {r.get('message', '')}"
                ET.SubElement(case, "skipped", message=xml_text(why))
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    if "results" not in doc:
        props = ET.SubElement(ET.SubElement(root, "testsuite", name="backup-auditor notes", tests="0", failures="0",
                                            errors="0", skipped="0", time="0"), "properties")
        ET.SubElement(props, "property", name="passes",
                      value="not recorded: the scan document carries findings only (use a report's JSON)")
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
