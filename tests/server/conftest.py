"""The real stack, once per xdist worker: the API test server seeded with the demo cluster, a real
``auditor serve`` watching it, Debian's Prometheus scraping it with the shipped rules and Debian's
Alertmanager delivering to a webhook on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

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


def broken_servers() -> tuple[KubeAPIServer, KubeAPIServer]:
    """demo-broken: the demo cluster with Velero's server down and Roles forbidden; demo-gone: rejects us."""
    broken = demo_server()
    velero = broken.get_object("apps", "v1", "deployments", "velero", "velero")
    assert velero is not None
    velero["status"] = {**velero["status"], "readyReplicas": 0, "availableReplicas": 0}
    broken.put_object(velero)
    broken.add_fault("GET", r"^/apis/rbac.authorization.k8s.io/v1/roles$", status=403)
    gone = KubeAPIServer().start()
    gone.add_fault("GET", r"^/version$", status=401)
    return broken, gone


def two_context_kubeconfig(path: Path, broken: KubeAPIServer, gone: KubeAPIServer) -> Path:
    config = broken.kubeconfig_dict("demo-broken")
    other = gone.kubeconfig_dict("demo-gone")
    for key in ("clusters", "users", "contexts"):
        config[key] += other[key]
    path.write_text(yaml.safe_dump(config))
    return path


def serve_args(kubeconfig: Path, key: Path, *extra: str) -> list[str]:
    return ["--kubeconfig", str(kubeconfig), "--velero-catalog", f"{demo.CLUSTER_NAME}={demo.CATALOG_DIR}",
            "--config", str(demo.CONFIG_FILE), "--fingerprint-key-file", str(key), *extra]


@dataclass
class Stack:
    kube: KubeAPIServer
    auditor: Process
    auditor_url: str
    broken_url: str
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
    broken, gone = broken_servers()
    started: list[Process] = []
    webhook = Webhook()
    try:
        kubeconfig = kube.write_kubeconfig(directory / "kubeconfig", context=demo.CLUSTER_NAME)
        auditor, auditor_url = start_auditor(serve_args(kubeconfig, directory / "fingerprint.key", "--interval", "1m"))
        started.append(auditor)
        # a second auditor for what a healthy demo cannot show: judged at the demo's time (unknown volumes),
        # Velero down, a forbidden resource, a cluster that rejects the auditor
        two = two_context_kubeconfig(directory / "kubeconfig-broken", broken, gone)
        other, broken_url = start_auditor([*serve_args(two, directory / "fingerprint.key", "--interval", "1m"),
                                           "--all-contexts", "--as-of", "2026-11-20T12:00:00Z"])
        started.append(other)
        alertmanager, am_url = start_alertmanager(directory, webhook.url)
        started.append(alertmanager)
        targets = [u.removeprefix("http://") for u in (auditor_url, broken_url)]
        prometheus, prom_url = start_prometheus(directory, targets, am_url, rules_without_for(directory))
        started.append(prometheus)
        # rate() and increase() in the dashboard need two samples in their window
        three_scrapes = "count_over_time(backup_auditor_build_info[1m]) >= 3"
        wait_until(lambda: prom_query(prom_url, three_scrapes)["data"]["result"], 30,
                   what="Prometheus to scrape backup-auditor three times")
        yield Stack(kube, auditor, auditor_url, broken_url, prometheus, prom_url, alertmanager, am_url, webhook)
    finally:
        for proc in reversed(started):
            proc.stop()
        webhook.stop()
        for server in (kube, broken, gone):
            server.stop()


__all__ = ["Stack", "demo_server", "http_get", "needs_prometheus", "serve_args", "stack"]
