"""``auditor report``: flags, output names, exit codes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from auditor.cli import main
from tests.output.conftest import Written


def test_report_from_the_demo_writes_the_formats_asked_for(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["report", "--demo", "--format", "md,sarif", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    stem = "backup-audit-demo-prod-and-1-more-20261120T120000Z"
    assert names == [f"{stem}{s}" for s in (".json", ".manifest.json", ".md", ".sarif", ".sha256")]
    assert result.output.splitlines()[-1].endswith(".manifest.json")


def test_report_from_a_saved_scan_and_bad_flags(demo_reports: Written, tmp_path: Path) -> None:
    runner = CliRunner()
    saved = str(demo_reports.path("json"))
    ok = runner.invoke(main, ["report", "--from-scan", saved, "--format", "junit", "--out", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(main, ["report", "--from-scan", saved, "--format", "junit", "--out", str(tmp_path)])
    assert again.exit_code == 0 and "-2.junit.xml" in again.output
    bad = runner.invoke(main, ["report", "--from-scan", saved, "--format", "docx", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown report format docx" in bad.output
    missing = runner.invoke(main, ["report", "--from-scan", str(tmp_path / "nope.json"), "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "nope.json" in missing.output


def test_report_reads_the_trend_from_the_store_and_records_its_manifest(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from auditor.store import schema

    runner = CliRunner()
    store = str(tmp_path / "store.db")
    for day in (17, 18, 19):
        scan = runner.invoke(main, ["scan", "--demo", "--as-of", f"2026-11-{day}T12:00:00Z", "--store", store,
                                    "-o", "json"])
        assert scan.exit_code == 0, scan.output
    out = tmp_path / "out"
    result = runner.invoke(main, ["report", "--demo", "--store", store, "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = next(out.glob("*.html")).read_text()
    assert "Trend (last 30 days)" in html and "<polyline" in html
    assert html.count("<circle") >= 4  # three recorded days and this scan (plus the donut's ring)
    engine = create_engine(f"sqlite:///{store}")
    with Session(engine) as session:
        rows = list(session.scalars(select(schema.ReportManifest)))
    engine.dispose()
    assert len(rows) == 1 and rows[0].path.endswith(".manifest.json") and rows[0].manifest["files"]
