"""``md``: a Markdown summary for a pull request or a ticket (numbers, risks, the worst findings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.formats import FilePart, Format, print_bytes, register

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def render(rendering: Rendering) -> bytes:
    from auditor.output.report.markdown import render_markdown  # only when rendering

    return render_markdown(rendering.report, dict(rendering.files)).encode("utf-8")


MARKDOWN = register(Format("md", "text/markdown", "a Markdown summary", order=100, stdout=print_bytes(render),
                           files=(FilePart("md", ".md", render),)))
