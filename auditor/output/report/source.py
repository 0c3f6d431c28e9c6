"""The report's input: the scan document, plus the sections only a report needs.

Every report format is built from one document dict, so a live scan, a snapshot and a saved document
(``--from-scan``) give the same report. ``report_document`` adds what the scan document does not carry: the
non-finding check results (for JUnit).
Added keys never change the meaning of existing ones (``schema_version`` stays 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from auditor.analyse.scan import ScanResult
from auditor.errors import InputError
from auditor.output.document import build_document


@dataclass(frozen=True)
class SourceDocument:
    """A document and the exact bytes its SHA-256 is taken of."""

    data: dict[str, Any]
    raw: bytes
    path: Path | None = None  # the ``--from-scan`` file, None when built from a scan


def report_document(result: ScanResult) -> dict[str, Any]:
    """The scan document plus the report-only sections (keys the document already has are kept)."""
    doc = build_document(result)
    extras: dict[str, Any] = {
        "results": [{"rule_id": r.rule_id, "severity": r.severity, "status": r.status, "cluster": r.cluster,
                     "kind": r.kind, "namespace": r.namespace, "name": r.name, "message": r.message}
                    for r in result.results if not r.is_finding],
    }
    for key, value in extras.items():
        doc.setdefault(key, value)
    return doc


def from_result(result: ScanResult) -> SourceDocument:
    doc = report_document(result)
    return SourceDocument(doc, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")


def load_document(path: Path) -> SourceDocument:
    """A saved scan document (``auditor scan -o json`` or a report's JSON)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}", file=str(path)) from None
    if not isinstance(data, dict) or data.get("schema_version") != "1" or not isinstance(data.get("volumes"), list):
        raise InputError("not a scan document (expected schema_version \"1\" with volumes and findings; "
                         "write one with `auditor scan -o json`)", file=str(path))
    return SourceDocument(data, raw, path)


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def every_finding(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's findings and, in a fleet report, the fleet's own (``fleet.findings``: GOV-006/007, judged
    once from the store and kept out of ``findings``), so the CSV, SARIF and JUnit files agree with the JSON."""
    fleet = doc.get("fleet")
    own = (fleet.get("findings") if isinstance(fleet, dict) else None) or []
    return [*(doc.get("findings") or []), *(f for f in own if isinstance(f, dict))]
