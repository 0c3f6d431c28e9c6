"""Real processes on 127.0.0.1 for the server tests: ``auditor serve``, Prometheus, Alertmanager, a webhook.

Every process gets a free port chosen by the OS (so xdist workers never collide), a temp directory, and
is stopped (SIGTERM, then SIGKILL) by whoever started it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "backup-auditor-rules.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "backup-auditor.json"
AUDITOR = Path(sys.executable).parent / "auditor"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Process:
    """A child process whose output is drained to a list (a full pipe must never block it)."""

    def __init__(self, name: str, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.lines: list[str] = []
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(timeout=2)
        return self.proc.returncode


def start_auditor(args: list[str], env: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[Process, str]:
    """``auditor serve ARGS --listen 127.0.0.1:0``; returns the process and its base URL once it is ready."""
    proc = Process("auditor", [str(AUDITOR), "serve", *args, "--listen", "127.0.0.1:0"],
                   env={**os.environ, **(env or {})})

    def url() -> str | None:
        if not proc.alive():
            raise AssertionError(f"auditor serve exited: {proc.output()}")
        for line in proc.lines:
            match = re.search(r"serving on (http://\S+)", line)
            if match:
                return match.group(1)
        return None

    base = wait_until(url, timeout, what="auditor serve to listen")
    wait_until(lambda: http_get(base + "/readyz")[0] == 200, timeout, what="the first scan")
    return proc, str(base)


class Webhook:
    """An Alertmanager webhook receiver: keeps every notification it gets."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def alerts(self) -> list[dict[str, Any]]:
        return [a for n in list(self.notifications) for a in n.get("alerts", [])]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_alertmanager(directory: Path, webhook_url: str) -> tuple[Process, str]:
    port = free_port()
    config = {
        "route": {"receiver": "webhook", "group_by": ["alertname", "cluster", "schedule"],
                  "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": False}]}],
    }
    (directory / "alertmanager.yml").write_text(yaml.safe_dump(config))
    binary = shutil.which("prometheus-alertmanager") or "alertmanager"
    proc = Process("alertmanager", [binary, f"--config.file={directory / 'alertmanager.yml'}",
                                    f"--storage.path={directory / 'am-data'}",
                                    f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="])
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _ready(proc, url), 30, what=f"alertmanager to be ready:\n{proc.output()}")
    return proc, url


def rules_without_for(directory: Path) -> Path:
    """The shipped rules with every ``for`` at 0s, so a test sees an alert fire within seconds."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


def start_prometheus(directory: Path, targets: dict[str, str], alertmanager: str, rules: Path) -> tuple[Process, str]:
    """Prometheus scraping ``targets`` (host:port → the cluster its auditor drives). The target's ``cluster``
    label reaches only series without one (honor_labels): the executor's per-process series."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(rules)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.removeprefix("http://")]}]}]},
        "scrape_configs": [{"job_name": "backup-auditor", "honor_labels": True,
                            "static_configs": [{"targets": [target], "labels": {"cluster": cluster}}
                                               for target, cluster in targets.items()]}],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = Process("prometheus", ["prometheus", f"--config.file={directory / 'prometheus.yml'}",
                                  f"--storage.tsdb.path={directory / 'tsdb'}",
                                  f"--web.listen-address=127.0.0.1:{port}"], cwd=directory)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _ready(proc, url), 30, what=f"prometheus to be ready:\n{proc.output()}")
    return proc, url


def _ready(proc: Process, url: str) -> bool:
    if not proc.alive():
        raise AssertionError(f"{proc.name} exited:\n{proc.output()}")
    return http_get(url + "/-/ready")[0] == 200


def prom_query(base: str, expr: str) -> dict[str, Any]:
    """Prometheus's instant query API answer (``status``, ``data`` or ``error``)."""
    status, body = http_get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    answer: dict[str, Any] = json.loads(body) if body else {"status": "error", "error": f"HTTP {status}"}
    return answer


def firing(base: str) -> list[dict[str, Any]]:
    _, body = http_get(base + "/api/v1/alerts")
    return [a for a in json.loads(body)["data"]["alerts"] if a["state"] == "firing"]
