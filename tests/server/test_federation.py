"""Metrics across clusters, on the real thing: the demo's two clusters, each with its own Debian Prometheus
(deploy/prometheus/federation/prometheus-cluster.yml: external `cluster` label, the shipped alert rules), a
global Prometheus federating both (prometheus-global.yml: the fleet rollups and the same alert rules again),
all three sending to one Debian Alertmanager. Every per-cluster alert is evaluated in two places; Alertmanager
must hold it once per cluster and subject, and every open critical finding of the demo must be among them."""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
import yaml

from .stack import (
    DASHBOARD,
    Process,
    Webhook,
    firing,
    free_port,
    http_get,
    prom_query,
    rules_without_for,
    wait_until,
)
from .test_rules import alert_table

FEDERATION = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "federation"
CLUSTERS = ("demo-prod", "demo-staging")

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None,
    reason="Debian packages prometheus and prometheus-alertmanager are not installed (scripts/bootstrap --test)")


@dataclass
class Fleet:
    expositions: dict[str, str]  # cluster → the text its auditor serves
    cluster_prometheus: dict[str, str]  # cluster → its Prometheus' URL
    global_prometheus: str
    alertmanager: str


class Exposition:
    """A fixed /metrics text on loopback, standing in for one cluster's ``auditor serve``."""

    def __init__(self, text: str) -> None:
        body = text.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_address[1]}"
        Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def demo_expositions() -> dict[str, str]:
    """Each demo cluster's metrics as its own auditor would export them (scanned just now, every 5 minutes)."""
    from auditor.cli.shared import build_options
    from auditor.output.metrics import ClusterHealth, MetricsInput, render
    from auditor.pipeline import run_scan

    result = run_scan(build_options(demo=True))
    assert tuple(c.name for c in result.clusters) == CLUSTERS
    return {c.name: render(MetricsInput(replace(result, clusters=(c,)),
                                        (ClusterHealth(c.name, time.time(), 0.25, True, 300.0, 1, 0),))).decode()
            for c in result.clusters}


def fast(config: dict[str, Any]) -> dict[str, Any]:
    config["global"].update({"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"})
    return config


def start_prometheus(directory: Path, config: dict[str, Any]) -> tuple[Process, str]:
    directory.mkdir()
    port = free_port()
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = Process(f"prometheus-{directory.name}",
                   ["prometheus", f"--config.file={directory / 'prometheus.yml'}",
                    f"--storage.tsdb.path={directory / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                   cwd=directory)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: ready(proc, url), 30, what=f"{proc.name} to be ready:\n{proc.output()}")
    return proc, url


def ready(proc: Process, url: str) -> bool:
    if not proc.alive():
        raise AssertionError(f"{proc.name} exited:\n{proc.output()}")
    return http_get(url + "/-/ready")[0] == 200


def start_alertmanager(directory: Path, webhook: str) -> tuple[Process, str]:
    """The shipped alertmanager.yml, delivering to a webhook on loopback at once."""
    config = yaml.safe_load((FEDERATION / "alertmanager.yml").read_text())
    config["route"].update({"group_wait": "0s", "group_interval": "1s"})
    config["receivers"][0]["webhook_configs"][0]["url"] = webhook
    (directory / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    binary = shutil.which("prometheus-alertmanager") or "alertmanager"
    proc = Process("alertmanager", [binary, f"--config.file={directory / 'alertmanager.yml'}",
                                    f"--storage.path={directory / 'am-data'}",
                                    f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="])
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: ready(proc, url), 30, what=f"alertmanager to be ready:\n{proc.output()}")
    return proc, url


def global_rules_without_for(directory: Path) -> Path:
    path = directory / "global-rules.yaml"
    path.write_text((FEDERATION / "backup-auditor-global-rules.yaml").read_text())
    return path


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    directory = tmp_path_factory.mktemp("federation")
    rules = rules_without_for(directory)
    expositions = demo_expositions()
    servers = {name: Exposition(text) for name, text in expositions.items()}
    webhook = Webhook()
    started: list[Process] = []
    try:
        alertmanager, am_url = start_alertmanager(directory, webhook.url)
        started.append(alertmanager)
        am_target = am_url.removeprefix("http://")
        per_cluster: dict[str, str] = {}
        for name in CLUSTERS:
            config = fast(yaml.safe_load((FEDERATION / "prometheus-cluster.yml").read_text()))
            config["global"]["external_labels"] = {"cluster": name, "replica": "a"}
            config["rule_files"] = [str(rules)]
            config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [am_target]
            config["scrape_configs"][0]["static_configs"][0]["targets"] = [servers[name].target]
            proc, per_cluster[name] = start_prometheus(directory / name, config)
            started.append(proc)
        config = fast(yaml.safe_load((FEDERATION / "prometheus-global.yml").read_text()))
        assert [Path(f).name for f in config["rule_files"]] == ["backup-auditor-global-rules.yaml",
                                                               "backup-auditor-rules.yaml"]
        config["rule_files"] = [str(global_rules_without_for(directory)), str(rules)]
        config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [am_target]
        config["scrape_configs"][0]["static_configs"][0]["targets"] = [
            url.removeprefix("http://") for url in per_cluster.values()]
        proc, global_url = start_prometheus(directory / "global", config)
        started.append(proc)
        federated = 'count by (cluster) (backup_auditor_scan_timestamp_seconds)'
        wait_until(lambda: len(prom_query(global_url, federated)["data"]["result"]) == len(CLUSTERS), 60,
                   what="the global Prometheus to federate both clusters")
        yield Fleet(expositions, per_cluster, global_url, am_url)
    finally:
        for proc in reversed(started):
            proc.stop()
        webhook.stop()
        for server in servers.values():
            server.stop()


def identity(alert: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(alert["labels"].items()))


def am_alerts(base: str) -> list[dict[str, Any]]:
    _, body = http_get(base + "/api/v2/alerts?active=true&silenced=false&inhibited=false")
    return [a for a in json.loads(body) if a["status"]["state"] == "active"]


Settled = tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]


def settled(fleet: Fleet) -> Settled:
    """Wait until the Prometheus servers agree on what fires and Alertmanager holds all of it: (Alertmanager's
    alerts, each cluster Prometheus' firing alerts, the global one's)."""
    def state() -> Settled | None:
        edges = {name: firing(url) for name, url in fleet.cluster_prometheus.items()}
        central = firing(fleet.global_prometheus)
        held = am_alerts(fleet.alertmanager)
        edge_ids = {identity(a) for alerts in edges.values() for a in alerts}
        if not all(edges.values()) or edge_ids != {identity(a) for a in central}:
            return None
        # an alert of the first evaluations (before the first scrape: absent series) may still be resolving
        if {identity(a) for a in held} != edge_ids:
            return None
        return held, edges, central

    try:
        answer: Settled | None = wait_until(state, 60, 0.2,
                                            what="both layers to fire the same alerts and Alertmanager to hold them")
    except AssertionError:
        central = {identity(a) for a in firing(fleet.global_prometheus)}
        held = {identity(a) for a in am_alerts(fleet.alertmanager)}
        raise AssertionError(f"Alertmanager holds {len(held)} alerts, the global Prometheus fires {len(central)}; "
                             f"only in Alertmanager: {sorted(held - central)[:5]}; "
                             f"only in the global one: {sorted(central - held)[:5]}") from None
    assert answer is not None
    return answer


def test_the_dashboard_s_cluster_variable_works_on_federated_data(fleet: Fleet) -> None:
    variables = {v["name"]: v for v in json.loads(DASHBOARD.read_text())["templating"]["list"]}
    query = variables["cluster"]["query"]["query"]
    metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", query).groups()  # type: ignore[union-attr]
    _, body = http_get(f"{fleet.global_prometheus}/api/v1/label/{label}/values?"
                       + urllib.parse.urlencode({"match[]": metric}))
    assert json.loads(body)["data"] == sorted(CLUSTERS)
    namespaces = variables["namespace"]["query"]["query"].replace("$cluster", "demo-staging")
    metric_sel, label = re.fullmatch(r"label_values\((.+), (\w+)\)", namespaces).groups()  # type: ignore[union-attr]
    _, body = http_get(f"{fleet.global_prometheus}/api/v1/label/{label}/values?"
                       + urllib.parse.urlencode({"match[]": metric_sel}))
    staging = json.loads(body)["data"]
    expected = sorted(set(re.findall(r'backup_auditor_volumes\{[^}]*namespace="([^"]+)"',
                                     fleet.expositions["demo-staging"])))
    assert staging == expected and staging


def test_federated_series_keep_each_cluster_s_label_and_values(fleet: Fleet) -> None:
    """The global layer sees each cluster's series once, under its own cluster label (no double counting in the
    fleet rollups)."""
    for cluster in CLUSTERS:
        local = prom_query(fleet.cluster_prometheus[cluster],
                           'sum by (status) (backup_auditor_volumes{audited="true"})')
        rollup = wait_until(lambda c=cluster: prom_query(  # type: ignore[misc]
            fleet.global_prometheus, f'cluster:backup_auditor_volumes:sum{{cluster="{c}"}}')["data"]["result"],
            30, what="the fleet rollup to be recorded")
        assert local["data"]["result"]
        assert ({r["metric"]["status"]: r["value"][1] for r in local["data"]["result"]}
                == {r["metric"]["status"]: r["value"][1] for r in rollup})
    findings = prom_query(fleet.global_prometheus, "count by (cluster) (backup_auditor_findings)")
    per_cluster = {r["metric"]["cluster"]: int(r["value"][1]) for r in findings["data"]["result"]}
    for cluster in CLUSTERS:
        local = prom_query(fleet.cluster_prometheus[cluster], "count(backup_auditor_findings)")
        assert per_cluster[cluster] == int(local["data"]["result"][0]["value"][1])


def test_alertmanager_holds_each_alert_once_per_cluster(fleet: Fleet) -> None:
    held, edges, central = settled(fleet)
    # both layers evaluate every per-cluster alert, with identical labels (the replica label dropped)
    for cluster, alerts in edges.items():
        assert alerts and all(a["labels"]["cluster"] == cluster for a in alerts), cluster
        assert {identity(a) for a in alerts} == {identity(a) for a in central if a["labels"]["cluster"] == cluster}
    assert {a["labels"]["cluster"] for a in central} == set(CLUSTERS)
    # Alertmanager: one alert per label set, and no label set that differs only by where it was evaluated
    ids = [identity(a) for a in held]
    assert len(ids) == len(set(ids))
    assert set(ids) == {identity(a) for a in central}
    for alert in held:
        assert not {"replica", "prometheus", "instance"} & set(alert["labels"]), alert["labels"]
    names = Counter((a["labels"]["alertname"], a["labels"]["cluster"]) for a in held)
    counts = Counter((a["labels"]["alertname"], a["labels"]["cluster"]) for a in central)
    assert names == counts
    assert names[("BackupAuditorProtectionWeakened", "demo-prod")] == 1


def test_every_open_critical_finding_fires_once_in_alertmanager(fleet: Fleet) -> None:
    held, _, _ = settled(fleet)
    table = alert_table()
    open_critical = {(cluster, rule) for cluster, text in fleet.expositions.items()
                     for rule, value in re.findall(
                         r'^backup_auditor_findings\{[^}]*rule="([^"]+)",severity="critical",status="open"\} (\S+)$',
                         text, re.M) if float(value) > 0}
    assert ("demo-staging", "SYS-001") in open_critical
    for cluster, rule in sorted(open_critical):
        name = re.findall(r"\bBackupAuditor[A-Za-z]+\b", table[rule][1])[0]
        matching = [a for a in held if a["labels"]["alertname"] == name and a["labels"]["cluster"] == cluster
                    and a["labels"].get("rule", rule) == rule and a["labels"]["severity"] == "critical"]
        assert matching, f"{cluster} {rule}: no {name} in Alertmanager"
        if "rule" in matching[0]["labels"]:
            assert len(matching) == 1, matching
