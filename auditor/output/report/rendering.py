"""What a format renders (``auditor.formats``): one scan printed on stdout, or one report's document and model."""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from auditor import __version__

if TYPE_CHECKING:
    from auditor.analyse.scan import ScanResult
    from auditor.model.rules import Rule
    from auditor.output.report.history import History
    from auditor.output.report.model import Report
    from auditor.output.report.source import SourceDocument


@dataclass
class Rendering:
    """The input of every renderer. From a scan (``of_scan``) the document and the report model are built
    only when a format asks for them; a report hands over the ones it built, and its files' names."""

    result: ScanResult | None = None
    given_source: SourceDocument | None = None
    given_rules: tuple[Rule, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)  # a report's file names by key; empty on stdout
    focus: tuple[str, ...] = ()  # framework ids a report narrows to
    built: Report | None = None

    @classmethod
    def of_scan(cls, result: ScanResult, focus: tuple[str, ...] = ()) -> Rendering:
        return cls(result=result, focus=focus)

    @property
    def source(self) -> SourceDocument:
        """The report's document: the scan document plus the passing results (what report files are built from)."""
        if self.given_source is None:
            assert self.result is not None, "a Rendering needs a scan or a document"
            from auditor.output.report.source import from_result  # the renderers' stack: only when rendering

            self.given_source = from_result(self.result)
        return self.given_source

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules judged (the catalog when the document does not say)."""
        if not self.given_rules:
            if self.result is not None and self.result.rules:
                self.given_rules = self.result.rules
            else:
                from auditor.load.rules import load_catalog  # reads the catalog files: only when needed

                self.given_rules = load_catalog()
        return self.given_rules

    @property
    def report(self) -> Report:
        """The report model (Markdown, HTML and PDF render it)."""
        if self.built is None:
            self.built = build_for(self.source, self.rules, focus=self.focus)
        return self.built


def default_author() -> str:
    try:
        return f"{getpass.getuser()} (backup-auditor {__version__})"
    except (KeyError, OSError):
        return f"backup-auditor {__version__}"


def build_for(source: SourceDocument, rules: tuple[Rule, ...], *, focus: tuple[str, ...] = (),
              history: History | None = None, generated_by: str | None = None, now: datetime | None = None,
              document_name: str = "") -> Report:
    """The report model of a document: the same for a report's files and for ``scan -o md``."""
    from auditor.load.frameworks import frameworks_dir, load_frameworks  # reads framework files: when building
    from auditor.output.report.build import BuildOptions, build_report  # the report stack: when building

    return build_report(source, BuildOptions(
        rules=rules, frameworks=load_frameworks(frameworks_dir()), focus=focus, history=history,
        generated_by=generated_by or default_author(),
        generated_at=now or datetime.now(UTC).replace(microsecond=0),
        document_sha256=hashlib.sha256(source.raw).hexdigest(), document_name=document_name))
