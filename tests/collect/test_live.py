"""The live source against the Kubernetes API test server: identity with dumps, pagination, faults, gaps."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from auditor.collect.dump import read_dump
from auditor.collect.live import LiveSource, RetryPolicy
from auditor.collect.secrets import SecretPolicy
from auditor.config import AuditConfig
from auditor.output.document import build_document
from auditor.pipeline import ScanOptions, run_scan
from tests import factories as f
from tests.checks.rule_fixtures import app, csi_backup
from tests.kubeapi.server import KubeAPIServer

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


def cluster_objects() -> list[Any]:
    """A small but complete cluster: several namespaces, pagination needs > 1 page per kind."""
    objs: list[Any] = [*f.base_cluster(), f.schedule("daily"), f.schedule("weekly", cron="0 0 * * 0", paused=True)]
    for i in range(4):
        objs += app(f"ns{i}", "data") + app(f"ns{i}", "logs")[1:]
        objs.append(csi_backup(f"daily-{i}", "daily", hours_ago=1 + 24 * i))
    objs.append(f.config_map("policy", {"p.yaml": "version: v1\nvolumePolicies: []\n"}))
    objs.append(f.config_map("elsewhere", {"k": "v"}, ns="ns0"))
    return [o for x in objs for o in (x if isinstance(x, list) else [x])]


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    d = tmp_path / "dump"
    d.mkdir()
    objs = cluster_objects()
    (d / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    return d


@pytest.fixture
def server(dump: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(builtin_namespaces=False) as s:
        s.seed_dir(dump)
        yield s


def api_client(server: KubeAPIServer) -> client.ApiClient:
    return client.ApiClient(client.Configuration(host=server.url))


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    for c in doc["clusters"]:
        c.pop("source"), c.pop("server_version"), c.pop("unknown_kinds")  # how it was read, not what
    return doc


def test_live_and_dump_give_identical_documents(server: KubeAPIServer, dump: Path, tmp_path: Path) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", context="c1")
    as_of = f.AS_OF
    live = run_scan(ScanOptions(kubeconfig=str(kubeconfig), contexts=("c1",), as_of=as_of, page_size=3))
    offline = run_scan(ScanOptions(snapshots=(dump,), cluster_name="c1", as_of=as_of))
    live_doc, dump_doc = normalised(build_document(live)), normalised(build_document(offline))
    assert live_doc["clusters"][0]["complete"] is True
    assert live_doc == dump_doc
    assert len(live_doc["volumes"]) == 8
    pages = [r for r in server.requests if r.path.endswith("/persistentvolumeclaims") and r.query.get("continue")]
    assert pages, "pagination was exercised (page size 3 < 8 PVCs)"


def test_config_maps_are_read_only_in_the_backup_namespace(server: KubeAPIServer) -> None:
    inv = LiveSource(api_client(server), "c1", retry=FAST).collect()
    assert [c.meta.key for c in inv.config_maps] == ["velero/policy"]
    assert not any(r.path.endswith("/configmaps") and "/namespaces/" not in r.path for r in server.requests)


def test_throttling_with_retry_after_is_retried(server: KubeAPIServer) -> None:
    server.add_fault(path_regex=r"/persistentvolumeclaims$", status=429, retry_after=1, times=2)
    started = time.monotonic()
    inv = LiveSource(api_client(server), "c1", retry=FAST).collect()
    assert len(inv.pvcs) == 8 and inv.complete
    assert time.monotonic() - started >= 2.0, "Retry-After (1 s, twice) was honoured"


@pytest.mark.parametrize("status", [500, 503])
def test_transient_server_errors_are_retried(server: KubeAPIServer, status: int) -> None:
    server.add_fault(path_regex=r"/pods$", status=status, times=2)
    inv = LiveSource(api_client(server), "c1", retry=FAST).collect()
    assert len(inv.pods) == 10 and inv.complete


def test_persistent_server_error_becomes_a_gap(server: KubeAPIServer) -> None:
    server.add_fault(path_regex=r"/apis/velero.io/v1/backups$", status=503)
    inv = LiveSource(api_client(server), "c1", retry=FAST).collect()
    assert not inv.complete
    gap = inv.gap_for("backups.velero.io")
    assert gap is not None and gap.reason == "error"
    assert len(inv.pvcs) == 8, "the rest of the scan went on"
    result = run_scan_on(inv)
    assert {v["status"] for v in result["volumes"]} <= {"unknown", "protected"}


def run_scan_on(inv: Any) -> dict[str, Any]:
    from auditor.analyse.coverage import analyse_cluster
    from auditor.analyse.scan import ClusterScan, ScanResult
    from auditor.checks import evaluate
    from auditor.load.rules import load_catalog

    analysis = analyse_cluster(inv, AuditConfig(), f.AS_OF)
    return build_document(ScanResult(f.AS_OF, (ClusterScan(inv.cluster, analysis,
                                                           tuple(evaluate(analysis, load_catalog()))),), ()))


def test_connection_reset_mid_list_is_retried(server: KubeAPIServer) -> None:
    server.add_fault(path_regex=r"/persistentvolumes$", status=200, reset=True, times=1)
    inv = LiveSource(api_client(server), "c1", retry=FAST).collect()
    assert len(inv.pvs) == 8 and inv.complete


def test_expired_continue_token_restarts_the_list(server: KubeAPIServer) -> None:
    server.add_fault(path_regex=r"/persistentvolumeclaims$", query={"continue": "*"}, status=410, times=1)
    inv = LiveSource(api_client(server), "c1", page_size=3, retry=FAST).collect()
    assert [p.meta.name for p in inv.pvcs].count("data") == 4, "no duplicates after the restart"
    assert len(inv.pvcs) == 8 and inv.complete
    firsts = [r for r in server.requests if r.path.endswith("/persistentvolumeclaims") and not r.query.get("continue")]
    assert len(firsts) == 2


def test_real_token_expiry_restarts_the_list(server: KubeAPIServer) -> None:
    server.continue_token_ttl = 0.0
    inv = LiveSource(api_client(server), "c1", page_size=3, retry=RetryPolicy(restarts=1, base_delay=0.01)).collect()
    gap = inv.gap_for("persistentvolumeclaims")
    assert gap is not None and gap.reason == "error" and "410 Gone" in gap.message


def test_forbidden_resource_becomes_a_gap(server: KubeAPIServer) -> None:
    server.add_fault(path_regex=r"/api/v1/serviceaccounts$", status=403)
    inv = LiveSource(api_client(server), "c1", retry=FAST).collect()
    gap = inv.gap_for("serviceaccounts")
    assert gap is not None and gap.reason == "forbidden" and "forbidden" in gap.message
    assert not inv.complete and len(inv.pvcs) == 8


def test_missing_crd_group_is_recorded_not_fatal(dump: Path) -> None:
    crds = Path(__file__).resolve().parents[1] / "kubeapi" / "crds"
    with KubeAPIServer(crd_dirs=[crds / "velero", crds / "snapshot"], builtin_namespaces=False) as s:
        s.seed_dir(dump)
        inv = LiveSource(api_client(s), "c1", retry=FAST).collect()
    gaps = {g.resource: g.reason for g in inv.gaps}
    assert gaps["backups.k8up.io"] == "not-served"
    assert gaps["backupconfigurations.core.kubestash.com"] == "not-served"
    assert inv.complete, "a group the cluster does not serve hides nothing"
    assert len(inv.backups) == 4


def test_unreachable_cluster_is_a_row_with_its_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "u"}}]}))
    run = subprocess.run([sys.executable, "-m", "auditor", "scan", "--kubeconfig", str(kubeconfig), "-o", "json"],
                         capture_output=True, text=True, timeout=120, env={"PATH": ""})
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert doc["clusters"][0]["name"] == "dead" and not doc["clusters"][0]["complete"]
    assert "cannot reach" in doc["clusters"][0]["error"]


def test_snapshot_command_round_trips_without_secret_values(server: KubeAPIServer, tmp_path: Path) -> None:
    server.seed([{"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "cloud-credentials", "namespace": "velero",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"data":{"cloud":"U0VDUkVU"}}'}},
        "type": "Opaque", "data": {"cloud": "U0VDUkVUX01BUktFUl8xMjM="}}])
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", context="c1")
    out = tmp_path / "snap"
    run = subprocess.run([sys.executable, "-m", "auditor", "snapshot", str(out), "--kubeconfig", str(kubeconfig)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    text = "".join(p.read_text() for p in out.iterdir())
    assert "U0VDUkVU" not in text and "SECRET_MARKER" not in text
    live = run_scan(ScanOptions(kubeconfig=str(kubeconfig), contexts=("c1",), as_of=f.AS_OF))
    again = run_scan(ScanOptions(snapshots=(out,), as_of=f.AS_OF))
    assert again.clusters[0].name == "c1"
    assert normalised(build_document(live)) == normalised(build_document(again))
    assert set(read_dump(out, secrets=SecretPolicy(True, b"k" * 20)).secret_by_key[
        ("velero", "cloud-credentials")].fingerprints) == {"cloud"}, "fingerprints survive, values do not"
    rerun = subprocess.run([sys.executable, "-m", "auditor", "snapshot", str(out), "--kubeconfig", str(kubeconfig)],
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 2 and "refusing to overwrite" in rerun.stderr


def test_only_credential_secrets_are_read_each_by_name(server: KubeAPIServer) -> None:
    server.seed([f.secret("cloud-credentials", data={"cloud": f.AWS_KEY}),
                 f.secret("app-secret", ns="ns0", data={"token": "x"})])
    policy = SecretPolicy(read_values=True, key=b"k" * 20)
    inv = LiveSource(api_client(server), "c1", retry=FAST, secrets=policy).collect()
    secrets = sorted((r.method, r.path) for r in server.requests if "/secrets" in r.path)
    # no list of Secrets anywhere: one GET per Secret the backup configuration names (the repository
    # password Secret does not exist here: 404, not a gap)
    assert secrets == [("GET", "/api/v1/namespaces/velero/secrets/cloud-credentials"),
                       ("GET", "/api/v1/namespaces/velero/secrets/velero-repo-credentials")]
    cloud = inv.secret_by_key[("velero", "cloud-credentials")]
    assert cloud.classes == {"cloud": "aws-static"} and cloud.fingerprints["cloud"].startswith("hmac-sha256:")
    assert cloud.keys == ("cloud",) and cloud.meta.created is not None, "metadata from the same GET"
    assert ("ns0", "app-secret") not in inv.secret_by_key and inv.complete


def test_a_refused_credential_get_is_a_gap_naming_the_secret(server: KubeAPIServer) -> None:
    server.seed([f.secret("cloud-credentials", data={"cloud": f.AWS_KEY}),
                 f.secret("velero-repo-credentials", data={"repository-password": "static-passw0rd"})])
    server.add_fault("GET", r"^/api/v1/namespaces/velero/secrets/velero-repo-credentials$", status=403)
    inv = LiveSource(api_client(server), "c1", retry=FAST, secrets=SecretPolicy(True, b"k" * 20)).collect()
    gap = next(g for g in inv.gaps if g.resource == "secrets")
    assert (gap.reason, gap.namespace, gap.name) == ("forbidden", "velero", "velero-repo-credentials")
    assert "credential Secret velero/velero-repo-credentials could not be read" in gap.message
    assert gap.as_dict()["name"] == "velero-repo-credentials" and not inv.complete
    assert set(inv.secret_by_key) == {("velero", "cloud-credentials")}


def test_without_secret_values_a_credential_is_metadata_only(server: KubeAPIServer) -> None:
    server.seed([f.secret("cloud-credentials", data={"cloud": f.AWS_KEY}, updated_hours_ago=5)])
    inv = LiveSource(api_client(server), "c1", retry=FAST, secrets=SecretPolicy(read_values=False)).collect()
    cloud = inv.secret_by_key[("velero", "cloud-credentials")]
    assert cloud.fingerprints == {} and cloud.classes == {} and cloud.keys == ()
    assert cloud.updated, "rotation evidence (managedFields times) is metadata"


@pytest.mark.parametrize("prefetch", [False, True], ids=["in-turn", "prefetch-thread"])
def test_pages_whose_token_cannot_be_read_ahead_are_read_in_turn(server: KubeAPIServer,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   prefetch: bool) -> None:
    """Each page's continue token is read from its head to ask for the next page (early, with the prefetch
    thread); where it cannot be (here: never), the decoded token carries the list on, page by page, to the
    same inventory."""
    from auditor.collect import live

    monkeypatch.setattr(live, "PREFETCH", prefetch)
    ahead = LiveSource(api_client(server), "c1", page_size=3, retry=FAST).collect()
    monkeypatch.setattr(live, "page_token", lambda data: None)
    in_turn = LiveSource(api_client(server), "c1", page_size=3, retry=FAST).collect()
    assert len(ahead.pods) > 3 and len(ahead.pvcs) > 3
    assert replace(in_turn, collected_at=None) == replace(ahead, collected_at=None)
