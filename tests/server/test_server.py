"""``auditor serve`` in-process and as a process: endpoints, snapshots, failures, shutdown, CLI errors."""

from __future__ import annotations

import gzip
import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.core import Metric

from auditor.analyse.scan import ClusterScan, ScanResult
from auditor.cli.shared import build_options
from auditor.errors import ClusterAccessError
from auditor.output import metrics
from auditor.pipeline import ScanOptions, run_scan
from auditor.server.app import AuditorServer
from auditor.server.settings import ServeSettings

from .conftest import demo_server, serve_args
from .stack import AUDITOR, Process, http_get, start_auditor, wait_until

FAST = ServeSettings(host="127.0.0.1", port=0, interval=60.0)
TOKEN = {"Authorization": "Bearer test-token"}


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data API's static token (the data API is off without one)."""
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text("test-token\n")
    path.chmod(0o600)
    return path


class ScriptedScan:
    """A scan function the test steers: pass through, block, or fail."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0
        self.fail: Exception | None = None
        self.drop_cluster = False

    def __call__(self, options: ScanOptions) -> ScanResult:
        self.calls += 1
        self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        result = run_scan(options)
        if self.drop_cluster:  # the cluster could not be read this time
            result = replace(result, clusters=tuple(ClusterScan(c.name, None, (), "cluster demo-prod: cannot reach "
                                                                "the API server") for c in result.clusters))
        return result


@pytest.fixture
def scripted() -> ScriptedScan:
    return ScriptedScan()


@pytest.fixture
def server(scripted: ScriptedScan, token_file: Path) -> Iterator[AuditorServer]:
    app = AuditorServer(build_options(demo=True), replace(FAST, api_token_file=token_file), scan=scripted)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def metric(url: str, prefix: str) -> list[str]:
    return [line for line in http_get(url + "/metrics")[1].decode().splitlines() if line.startswith(prefix)]


def test_endpoints(server: AuditorServer) -> None:
    wait_until(lambda: http_get(server.url + "/readyz")[0] == 200, 10, what="ready")
    assert http_get(server.url + "/healthz") == (200, b"ok\n")
    status, body = http_get(server.url + "/api/v1/scan", headers=TOKEN)
    doc = json.loads(body)
    assert status == 200 and doc["schema_version"] == "1" and {c["name"] for c in doc["clusters"]} == {
        "demo-prod", "demo-staging"}
    assert http_get(server.url + "/nope")[0] == 404
    plain = http_get(server.url + "/metrics")[1]
    zipped = http_get(server.url + "/metrics", headers={"Accept-Encoding": "gzip"})[1]
    unzipped = gzip.decompress(zipped)  # two gzip members: the cached scan, then the live series
    assert [x for x in unzipped.splitlines() if x.startswith(b"backup_auditor_volumes{")] == \
        [x for x in plain.splitlines() if x.startswith(b"backup_auditor_volumes{")]
    assert b"process_resident_memory_bytes" in plain


def test_not_ready_before_the_first_scan_and_scrapes_never_wait(scripted: ScriptedScan, token_file: Path) -> None:
    scripted.gate.clear()  # the first scan blocks
    app = AuditorServer(build_options(demo=True), replace(FAST, api_token_file=token_file), scan=scripted)
    app.start()
    try:
        assert http_get(app.url + "/readyz")[0] == 503
        assert http_get(app.url + "/api/v1/scan", headers=TOKEN)[0] == 503
        started = time.monotonic()
        status, body = http_get(app.url + "/metrics")
        assert status == 200 and b"backup_auditor_build_info" in body and b"backup_auditor_volumes{" not in body
        assert time.monotonic() - started < 0.5
        scripted.gate.set()
        wait_until(lambda: http_get(app.url + "/readyz")[0] == 200, 10, what="ready")
        # a second scan in progress: scrapes answer at once with the previous snapshot
        scripted.gate.clear()
        app.trigger.notify()
        wait_until(lambda: scripted.calls == 2, 5, what="the second scan to start")
        started = time.monotonic()
        assert metric(app.url, "backup_auditor_volumes{")
        assert time.monotonic() - started < 0.5
    finally:
        scripted.gate.set()
        app.stop()


def test_the_exposition_is_rendered_once_per_scan(server: AuditorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wait_until(lambda: http_get(server.url + "/readyz")[0] == 200, 10, what="ready")
    calls = []
    original = metrics.ScanCollector.collect
    def counting(self: metrics.ScanCollector) -> Iterator[Metric]:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(metrics.ScanCollector, "collect", counting)
    for _ in range(5):
        http_get(server.url + "/metrics")
    assert calls == []
    server.trigger.notify()
    wait_until(lambda: calls, 5, what="a rescan")
    for _ in range(5):
        http_get(server.url + "/metrics")
    assert calls == [1]


def test_a_failed_scan_keeps_the_last_verdicts(server: AuditorServer, scripted: ScriptedScan) -> None:
    wait_until(lambda: http_get(server.url + "/readyz")[0] == 200, 10, what="ready")
    before = metric(server.url, 'backup_auditor_volumes{cluster="demo-prod"')
    scripted.drop_cluster = True
    server.trigger.notify()
    wait_until(lambda: 'backup_auditor_scan_success{cluster="demo-prod"} 0.0' in metric(
        server.url, "backup_auditor_scan_success"), 5, what="scan_success 0")
    assert metric(server.url, 'backup_auditor_volumes{cluster="demo-prod"') == before
    doc = json.loads(http_get(server.url + "/api/v1/scan", headers=TOKEN)[1])
    assert [c["error"] for c in doc["clusters"] if c["name"] == "demo-prod"] == [
        "cluster demo-prod: cannot reach the API server"]
    assert 'backup_auditor_scans_total{cluster="demo-prod",result="error"} 1.0' in metric(
        server.url, "backup_auditor_scans_total")
    # a scan that raised: every cluster failed, the process goes on
    scripted.drop_cluster, scripted.fail = False, ClusterAccessError("kubeconfig gone")
    server.trigger.notify()
    wait_until(lambda: 'result="error"} 2.0' in "".join(metric(server.url, "backup_auditor_scans_total")), 5,
               what="a second failed scan")
    assert http_get(server.url + "/healthz")[0] == 200
    scripted.fail = None
    server.trigger.notify()
    wait_until(lambda: 'backup_auditor_scan_success{cluster="demo-prod"} 1.0' in metric(
        server.url, "backup_auditor_scan_success"), 5, what="recovery")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_served_metrics_pass_promtool(server: AuditorServer) -> None:
    wait_until(lambda: http_get(server.url + "/readyz")[0] == 200, 10, what="ready")
    body = http_get(server.url + "/metrics")[1]
    check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert check.returncode == 0 and not check.stdout.strip(), check


def test_sigterm_shuts_down_gracefully(tmp_path: Path) -> None:
    kube = demo_server()
    try:
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context="demo-prod")
        proc, url = start_auditor(serve_args(kubeconfig, tmp_path / "key"))
        wait_until(lambda: "watch_events_total" in http_get(url + "/metrics")[1].decode(), 5, what="watchers")
        started = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(10) == 0
        assert time.monotonic() - started < 5
        assert any("received SIGTERM" in line for line in proc.lines), proc.output()
        assert not any("Traceback" in line for line in proc.lines), proc.output()
        assert http_get(url + "/healthz")[0] == 0  # the port is closed
    finally:
        kube.stop()


def test_a_snapshot_is_served_without_a_cluster(tmp_path: Path) -> None:
    from auditor import demo

    proc, url = start_auditor(["--snapshot", str(demo.STAGING_DIR), "--no-watch"])
    try:
        assert 'backup_auditor_scan_success{cluster="demo-staging"} 1.0' in http_get(url + "/metrics")[1].decode()
    finally:
        assert proc.stop() == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--listen", "nowhere"], "error: --listen 'nowhere': expected HOST:PORT"),
    (["--interval", "soon"], "error: --interval: not a duration: 'soon'"),
    (["--interval", "100ms"], "error: --interval '100ms': must be at least 1s"),
    (["--kubeconfig", "/nonexistent/kubeconfig"], "error: kubeconfig /nonexistent/kubeconfig"),
])
def test_bad_flags_are_one_line_errors(args: list[str], message: str) -> None:
    proc = Process("auditor", [str(AUDITOR), "serve", *args])
    code = proc.proc.wait(30)
    proc.stop()
    assert code == 2, proc.output()
    assert len(proc.lines) == 1 and proc.lines[0].startswith(message), proc.lines
