"""Scheduled reports: `auditor serve` writes them on the config's cron from the newest scan."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.config import load_config
from auditor.errors import ConfigError
from auditor.server.reports import VeleroCronTrigger


def test_trigger_uses_velero_cron_dialect() -> None:
    now = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
    assert VeleroCronTrigger("0 6 * * 1").get_next_fire_time(None, now) == datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert VeleroCronTrigger("@every 90s").get_next_fire_time(now, now) == datetime(2026, 11, 20, 12, 2, tzinfo=UTC)


def test_bad_report_config_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("reports:\n- {name: weekly, cron: '61 * * * *', out: /tmp/r}\n")
    with pytest.raises(ConfigError, match=r"key reports\.0\.cron"):
        load_config(cfg)
    cfg.write_text("reports:\n- {name: weekly, cron: '@weekly', out: /tmp/r, formats: [docx]}\n")
    with pytest.raises(ConfigError, match=r"key reports\.0\.formats"):
        load_config(cfg)


def test_serve_writes_scheduled_reports(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"reports:\n- {{name: pr-summary, cron: '@every 2s', formats: [md, json], out: '{out}'}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "auditor", "serve", "--demo", "--config", str(cfg),
                             "--listen", "127.0.0.1:0", "--interval", "1h"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        written: list[Path] = []
        while time.monotonic() < deadline and not any(p.suffix == ".md" for p in written):
            time.sleep(0.5)
            written = sorted((out / "pr-summary").glob("*")) if (out / "pr-summary").is_dir() else []
        assert any(p.suffix == ".md" for p in written), written
        assert any(p.name.endswith(".manifest.json") for p in written), "each set is kept with its manifest"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
