"""``pdf``: the compliance report as PDF/A (the HTML with print styles; signed by the writer with --sign-cert)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.formats import FilePart, Format, register

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def render(rendering: Rendering) -> bytes:
    from auditor.output.report.html import render_pdf  # weasyprint: only when rendering

    return render_pdf(rendering.report, rendering.files)


PDF = register(Format("pdf", "application/pdf", "the compliance report as PDF/A", order=40,
                      files=(FilePart("pdf", ".pdf", render),)))
