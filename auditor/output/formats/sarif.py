"""``sarif``: SARIF 2.1.0 for code-scanning dashboards, the rule catalog and a result per finding."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor import __version__
from auditor.formats import FilePart, Format, print_bytes, register

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def render(rendering: Rendering) -> bytes:
    from auditor.output.report.sarif import sarif_log  # only when rendering

    doc = rendering.source.data
    return sarif_log(doc, tuple(sorted(rendering.rules, key=lambda r: r.id)),
                     str(doc.get("tool_version") or __version__))


SARIF = register(Format("sarif", "application/sarif+json", "SARIF 2.1.0: a result per finding", order=90,
                        stdout=print_bytes(render), files=(FilePart("sarif", ".sarif", render),)))
