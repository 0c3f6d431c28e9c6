"""CSV: every volume, and every finding, one row each, straight from the scan document (a fleet report's
fleet findings after the clusters').

Lists are joined with ``"; "`` (reasons, which are sentences, with newlines). A cell that would start
with ``= + - @``, a tab or a carriage return gets a leading ``'`` so a spreadsheet never runs cluster
text as a formula; ``unneutralize`` undoes it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import orjson

from auditor.output.report.source import every_finding
from auditor.output.safe import clean_lines

VOLUME_COLUMNS = ("cluster", "namespace", "pvc", "pv", "storage_class", "status", "audited", "policy",
                  "rpo_seconds", "retention_seconds", "last_success", "methods", "covered_by",
                  "newest_point_source", "newest_point_evidence", "reasons")
FINDING_COLUMNS = ("cluster", "namespace", "kind", "name", "rule_id", "severity", "status", "message", "evidence",
                   "exception_id", "exception_owner", "exception_expires", "exception_reason")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = clean_lines(str(value))  # control characters and bidi overrides as escapes: it is also read with cat
    return "'" + text if text.startswith(_FORMULA) else text


def unneutralize(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA) else text


def _write(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralize(row.get(k)) for k in columns})
    return out.getvalue().encode("utf-8")


def volume_row(v: dict[str, Any]) -> dict[str, Any]:
    points = v.get("recovery_points") or [{}]
    return {**v, "methods": "; ".join(v.get("methods") or ()), "covered_by": "; ".join(v.get("covered_by") or ()),
            "reasons": "\n".join(v.get("reasons") or ()), "newest_point_source": points[0].get("source"),
            "newest_point_evidence": points[0].get("evidence")}


def finding_row(f: dict[str, Any]) -> dict[str, Any]:
    e = f.get("exception") or {}
    return {**f, "evidence": orjson.dumps(f.get("evidence") or {}, option=orjson.OPT_SORT_KEYS).decode(),
            "exception_id": e.get("id"), "exception_owner": e.get("owner"), "exception_expires": e.get("expires"),
            "exception_reason": e.get("reason")}


def volumes_csv(doc: dict[str, Any]) -> bytes:
    return _write(VOLUME_COLUMNS, (volume_row(v) for v in doc.get("volumes") or []))


def findings_csv(doc: dict[str, Any]) -> bytes:
    return _write(FINDING_COLUMNS, (finding_row(f) for f in every_finding(doc)))
