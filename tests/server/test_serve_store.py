"""`auditor serve --store` records its scans in the history store."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from auditor import demo


def history(store: Path) -> list[dict[str, object]]:
    run = subprocess.run([sys.executable, "-m", "auditor", "history", "--store", str(store), "-o", "json"],
                         capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        return []
    doc = json.loads(run.stdout)
    return doc if isinstance(doc, list) else doc.get("scans", [])


def test_serve_records_scans(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    proc = subprocess.Popen([sys.executable, "-m", "auditor", "serve", "--snapshot", str(demo.CLUSTER_DIR),
                             "--listen", "127.0.0.1:0", "--store", str(store), "--interval", "1h"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        scans: list[dict[str, object]] = []
        while time.monotonic() < deadline and not scans:
            time.sleep(0.5)
            if store.exists():
                scans = history(store)
        assert scans, "serve recorded no scan within 60 s"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_open_finding_age_comes_from_the_store(tmp_path: Path) -> None:
    from datetime import timedelta

    from auditor.output.metrics import MetricsInput, render
    from auditor.pipeline import ScanOptions
    from auditor.recording import scan_and_record

    store = str(tmp_path / "store.db")
    first = demo.demo_as_of() - timedelta(hours=5)
    options = ScanOptions(snapshots=(demo.CLUSTER_DIR,), as_of=first, store=store)
    scan_and_record(options)
    result = scan_and_record(ScanOptions(snapshots=(demo.CLUSTER_DIR,), as_of=demo.demo_as_of(), store=store))
    ages = {(a.rule_id, round(a.seconds)) for a in result.finding_ages}
    assert ("COV-001", 5 * 3600) in ages, "first seen five hours before"
    text = render(MetricsInput(result)).decode()
    assert 'backup_auditor_finding_open_age_seconds{cluster="demo-prod",rule="COV-001",severity="high"} 18000.0' in text


def test_executor_runs_are_exported_from_the_store(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from auditor.output.metrics import MetricsInput, render
    from auditor.pipeline import ScanOptions
    from auditor.recording import scan_and_record
    from auditor.store import Store

    store = str(tmp_path / "store.db")
    start = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with Store(store) as db:
        for i, (seconds, status) in enumerate([(90, "succeeded"), (30, "succeeded"), (5, "failed"), (None, "created")]):
            run, _ = db.begin_run(cluster="demo-prod", kind="Backup", namespace="velero", target="daily-apps",
                                  object_name=f"daily-apps-2026112012000{i}", started_at=start)
            db.update_run(run.identity, status, {}, finished_at=start + timedelta(seconds=seconds) if seconds else None)
    result = scan_and_record(ScanOptions(snapshots=(demo.CLUSTER_DIR,), as_of=demo.demo_as_of(), store=store))
    text = render(MetricsInput(result)).decode()
    assert 'backup_auditor_executor_runs_total{backend="Backup",outcome="succeeded"} 2.0' in text
    assert 'backup_auditor_executor_runs_total{backend="Backup",outcome="created"} 1.0' in text
    assert 'backup_auditor_executor_run_duration_seconds_sum{backend="Backup",outcome="succeeded"} 120.0' in text
    assert 'backup_auditor_executor_run_duration_seconds_count{backend="Backup",outcome="succeeded"} 2.0' in text
    assert 'backup_auditor_executor_run_duration_seconds_count{backend="Backup",outcome="failed"} 1.0' in text
    assert 'duration_seconds_count{backend="Backup",outcome="created"}' not in text, "a run still going has no duration"
    assert len(result.recent_runs) == 4 and all(r.target == "daily-apps" for r in result.recent_runs)
