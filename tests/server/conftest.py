"""The real stack, once per xdist worker: the API test server seeded with the demo cluster, a real
``auditor serve`` watching it, Debian's Prometheus scraping it with the shipped rules and Debian's
Alertmanager delivering to a webhook on loopback."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from auditor import demo
from auditor.store import Store
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


def serve_args(kubeconfig: Path, key: Path, *extra: str, config: Path = demo.CONFIG_FILE) -> list[str]:
    return ["--kubeconfig", str(kubeconfig), "--velero-catalog", f"{demo.CLUSTER_NAME}={demo.CATALOG_DIR}",
            "--config", str(config), "--fingerprint-key-file", str(key), *extra]


LEASES = r"^/apis/coordination\.k8s\.io/v1/namespaces/velero/leases"
STACK_TOKEN = "stack-token"  # the stack's auditors serve /api/v1/scan to this bearer token


def token_file(directory: Path) -> Path:
    path = directory / "api-token"
    path.write_text(STACK_TOKEN + "\n")
    path.chmod(0o600)
    return path


def executor_config(directory: Path) -> Path:
    """The demo's policy plus what the etcd and executor panels and alerts read: an executor etcd snapshot of
    demo-prod taken two hours before the demo's time (stale when judged now; demo-broken has none), and a
    scheduled job whose Schedule does not exist (its run fails), with its Lease in the velero namespace."""
    snapshots = directory / "etcd-snapshots"
    snapshots.mkdir()
    taken = demo.demo_as_of() - timedelta(hours=2)
    name = f"etcd-snapshot-{taken:%Y%m%d%H%M%S}"
    body = b"an etcd snapshot of the demo"
    (snapshots / f"{name}.db").write_bytes(body)
    (snapshots / f"{name}.json").write_text(json.dumps({
        "file": f"{name}.db", "sha256": hashlib.sha256(body).hexdigest(), "taken_at": taken.isoformat(),
        "endpoints": "https://10.0.1.11:2379", "etcd": {"revision": 4711, "totalKey": 1200, "totalSize": len(body)}}))
    config = yaml.safe_load(demo.CONFIG_FILE.read_text())
    config["etcd"] = {"snapshots": [{"cluster": demo.CLUSTER_NAME, "dir": str(snapshots)}]}
    config["executor"] = {"lease": {"namespace": "velero"},
                          "jobs": [{"name": "nightly-gone", "interval": "1h", "backup": {"schedule": "velero/gone"}}]}
    # a restore preflight pair whose DR target (demo-staging's dump) cannot see demo-prod's bucket: not ready
    config["preflight"] = [{"schedule": "velero/media-csi", "target_snapshot": str(demo.STAGING_DIR),
                            "name": "demo-staging", "velero_catalog": str(demo.CATALOG_DIR)}]
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def executor_store(path: Path) -> Path:
    """A history store holding two ended executor runs (what the dashboard's executor run panels read)."""
    start = demo.demo_as_of() - timedelta(hours=1)
    with Store(str(path)) as db:
        for kind, namespace, target, status, seconds in (("Backup", "velero", "daily-apps", "succeeded", 95),
                                                         ("VolumeSnapshot", "shop", "data-postgres-0", "failed", 40)):
            run, _ = db.begin_run(cluster="demo-broken", kind=kind, namespace=namespace, target=target,
                                  object_name=f"{target}-{start:%Y%m%d%H%M%S}", started_at=start)
            db.update_run(run.identity, status, {}, finished_at=start + timedelta(seconds=seconds))
    return path


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
        config = executor_config(directory)
        auditor, auditor_url = start_auditor(serve_args(kubeconfig, directory / "fingerprint.key", "--interval", "1m",
                                                        "--api-token-file", str(token_file(directory)),
                                                        config=config))
        started.append(auditor)
        # a second auditor for what a healthy demo cannot show: judged at the demo's time (unknown volumes),
        # Velero down, a forbidden resource, a cluster that rejects the auditor, no etcd snapshot, a Lease it
        # may not take (no replica leads), executor runs in its store
        for server in (broken, gone):
            server.add_fault(None, LEASES, status=403)
        two = two_context_kubeconfig(directory / "kubeconfig-broken", broken, gone)
        other, broken_url = start_auditor([*serve_args(two, directory / "fingerprint.key", "--interval", "1m",
                                                       config=config),
                                           "--all-contexts", "--as-of", "2026-11-20T12:00:00Z",
                                           "--api-token-file", str(token_file(directory)),
                                           "--store", str(executor_store(directory / "store.db"))])
        started.append(other)
        alertmanager, am_url = start_alertmanager(directory, webhook.url)
        started.append(alertmanager)
        # each auditor's executor drives its first cluster: the scrape target names it
        targets = {auditor_url.removeprefix("http://"): demo.CLUSTER_NAME,
                   broken_url.removeprefix("http://"): "demo-broken"}
        prometheus, prom_url = start_prometheus(directory, targets, am_url, rules_without_for(directory))
        started.append(prometheus)
        # rate() and increase() in the dashboard need two samples in their window
        three_scrapes = "count_over_time(backup_auditor_build_info[1m]) >= 3"
        wait_until(lambda: prom_query(prom_url, three_scrapes)["data"]["result"], 30,
                   what="Prometheus to scrape backup-auditor three times")
        failed_job = 'backup_auditor_executor_job_last_run_timestamp_seconds{outcome="failed"}'
        wait_until(lambda: prom_query(prom_url, failed_job)["data"]["result"], 30,
                   what=f"the demo auditor's job to fail and be scraped:\n{auditor.output()}")
        yield Stack(kube, auditor, auditor_url, broken_url, prometheus, prom_url, alertmanager, am_url, webhook)
    finally:
        for proc in reversed(started):
            proc.stop()
        webhook.stop()
        for server in (kube, broken, gone):
            server.stop()


__all__ = ["STACK_TOKEN", "Stack", "demo_server", "http_get", "needs_prometheus", "serve_args", "stack"]
