"""``wide``: the volumes as one table with their PV, storage class, methods, covered_by and last recovery point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.formats import Format, Sink, register
from auditor.output.formats.table import print_table

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def print_wide(rendering: Rendering, sink: Sink) -> None:
    print_table(rendering, sink, wide=True)


WIDE = register(Format("wide", "text/plain", "the volumes as one table with more columns", order=20,
                       stdout=print_wide))
