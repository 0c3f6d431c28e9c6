"""``json``: the scan document (docs/scan-document.md); a report's copy also carries the passing results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.formats import FilePart, Format, Sink, register

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def print_document(rendering: Rendering, sink: Sink) -> None:
    from auditor.output.document import write_document  # the document stack: only when printing

    assert rendering.result is not None
    write_document(rendering.result, sink.binary)  # streamed: a large fleet is never one big string
    sink.binary.write(b"\n")
    sink.binary.flush()


def render(rendering: Rendering) -> bytes:
    return rendering.source.raw  # the exact bytes the report's hash is taken of


JSON = register(Format("json", "application/json", "the scan document", order=50, stdout=print_document,
                       files=(FilePart("json", ".json", render),)))
