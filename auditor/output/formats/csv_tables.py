"""``csv``: every volume and every finding, one row each (a report writes both files; stdout gets the findings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.formats import FilePart, Format, print_bytes, register

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def volumes(rendering: Rendering) -> bytes:
    from auditor.output.report.csv_files import volumes_csv  # only when rendering

    return volumes_csv(rendering.source.data)


def findings(rendering: Rendering) -> bytes:
    from auditor.output.report.csv_files import findings_csv  # only when rendering

    return findings_csv(rendering.source.data)


CSV = register(Format("csv", "text/csv", "the findings, one row each (reports: also the volumes)", order=70,
                      stdout=print_bytes(findings),
                      files=(FilePart("csv-volumes", "-volumes.csv", volumes),
                             FilePart("csv-findings", "-findings.csv", findings))))
