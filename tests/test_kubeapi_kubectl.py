"""The Kubernetes API test server against the real kubectl binary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.kubeapi import KubeAPIServer

TESTDATA = Path(__file__).parent / "kubeapi" / "testdata"
KUBECTL = shutil.which("kubectl", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl binary not found next to the interpreter or on PATH")

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def runner(server: KubeAPIServer, tmp: Path) -> Kubectl:
    """A kubectl invocation bound to a server through a written kubeconfig and a private cache dir."""
    kubeconfig = server.write_kubeconfig(tmp / "kubeconfig", namespace="default")

    def run(
        *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        cmd = [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp / "cache"), *args]
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run


def rows(output: str) -> list[list[str]]:
    """Table output split into whitespace-separated cells (header included)."""
    return [line.split() for line in output.strip().splitlines()]


@pytest.fixture(scope="module")
def seeded(kube_api_session: KubeAPIServer) -> KubeAPIServer:
    kube_api_session.seed_dir(TESTDATA)
    return kube_api_session


@pytest.fixture
def ro(seeded: KubeAPIServer, tmp_path: Path) -> Kubectl:
    """kubectl against the seeded session server (read-only use)."""
    return runner(seeded, tmp_path)


@pytest.fixture
def rw(kube_api: KubeAPIServer, tmp_path: Path) -> Kubectl:
    """kubectl against a fresh server."""
    return runner(kube_api, tmp_path)


def test_get_pv(ro: Kubectl) -> None:
    out = ro("get", "pv").stdout
    header = out.splitlines()[0]
    for col in ("NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS", "AGE"):
        assert col in header
    table = rows(out)[1:]
    assert len(table) == 6
    assert table[0][:6] == ["pv-released-legacy", "100Gi", "RWO", "Retain", "Released", "app-c/old"]
    assert sum(1 for r in table if "Bound" in r) == 5


def test_get_backups_all_namespaces(ro: Kubectl) -> None:
    table = rows(ro("get", "backups.velero.io", "-A").stdout)
    assert table[0] == ["NAMESPACE", "NAME", "AGE"]
    assert [r[:2] for r in table[1:]] == [
        ["velero", "daily-20250520020000"],
        ["velero", "daily-20250521020000"],
        ["velero", "daily-20250522020000"],
        ["velero", "manual-before-upgrade"],
        ["velero", "weekly-20250523020000"],
        ["velero", "weekly-20250524020000"],
    ]


def test_get_pvc_by_label(ro: Kubectl) -> None:
    table = rows(ro("get", "pvc", "-l", "app=x", "-n", "app-b").stdout)
    assert table[0][:3] == ["NAME", "STATUS", "VOLUME"]
    assert [r[0] for r in table[1:]] == ["logs", "scratch", "uploads"]
    assert [r[1] for r in table[1:]] == ["Bound", "Pending", "Bound"]
    empty = ro("get", "pvc", "-l", "app=none", "-n", "app-b")
    assert empty.stdout == "" and "No resources found in app-b namespace." in empty.stderr


def test_get_pods_json(ro: Kubectl) -> None:
    doc = json.loads(ro("get", "pods", "-A", "-o", "json").stdout)
    assert doc["kind"] == "List"
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in doc["items"]][:2] == [
        ("app-a", "cache-7d9f8b6c5-x2x4z"),
        ("app-a", "db-0"),
    ]
    assert len(doc["items"]) == 6 and all(p["kind"] == "Pod" for p in doc["items"])
    wide = rows(ro("get", "pods", "-n", "app-a", "-o", "wide").stdout)
    assert wide[0][:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] and "NODE" in wide[0]
    assert wide[3][:4] == ["db-1", "1/1", "Running", "1"]


def test_get_schedules_printer_columns(ro: Kubectl) -> None:
    out = ro("get", "schedules.velero.io", "-n", "velero").stdout
    header, daily, weekly = out.strip().splitlines()
    assert header.split() == ["NAME", "STATUS", "SCHEDULE", "LASTBACKUP", "AGE", "PAUSED"]
    assert daily.split()[:6] == ["daily", "Enabled", "0", "2", "*", "*"]
    assert weekly.split()[-1] == "true"
    jp = ro("get", "bsl", "default", "-n", "velero", "-o", "jsonpath={.spec.provider}").stdout
    assert jp == "aws"


def test_api_resources(ro: Kubectl) -> None:
    table = rows(ro("api-resources").stdout)
    assert ["persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"] in table
    assert ["schedules", "velero.io/v1", "true", "Schedule"] in table
    assert ["schedules", "k8up.io/v1", "true", "Schedule"] in table
    assert ["volumesnapshots", "vs", "snapshot.storage.k8s.io/v1", "true", "VolumeSnapshot"] in table
    assert ["repositories", "repo", "storage.kubestash.com/v1alpha1", "true", "Repository"] in table
    namespaced = rows(ro("api-resources", "--namespaced=false", "-o", "name").stdout)
    assert ["persistentvolumes"] in namespaced and ["pods"] not in namespaced
    groups = rows(ro("api-versions").stdout)
    assert ["velero.io/v1"] in groups and ["storage.kubestash.com/v1alpha1"] in groups


def test_create_apply_patch_delete(kube_api: KubeAPIServer, rw: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {app: x}\ndata:\n  a: '1'\n"
    )
    assert rw("create", "-f", str(manifest)).stdout.strip() == "configmap/settings created"
    assert "AlreadyExists" in rw("create", "-f", str(manifest), check=False).stderr
    manifest.write_text(manifest.read_text().replace("'1'", "'2'"))
    assert rw("apply", "-f", str(manifest)).stdout.strip() == "configmap/settings configured"
    assert rw("apply", "-f", str(manifest)).stdout.strip() == "configmap/settings unchanged"
    stored = kube_api.get_object("", "v1", "configmaps", "default", "settings")
    assert stored is not None and stored["data"] == {"a": "2"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]
    assert rw("patch", "configmap", "settings", "--type", "merge", "-p", '{"data":{"b":"3"}}').stdout.strip() == (
        "configmap/settings patched"
    )
    rw("patch", "configmap", "settings", "--type", "json", "-p", '[{"op":"remove","path":"/data/a"}]')
    stored = kube_api.get_object("", "v1", "configmaps", "default", "settings")
    assert stored is not None and stored["data"] == {"b": "3"}
    failed = rw(
        "patch",
        "configmap",
        "settings",
        "--type",
        "json",
        "-p",
        '[{"op":"test","path":"/data/b","value":"9"}]',
        check=False,
    )
    assert failed.returncode != 0 and "test failed" in failed.stderr
    assert "deleted" in rw("delete", "configmap", "settings").stdout
    assert kube_api.get_object("", "v1", "configmaps", "default", "settings") is None


def test_create_and_apply_custom_resources(kube_api: KubeAPIServer, rw: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "velero.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: velero\n---\n"
        "apiVersion: velero.io/v1\nkind: Schedule\nmetadata:\n  name: nightly\n  namespace: velero\n"
        "spec:\n  schedule: '0 1 * * *'\n  template:\n    ttl: 24h0m0s\n"
    )
    out = rw("apply", "-f", str(manifest)).stdout
    assert "namespace/velero created" in out and "schedule.velero.io/nightly created" in out
    manifest.write_text(manifest.read_text().replace("0 1 * * *", "0 3 * * *"))
    assert "schedule.velero.io/nightly configured" in rw("apply", "-f", str(manifest)).stdout
    stored = kube_api.get_object("velero.io", "v1", "schedules", "velero", "nightly")
    assert stored is not None and stored["spec"]["schedule"] == "0 3 * * *"
    ssa = rw("apply", "--server-side", "-f", str(manifest)).stdout
    assert "serverside-applied" in ssa
    rw("patch", "schedule.velero.io", "nightly", "-n", "velero", "--type", "merge", "-p", '{"spec":{"paused":true}}')
    table = rows(rw("get", "schedules.velero.io", "-n", "velero").stdout)
    assert table[1][0] == "nightly" and table[1][-1] == "true"
    rw("delete", "-f", str(manifest))
    assert kube_api.get_object("velero.io", "v1", "schedules", "velero", "nightly") is None


def test_imperative_creates_send_protobuf(kube_api: KubeAPIServer, rw: Kubectl) -> None:
    assert rw("create", "namespace", "team-a").stdout.strip() == "namespace/team-a created"
    rw("create", "configmap", "cfg", "-n", "team-a", "--from-literal=k=v")
    rw("create", "secret", "generic", "pw", "-n", "team-a", "--from-literal=p=s3cret")
    cfg = kube_api.get_object("", "v1", "configmaps", "team-a", "cfg")
    secret = kube_api.get_object("", "v1", "secrets", "team-a", "pw")
    assert cfg is not None and cfg["data"] == {"k": "v"}
    assert secret is not None and secret["data"] == {"p": "czNjcmV0"} and secret["type"] == "Opaque"
    assert rw("auth", "can-i", "list", "pods").stdout.strip() == "yes"
    assert "system:serviceaccount:default:test" in rw("auth", "whoami").stdout


def test_chunked_get(kube_api: KubeAPIServer, rw: Kubectl) -> None:
    kube_api.seed_dir(TESTDATA)
    kube_api.reset_requests()
    table = rows(rw("get", "pvc", "-A", "--chunk-size=2").stdout)
    assert len(table) == 7 and [r[1] for r in table[1:3]] == ["cache", "data-db-0"]
    pages = [r for r in kube_api.requests if r.path == "/api/v1/persistentvolumeclaims"]
    assert len(pages) == 3 and all(r.query.get("limit") == "2" for r in pages)
    assert sum(1 for r in pages if "continue" in r.query) == 2


def _pod(name: str, phase: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": phase},
    }


def test_get_pods_watch_sees_change(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kc", namespace="default")
    kube_api.put_object(_pod("worker", "Pending"))
    assert KUBECTL is not None
    proc = subprocess.Popen(
        [
            KUBECTL,
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(tmp_path / "cache"),
            "get",
            "pods",
            "-w",
            "--request-timeout=8s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert proc.stdout.readline().split()[:3] == ["worker", "0/1", "Pending"]
        deadline = time.monotonic() + 5
        while not any(r.query.get("watch") in ("true", "1") for r in kube_api.requests):
            assert time.monotonic() < deadline, "kubectl never started watching"
            time.sleep(0.05)
        kube_api.put_object(_pod("worker", "Running"))
        assert proc.stdout.readline().split()[:3] == ["worker", "0/1", "Running"]
        kube_api.delete_object("", "v1", "pods", "default", "worker")
        assert proc.stdout.readline().split()[:3] == ["worker", "0/1", "Running"]  # kubectl reprints deletions
    finally:
        proc.kill()
        proc.wait(10)


def test_errors_are_reported_like_the_apiserver(kube_api: KubeAPIServer, rw: Kubectl) -> None:
    missing = rw("get", "pvc", "nope", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): persistentvolumeclaims "nope" not found' in missing.stderr
    kube_api.add_fault("GET", r"/persistentvolumes", status=403)
    denied = rw("get", "pv", check=False)
    assert "Error from server (Forbidden)" in denied.stderr
    assert 'cannot list resource "persistentvolumes" in API group "" at the cluster scope' in denied.stderr
    unknown = rw("get", "widgets.example.com", check=False)
    assert "doesn't have a resource type" in unknown.stderr
