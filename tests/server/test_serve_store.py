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
