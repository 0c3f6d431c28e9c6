"""HTML and PDF from one template set: the PDF is the same HTML with print CSS and capped tables."""

from __future__ import annotations

from collections.abc import Mapping

from auditor.output.report.model import FLEET, FLEET_PRINT, FULL, PRINT, Caps, Report
from auditor.output.report.templating import environment


def full_list_hint(files: Mapping[str, str], fleet: bool = False) -> str:
    """Where a reader of a capped table finds everything (a fleet's HTML is capped too: its JSON is not)."""
    where = [files[k] for k in (("json", "csv-volumes", "csv-findings") if fleet else
                                ("html", "csv-volumes", "csv-findings")) if k in files]
    if where:
        return "The full lists are in " + ", ".join(where) + "."
    return "Write the full lists with: auditor report --format html,csv."


def render_html(report: Report, files: Mapping[str, str] | None = None, *, pdf: bool = False,
                caps: Caps | None = None) -> str:
    files = dict(files or {})
    template = environment().get_template("report.html.j2")
    chosen = caps or ((FLEET_PRINT if report.fleet else PRINT) if pdf else FLEET if report.fleet else FULL)
    return template.render(r=report, pdf=pdf, caps=chosen, files=files,
                           full_hint=full_list_hint(files, bool(report.fleet)))


def _refuse(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    """The PDF renderer never fetches anything: the report is self-contained."""
    raise ValueError(f"report rendering does not fetch resources ({url[:60]!r})")


#: archives accept PDF/A; part 3 (level B) because the report's fonts and SVG charts need nothing more
PDF_VARIANT = "pdf/a-3b"


def render_pdf(report: Report, files: Mapping[str, str] | None = None, *, caps: Caps | None = None) -> bytes:
    from weasyprint import HTML  # deferred: WeasyPrint (1.1 s) only for PDF

    html = render_html(report, files, pdf=True, caps=caps)
    pdf: bytes = HTML(string=html, url_fetcher=_refuse).write_pdf(pdf_variant=PDF_VARIANT)
    return pdf
