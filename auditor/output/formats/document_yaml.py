"""``yaml``: the scan document as YAML (the same content as ``json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.formats import Format, Sink, register

if TYPE_CHECKING:
    from auditor.output.report.rendering import Rendering


def print_document(rendering: Rendering, sink: Sink) -> None:
    import yaml  # only when printing

    from auditor.output.document import build_document  # the document stack: only when printing

    assert rendering.result is not None
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    yaml.dump(build_document(rendering.result), sink.text, Dumper=dumper, sort_keys=False, allow_unicode=True)
    sink.text.flush()


YAML = register(Format("yaml", "application/yaml", "the scan document as YAML", order=60, stdout=print_document))
