"""Compliance reports: HTML and PDF for people, JSON, CSV, JUnit, SARIF and Markdown for tools.

One model (``build.build_report``) from one scan document (``source``), rendered per format, written
with an integrity manifest by ``writer.write_reports``. The formats themselves are registered in
``auditor/output/formats/`` (``auditor.formats``).

The names below are looked up when first used (PEP 562): printing a scan imports ``report.rendering``, and
through this package the writer would bring the signing stack (cryptography, 7 MB of a large scan's peak).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.output.report.history import History
    from auditor.output.report.source import SourceDocument, from_result, load_document
    from auditor.output.report.writer import Manifest, parse_formats, write_reports

__all__ = ["History", "Manifest", "SourceDocument", "from_result", "load_document", "parse_formats", "write_reports"]

_MODULES = {"History": "history", "SourceDocument": "source", "from_result": "source", "load_document": "source",
            "Manifest": "writer", "parse_formats": "writer", "write_reports": "writer"}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)
