"""``table``: the volumes grouped by status with their reasons, then the findings (the default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.formats import Format, Sink, register

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def print_table(rendering: Rendering, sink: Sink, *, wide: bool = False) -> None:
    from auditor.output.table import render  # rich: only when printing

    assert rendering.result is not None
    render(rendering.result, sink.console(), wide=wide)


TABLE = register(Format("table", "text/plain", "volumes grouped by status with the reasons, then the findings",
                        order=10, stdout=print_table))
