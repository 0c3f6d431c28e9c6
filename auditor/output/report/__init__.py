"""Compliance reports: HTML and PDF for people, JSON, CSV, JUnit, SARIF and Markdown for tools.

One model (``build.build_report``) from one scan document (``source``), rendered per format, written
with an integrity manifest by ``writer.write_reports``. The formats themselves are registered in
``auditor/output/formats/`` (``auditor.formats``).
"""

from auditor.output.report.history import History
from auditor.output.report.source import SourceDocument, from_result, load_document
from auditor.output.report.writer import Manifest, parse_formats, write_reports

__all__ = ["History", "Manifest", "SourceDocument", "from_result", "load_document", "parse_formats", "write_reports"]
