"""``junit``: JUnit XML for CI dashboards, a test suite per rule and a test case per rule and subject."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.formats import FilePart, Format, print_bytes, register

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def render(rendering: Rendering) -> bytes:
    from auditor.output.report.junit import junit_xml  # only when rendering

    return junit_xml(rendering.source.data, {r.id: r for r in rendering.rules})


JUNIT = register(Format("junit", "application/xml", "JUnit XML: a test case per rule and subject", order=80,
                        stdout=print_bytes(render), files=(FilePart("junit", ".junit.xml", render),)))
