"""The fleet table of a fleet report's PDF fits its page: with every framework scored (six columns after the
eleven of each cluster's newest scan), each framework's header and scores are on the page, none past the right
margin (on portrait A4 the table ran past it and the last columns were cut off)."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest

from auditor.output.report.templating import pct
from tests.store.test_fleet import T0
from tests.store.test_fleet_report_findings import HOUR, fleet, run, written

__all__ = ["fleet"]  # the 3-cluster store, a fixture used here
XHTML = "{http://www.w3.org/1999/xhtml}"
MARGIN = 14 * 72 / 25.4  # the pages' left and right margins (14 mm), in points


def pages(pdf: Path) -> list[tuple[float, list[tuple[str, float, float]]]]:
    """Each page's width and its words with their left and right edges, as pdftotext places them."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    root = ET.fromstring(out[out.index("<html"):])
    return [(float(p.get("width") or 0), [(w.text or "", float(w.get("xMin") or 0), float(w.get("xMax") or 0))
                                          for w in p.iter(f"{XHTML}word")])
            for p in root.iter(f"{XHTML}page")]


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) is not installed")
def test_the_fleet_table_fits_its_page_with_six_frameworks(fleet: str, tmp_path: Path) -> None:
    at = (T0 + 3 * HOUR + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    files = written(run("report", "--from-store", fleet, "--as-of", at, "--format", "json,pdf", "--out", str(tmp_path)))
    doc = json.loads(files["json"].read_text())
    scores = {c["cluster"]: c["compliance"] for c in doc["summary"]["per_cluster"]}
    frameworks = sorted(scores["a"])
    assert len(frameworks) == 6 and "dora" in frameworks

    [(width, words)] = [(w, ws) for w, ws in pages(files["pdf"])
                        if "Fleet: each cluster's newest scan" in " ".join(t for t, _, _ in ws)
                        and "Unprotected" in (t for t, _, _ in ws)]  # the section's page, not the contents'
    texts = [t for t, _, _ in words]
    for framework in frameworks:
        assert texts.count(framework) == 1, f"{framework}'s column header is on the fleet table's page"
    right = max(x for _, _, x in words)  # the table's last column, or the footer's page number at the margin
    assert right <= width - MARGIN + 1, f"the fleet table's page has text at {right:.0f}pt, past the margin at " \
                                        f"{width - MARGIN:.0f}pt"
    for cluster, by_framework in scores.items():
        shown = [pct(s) for s in by_framework.values()]
        assert all(texts.count(s) >= 1 for s in shown), f"cluster {cluster}'s framework scores are on the page"
