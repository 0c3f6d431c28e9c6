"""The real stack, once per xdist worker: the API test server seeded with the demo cluster, a real
``auditor serve`` watching it, Debian's Prometheus scraping it with the shipped rules and Debian's
Alertmanager delivering to a webhook on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditor import demo
from tests.kubeapi.server import KubeAPIServer

from .stack import (
    Process,
    Webhook,
    http_get,
    prom_query,
    rules_without_for,
    start_alertmanager,
    start_auditor,
    start_prometheus,
    wait_until,
)

needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None,
    reason="Debian packages prometheus and prometheus-alertmanager are not installed (scripts/bootstrap --test)")


def demo_server() -> KubeAPIServer:
    server = KubeAPIServer(builtin_namespaces=False).start()
    server.seed_dir(demo.CLUSTER_DIR)
    return server


def serve_args(kubeconfig: Path, key: Path, *extra: str) -> list[str]:
    return ["--kubeconfig", str(kubeconfig), "--velero-catalog", f"{demo.CLUSTER_NAME}={demo.CATALOG_DIR}",
            "--config", str(demo.CONFIG_FILE), "--fingerprint-key-file", str(key), *extra]


@dataclass
class Stack:
    kube: KubeAPIServer
    auditor: Process
    auditor_url: str
    prometheus: Process
    prometheus_url: str
    alertmanager: Process
    alertmanager_url: str
    webhook: Webhook


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None:
        pytest.skip("Debian packages prometheus and prometheus-alertmanager are not installed")
    directory = tmp_path_factory.mktemp("stack")
    kube = demo_server()
    started: list[Process] = []
    webhook = Webhook()
    try:
        kubeconfig = kube.write_kubeconfig(directory / "kubeconfig", context=demo.CLUSTER_NAME)
        auditor, auditor_url = start_auditor(serve_args(kubeconfig, directory / "fingerprint.key", "--interval", "1m"))
        started.append(auditor)
        alertmanager, am_url = start_alertmanager(directory, webhook.url)
        started.append(alertmanager)
        prometheus, prom_url = start_prometheus(directory, auditor_url.removeprefix("http://"), am_url,
                                                rules_without_for(directory))
        started.append(prometheus)
        # rate() and increase() in the dashboard need two samples in their window
        wait_until(lambda: prom_query(prom_url, "count_over_time(backup_auditor_build_info[1m]) >= 3")["data"]["result"],
                   30, what="Prometheus to scrape backup-auditor three times")
        yield Stack(kube, auditor, auditor_url, prometheus, prom_url, alertmanager, am_url, webhook)
    finally:
        for proc in reversed(started):
            proc.stop()
        webhook.stop()
        kube.stop()


__all__ = ["Stack", "demo_server", "http_get", "needs_prometheus", "serve_args", "stack"]
