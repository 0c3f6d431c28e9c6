"""``html``: the compliance report for people, self-contained."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.formats import FilePart, Format, register

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def render(rendering: Rendering) -> bytes:
    from auditor.output.report.html import render_html  # jinja2 templates: only when rendering

    return render_html(rendering.report, rendering.files).encode("utf-8")


HTML = register(Format("html", "text/html", "the compliance report (self-contained page)", order=30,
                       files=(FilePart("html", ".html", render),)))
