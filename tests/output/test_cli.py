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
