"""The PDF's layout, measured: no word outside the page's content box or on top of another, and every date and
owner of the exceptions register whole (pdftotext's word boxes, poppler-utils)."""

from __future__ import annotations

import itertools
import re
import subprocess
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest

from tests.output.conftest import Written

MM = 72 / 25.4
SIDE_MARGIN = 14 * MM  # @page margin, left and right
SLACK = 1.5  # points: glyph boxes overhang their advance a little


@dataclass(frozen=True)
class Word:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def words(pdf: Path) -> tuple[list[tuple[float, float]], list[Word]]:
    """Every word with its box, and each page's size."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=120).stdout
    pages: list[tuple[float, float]] = []
    out = []
    for chunk in re.split(r"<page ", html)[1:]:
        size = re.match(r'width="([\d.]+)" height="([\d.]+)"', chunk)
        assert size
        pages.append((float(size[1]), float(size[2])))
        for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
                             chunk):
            out.append(Word(len(pages), *(float(m[i]) for i in range(1, 5)), unescape(m[5])))
    return pages, out


@pytest.fixture(scope="module")
def layout(demo_reports: Written) -> tuple[list[tuple[float, float]], list[Word]]:
    return words(demo_reports.path("pdf"))


def test_no_word_leaves_the_content_box(layout: tuple[list[tuple[float, float]], list[Word]]) -> None:
    """A cell cut at the page edge (the register's "Expires" and "Findings" once were) shows up as words
    past the right margin."""
    pages, found = layout
    outside = [w for w in found if w.x1 > pages[w.page - 1][0] - SIDE_MARGIN + SLACK or w.x0 < SIDE_MARGIN - SLACK]
    assert not outside, [(w.page, w.text, round(w.x1)) for w in outside[:10]]


def test_no_word_overlaps_another(layout: tuple[list[tuple[float, float]], list[Word]]) -> None:
    """Table headers that ran into each other ("Unprotected" over "Unknown") are overlapping word boxes."""
    _, found = layout
    clashes = []
    by_line: dict[tuple[int, int], list[Word]] = {}
    for w in found:
        by_line.setdefault((w.page, round(w.y0)), []).append(w)
    for line in by_line.values():
        line.sort(key=lambda w: w.x0)
        for a, b in itertools.pairwise(line):
            if b.x0 < a.x1 - SLACK and min(a.y1, b.y1) - max(a.y0, b.y0) > 2:
                clashes.append((a.page, a.text, b.text))
    assert not clashes, clashes[:10]


def register_page(pdf: Path) -> str:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=120).stdout
    pages = text.split("\f")
    return next(p for p in pages if "10. Exceptions register" in p and "Owner" in p)


def test_every_owner_and_date_of_the_register_is_whole(demo_reports: Written) -> None:
    page = register_page(demo_reports.path("pdf"))
    register = demo_reports.document["exceptions"]
    entries = [e for state in ("matched", "unused", "expired") for e in register[state]]
    assert len(entries) >= 6  # the demo's waivers: 3 in its config, 3 on annotated objects
    lines = page.splitlines()
    for e in entries:
        for value in (e["owner"], e["expires"]):
            assert any(re.search(rf"(^|\s){re.escape(value)}(\s|$)", line) for line in lines), value
    header = next(line for line in lines if "Owner" in line)
    assert "Expires" in header and "Findings" in header
    # the scope is the glob the user wrote, not the selector's regular expression
    assert "build-cache" in page and "build\\-cache" not in page
