"""The PDF: every section, the same numbers as the JSON, page furniture, and a PNG of page 1 to look at."""

from __future__ import annotations

import hashlib
import re
import subprocess

import pytest

from tests.output.conftest import ARTIFACTS, Written

SECTIONS = ("Executive summary", "Scope and methodology", "Compliance frameworks", "Coverage by cluster and namespace",
            "Recovery points and RPO", "Schedules' health", "Storage locations", "Credentials", "Findings",
            "Exceptions register", "Sign-off", "Integrity", "Appendix A: all volumes",
            "Appendix B: audit criteria (rules)")


def pdftotext(path: str, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, path, "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout


@pytest.fixture(scope="module")
def pdf_text(demo_reports: Written) -> str:
    """Physical layout: table rows stay on one line."""
    return pdftotext(str(demo_reports.path("pdf")), "-layout")


@pytest.fixture(scope="module")
def pdf_flow(demo_reports: Written) -> str:
    """Reading order, whitespace folded: sentences stay together."""
    return " ".join(pdftotext(str(demo_reports.path("pdf"))).split())


def test_every_section_is_in_the_pdf(pdf_text: str) -> None:
    for title in SECTIONS:
        assert title in pdf_text, title


def test_pdf_numbers_are_the_json_numbers(pdf_text: str, pdf_flow: str, demo_reports: Written) -> None:
    doc = demo_reports.document
    s = doc["summary"]
    by_status = s["volumes_by_status"]
    flat = pdf_flow
    assert (f"{by_status['protected']} of {s['volumes_audited']} audited volumes ({s['protected_ratio']:.1%})"
            in flat)
    assert f"{by_status['unprotected']} are captured by no enabled schedule" in flat
    for severity, n in s["findings_by_severity"].items():
        assert re.search(rf"\b{severity}\s+{n}\b", pdf_text), (severity, n)
    summary_page = flat[flat.index("1. Executive summary"):flat.index("2. Scope and methodology", 2000)]
    assert re.search(rf"\b{s['findings']}\b.*open findings", summary_page)
    assert f"({s['checks']['pass']} passed, {s['checks']['open']} failed)" in flat
    for fw in doc["compliance"]:
        assert f"{fw['score']:.1%}" in flat and f"{fw['coverage']:.1%}" in flat, fw["framework"]
    assert hashlib.sha256(demo_reports.path("json").read_bytes()).hexdigest() in flat.replace(" ", "")


def test_page_furniture(pdf_text: str, demo_reports: Written) -> None:
    pages = pdf_text.split("\f")
    total = len([p for p in pages if p.strip()])
    assert f"Page 2 of {total}" in pages[1]
    assert "as of 2026-11-20 12:00 UTC" in pages[1]  # the running header
    assert "demo-prod" in pages[1].splitlines()[0]
    assert "as of" not in pages[0].splitlines()[0]  # no running header on the cover


def test_page_one_renders_to_png(demo_reports: Written) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "report-demo-page"
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(demo_reports.path("pdf")), str(target)], check=True, timeout=60)
    png = target.with_suffix(".png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert abs(width - 661) <= 2 and abs(height - 935) <= 2, (width, height)  # A4 portrait at 80 dpi
