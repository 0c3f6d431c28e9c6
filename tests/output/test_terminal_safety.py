"""Safe terminal output (issue 12, item 5): control characters, bidi overrides and Rich markup from data
reach no text output raw, and a hostile name crashes nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auditor.output.report.csv_files import neutralize
from auditor.output.report.markdown import md
from auditor.output.safe import clean, terminal_console
from tests import factories as f
from tests.checks.rule_fixtures import app, csi_backup

AS_OF = "2026-11-20T12:00:00Z"
#: what must never reach a terminal raw: ESC, BEL, C1 CSI, bidi overrides and isolates
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
HOSTILE = "\x1b]0;pwned\x07\x1b[2J[bold red]boom[/] \u202eevil\x9b31m :smile:"


def hostile_dump(root: Path, reason: str | None = HOSTILE) -> Path:
    failed = f.backup("daily-2", schedule_name="daily", phase="Failed", hours_ago=1, status={"failureReason": reason})
    failed["metadata"]["annotations"] = {"note": HOSTILE}
    schedule = f.schedule("daily")
    schedule["metadata"]["name"] = "daily\x1b[8m"  # a dump can hold names the API server would refuse
    for b in (failed, csi := csi_backup("daily-1", "daily", hours_ago=30)):
        b["metadata"]["labels"]["velero.io/schedule-name"] = "daily\x1b[8m"
    objects = [*f.base_cluster(), *app("shop"), *app("legacy"), schedule, csi, *([failed] if reason else [])]
    d = root / "dump"
    d.mkdir(exist_ok=True)
    (d / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return d


def auditor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=180)


def assert_inert(proc: subprocess.CompletedProcess[str]) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert not RAW.search(stream), repr(RAW.search(stream))
    assert "Traceback" not in proc.stderr


def test_scan_table_and_explain_show_hostile_data_inert(tmp_path: Path) -> None:
    d = hostile_dump(tmp_path)
    proc = auditor("scan", "--snapshot", str(d), "--cluster-name", "prod[/]", "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    assert_inert(proc)
    assert "cluster prod[/] (snapshot:" in proc.stdout, "markup from data is printed, not interpreted"
    assert "\\x1b]0;pwned\\x07\\x1b[2J[bold red]boom[/] \\u202eevil\\x9b31m :smile:" in proc.stdout
    assert "velero/daily\\x1b[8m" in proc.stdout
    explained = auditor("explain", "pvc", "shop/data", "--snapshot", str(d), "--as-of", AS_OF)
    assert explained.returncode == 0, explained.stderr
    assert_inert(explained)
    assert "velero/daily\\x1b[8m (0 2 * * *)" in explained.stdout


def test_an_error_line_names_hostile_data_inert(tmp_path: Path) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    pvc = f.pvc("data\x1b[2J\u202e", "shop", size="lots")
    (d / "pvc.json").write_text(json.dumps(pvc))
    proc = auditor("scan", "--snapshot", str(d), "--as-of", AS_OF)
    assert proc.returncode == 2
    assert_inert(proc)
    assert "PersistentVolumeClaim shop/data\\x1b[2J\\u202e, field spec.resources.requests.storage" in proc.stderr


def test_history_and_diff_show_hostile_data_inert(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'history.db'}"
    d = hostile_dump(tmp_path, reason=None)
    first = auditor("scan", "--snapshot", str(d), "--cluster-name", "prod\x1b[31m[/]", "--as-of", AS_OF,
                    "--store", store)
    assert first.returncode == 0, first.stderr
    d = hostile_dump(tmp_path)
    later = "2026-11-20T13:00:00Z"
    second = auditor("scan", "--snapshot", str(d), "--cluster-name", "prod\x1b[31m[/]", "--as-of", later,
                     "--store", store, "-o", "json")
    assert second.returncode == 0, second.stderr
    for command in (["history"], ["diff"], ["runs"]):
        proc = auditor(*command, "--store", store)
        assert proc.returncode == 0, proc.stderr
        assert_inert(proc)
        if command == ["history"]:
            assert "prod\\x1b[31m[/]" in proc.stdout
        if command == ["diff"]:
            assert "\\x1b]0;pwned" in proc.stdout, "the new FRS-002's failure reason, escaped"


@pytest.mark.parametrize("value", [HOSTILE, "line one\nline two", "tab\there", "\u2066isolate\u2069"])
def test_markdown_and_csv_cells_are_inert(value: str) -> None:
    for text in (md(value), neutralize(value)):
        assert not RAW.search(text.replace("\n", "")), repr(text)
    assert "\\x1b" in md(HOSTILE) or "\\\\x1b" in md(HOSTILE)


def test_the_console_scrubs_what_a_renderer_forgot() -> None:
    from io import StringIO

    from rich.table import Table
    from rich.text import Text

    out = StringIO()
    console = terminal_console(file=out, force_terminal=True, width=120)
    table = Table()
    table.add_column("name")
    table.add_row("a\x1b[2Jb")
    rendered: list[Any] = [Text("x\x1b]0;t\x07y", style="red"), "plain [bold]markup[/] \u202e", table]
    for item in rendered:
        console.print(item)
    printed = out.getvalue()
    data = re.sub(r"\x1b\[[0-9;]*m", "", printed)  # Rich's own styling codes are fine
    assert not RAW.search(data.replace("\n", "")), repr(data)
    assert "plain [bold]markup[/]" in data
    assert clean("a\x1b\u202e") == "a\\x1b\\u202e"
