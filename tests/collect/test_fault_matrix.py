"""The fault matrix: the demo cluster served by the Kubernetes API test server, one injected fault per case.

Every case runs ``auditor scan`` (in process, short timeouts through its flags) against a history store that
holds a fault-free scan of the same cluster a minute earlier, and asserts: the exit code, ``complete``,
the gaps, that every volume whose status differs from the fault-free baseline is ``unknown`` (with the gap
in its reasons), and that no GOV-002 weakening is derived from what could not be read (nothing changed
in the cluster, so any open GOV-002 finding would be a false tamper alarm).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from auditor import demo
from auditor.analyse.gaps import VOLUME_RESOURCES
from auditor.cli import main
from auditor.collect.kinds import KINDS, ResourceKind
from auditor.collect.live import LiveSource, RetryPolicy
from tests.kubeapi.server import KubeAPIServer

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
AS_OF = demo.demo_as_of().strftime("%Y-%m-%dT%H:%M:%SZ")
BEFORE = "2026-11-20T11:59:00Z"
TIMING = ["--request-timeout", "0.5s", "--cluster-deadline", "4s"]
#: kinds whose gap must turn every volume the baseline did not prove protected into ``unknown``
#: (configmaps only matter through a schedule's resource policy, pods and PVCs are asserted on their own)
BLINDING = sorted(set(VOLUME_RESOURCES) - {"configmaps"})


@dataclass
class Env:
    server: KubeAPIServer
    kubeconfig: Path
    store: Path  # holds the fault-free scan at BEFORE
    baseline: dict[str, Any]  # the fault-free scan document at AS_OF


@dataclass
class Outcome:
    code: int
    doc: dict[str, Any]
    stderr: str
    seconds: float

    @property
    def cluster(self) -> dict[str, Any]:
        return dict(self.doc["clusters"][0])

    def gap(self, resource: str) -> dict[str, Any]:
        found = [g for g in self.cluster["gaps"] if g["resource"] == resource]
        assert found, f"no gap for {resource}: {self.cluster['gaps']}"
        return dict(found[0])


def scan(env: Env, tmp: Path, *extra: str, store: bool = True, timing: list[str] = TIMING) -> Outcome:
    args = ["scan", "--kubeconfig", str(env.kubeconfig), "--config", str(demo.CONFIG_FILE), "--as-of", AS_OF,
            "-o", "json", "--no-secret-values", *timing, *extra]
    if store:
        copy = tmp / "history.db"
        shutil.copy(env.store, copy)
        args += ["--store", str(copy)]
    started = time.monotonic()
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    seconds = time.monotonic() - started
    doc = json.loads(result.stdout) if result.stdout.strip() else {}
    return Outcome(result.exit_code, doc, result.stderr, seconds)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without real backoff (Retry-After is still honoured): the matrix stays fast."""
    monkeypatch.setattr("auditor.pipeline.LiveSource", functools.partial(LiveSource, retry=FAST))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("faults")
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp / "kubeconfig", context="demo-prod")
        store = tmp / "baseline.db"
        env = Env(server, kubeconfig, store, {})
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("auditor.pipeline.LiveSource", functools.partial(LiveSource, retry=FAST))
            first = CliRunner().invoke(main, ["scan", "--kubeconfig", str(kubeconfig), "--config",
                                              str(demo.CONFIG_FILE), "--as-of", BEFORE, "-o", "json",
                                              "--no-secret-values", "--store", str(store)], catch_exceptions=False)
            assert first.exit_code == 0, first.stderr
            base = scan(env, tmp)
        assert base.code == 0 and base.cluster["complete"] is True and base.cluster["gaps"] == [], base.cluster
        assert {v["status"] for v in base.doc["volumes"]} >= {"protected", "unprotected", "stale"}
        assert not open_gov002(base.doc), "the fault-free rescan compares clean with the fault-free scan before"
        env.baseline = base.doc
        yield env


@pytest.fixture
def server(env: Env) -> Iterator[KubeAPIServer]:
    env.server.clear_faults()
    yield env.server
    env.server.clear_faults()


def list_regex(kind: ResourceKind) -> str:
    """The kind's list path, cluster-wide or in any namespace (for kinds read by name: each GET)."""
    base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    one = "/[^/]+" if kind.by_name else ""
    return f"^{re.escape(base)}(/namespaces/[^/]+)?/{kind.plural}{one}$"


def open_gov002(doc: dict[str, Any]) -> list[str]:
    return [f["message"] for f in doc["findings"] if f["rule_id"] == "GOV-002" and f["status"] == "open"]


def statuses(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{v['namespace']}/{v['pvc']}": v for v in doc["volumes"]}


def assert_gaps_stay_unknown(env: Env, out: Outcome, resources: list[str], *, code: int = 0) -> None:
    """The shared assertions of a case whose fault hides ``resources``."""
    assert out.code == code, out.stderr
    cluster = out.cluster
    assert cluster["complete"] is False and cluster["error"] is None
    for resource in resources:
        assert out.gap(resource)["reason"] != "not-served", "a failed read is never 'not installed'"
    base, now = statuses(env.baseline), statuses(out.doc)
    if "persistentvolumeclaims" in resources:
        assert now == {}, "no PVC list, no volume verdicts"
    else:
        assert set(now) == set(base)
    for key, volume in now.items():
        if volume["status"] != base[key]["status"]:
            assert volume["status"] == "unknown", (key, base[key]["status"], volume)
            assert any("could not read" in r for r in volume["reasons"]), volume["reasons"]
        if volume["status"] == "unknown" and base[key]["status"] != "unknown":
            hidden = [r for r in resources if any(f"could not read {r}" in x for x in volume["reasons"])]
            assert hidden, f"{key}: the reasons name the gap: {volume['reasons']}"
    if any(r in BLINDING for r in resources):
        for key, volume in now.items():
            if base[key]["status"] != "protected":
                assert volume["status"] == "unknown", (key, volume)
    assert not open_gov002(out.doc), "no GOV-002 change from an incomplete list"
    sys003 = [f for f in out.doc["findings"] if f["rule_id"] == "SYS-003"]
    assert sys003 and sys003[0]["status"] == "open"
    invented = open_subjects(out.doc) - open_subjects(env.baseline) - {("SYS-003", "Cluster", None, "demo-prod")}
    if "secrets" in resources:  # a RoleBinding that grants reading a credential Secret is a grant, read or not
        invented = {s for s in invented if s[0] != "CRD-004"}
    assert not invented, f"a gap raised findings the full data does not: {sorted(map(str, invented))}"


def open_subjects(doc: dict[str, Any]) -> set[tuple[str, str, str | None, str]]:
    return {(f["rule_id"], f["kind"], f["namespace"], f["name"]) for f in doc["findings"] if f["status"] == "open"}


# --- one kind at a time: 403, 404, 500 --------------------------------------------------------------

STATUS_REASONS = {403: "forbidden", 404: "not-found", 500: "error"}


@pytest.mark.parametrize("status", sorted(STATUS_REASONS))
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: f"{k.kind}.{k.group or 'core'}")
def test_a_failed_list_is_a_gap_and_its_verdicts_unknown(env: Env, server: KubeAPIServer, tmp_path: Path,
                                                         kind: ResourceKind, status: int) -> None:
    fault = server.add_fault(path_regex=list_regex(kind), status=status)
    # GOV-002 depends on whether a gap hides data, not on its reason: 403 (and 404 on Velero kinds) use the store
    out = scan(env, tmp_path, store=status == 403 or (status == 404 and kind.group == "velero.io"))
    assert fault.hits >= 1, "the fault was reached"
    if kind.by_name and status == 404:  # a GET by name answering 404: the object does not exist (proof)
        assert out.code == 0 and not [g for g in out.cluster["gaps"] if g["resource"] == kind.resource]
        return
    gap = out.gap(kind.resource)
    assert gap["reason"] == STATUS_REASONS[status]
    assert_gaps_stay_unknown(env, out, [kind.resource])


# --- discovery ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 500, 503])
def test_failed_api_discovery_is_a_gap_not_not_installed(env: Env, server: KubeAPIServer, tmp_path: Path,
                                                         status: int) -> None:
    server.add_fault(path_regex=r"^/apis$", status=status)
    out = scan(env, tmp_path)
    assert out.code == 0 and out.cluster["complete"] is False
    assert out.gap("apis")["reason"] == ("forbidden" if status == 403 else "error")
    assert not [g for g in out.cluster["gaps"] if g["reason"] == "not-served"], "nothing was proven absent"
    assert statuses(out.doc) == statuses(env.baseline), "every list was still read: the same verdicts"
    assert not open_gov002(out.doc)


def test_failed_discovery_and_a_404_list_leave_the_kinds_unknown(env: Env, server: KubeAPIServer,
                                                                 tmp_path: Path) -> None:
    """Discovery fails and the Velero lists answer 404 (as for a CRD being reinstalled): a gap, not 'absent'."""
    server.add_fault(path_regex=r"^/apis$", status=500)
    velero = [k for k in KINDS if k.group == "velero.io"]
    for kind in velero:
        server.add_fault(path_regex=list_regex(kind), status=404)
    out = scan(env, tmp_path)
    assert {out.gap(k.resource)["reason"] for k in velero} == {"not-found"}
    assert_gaps_stay_unknown(env, out, ["apis", *(k.resource for k in velero)])


def test_failed_group_discovery_is_a_gap_of_that_group(env: Env, server: KubeAPIServer, tmp_path: Path) -> None:
    server.add_fault(path_regex=r"^/apis/velero\.io/v1$", status=503)
    server.add_fault(path_regex=list_regex(next(k for k in KINDS if k.plural == "backups" and k.group == "velero.io")),
                     status=404)
    out = scan(env, tmp_path)
    assert out.gap("apis/velero.io/v1")["reason"] == "error"
    assert out.gap("backups.velero.io")["reason"] == "not-found"
    assert_gaps_stay_unknown(env, out, ["apis/velero.io/v1", "backups.velero.io"])


def test_discovery_proves_a_resource_absent(tmp_path: Path) -> None:
    """A group version served without one of its resources (an older release): not-served, complete."""
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        server.add_fault(path_regex=r"^/apis/velero\.io/v1$", status=200, body=json.dumps({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "velero.io/v1",
            "resources": [{"name": p, "namespaced": True, "kind": p, "verbs": ["list"]}
                          for p in ("backups", "schedules", "backupstoragelocations", "volumesnapshotlocations",
                                    "podvolumebackups", "backuprepositories")]}).encode())
        kubeconfig = server.write_kubeconfig(tmp_path / "kc", context="demo-prod")
        env = Env(server, kubeconfig, tmp_path, {})
        out = scan(env, tmp_path, store=False)
    assert out.code == 0 and out.cluster["complete"] is True
    assert out.gap("restores.velero.io")["reason"] == "not-served"
    assert not any(r.path.endswith("/restores") for r in server.requests), "a kind proven absent is not listed"


# --- stalls, deadlines, storms -------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["backups.velero.io", "persistentvolumeclaims", "deployments.apps"])
def test_a_stalled_list_is_a_gap_within_the_request_timeout(env: Env, server: KubeAPIServer, tmp_path: Path,
                                                            resource: str) -> None:
    kind = next(k for k in KINDS if k.resource == resource)
    fault = server.add_fault(path_regex=list_regex(kind), stall=True)
    out = scan(env, tmp_path)
    assert fault.hits == 1, "a stalled request is not retried (neither by urllib3 nor by the auditor)"
    assert "no answer within 0.5s" in out.gap(resource)["message"]
    assert out.seconds < 4, out.seconds
    assert_gaps_stay_unknown(env, out, [resource])


def test_a_stalled_api_ends_at_the_cluster_deadline(env: Env, server: KubeAPIServer, tmp_path: Path) -> None:
    """Every list stalls: the deadline ends the read, what was not read is a gap, the scan still reports."""
    server.add_fault(path_regex=r"^/api/v1/|^/apis/[^/]+/[^/]+/", stall=True)
    out = scan(env, tmp_path, timing=["--request-timeout", "1s", "--cluster-deadline", "3s"])
    assert out.seconds < 3 + 1 + 2, f"deadline 3s + one request timeout, took {out.seconds:.1f}s"
    resources = {g["resource"] for g in out.cluster["gaps"]}
    assert {k.resource for k in KINDS if not k.by_name} <= resources  # by name: only Secrets a BSL names
    assert any("deadline of 3s" in g["message"] for g in out.cluster["gaps"])
    assert_gaps_stay_unknown(env, out, ["persistentvolumeclaims"])


def test_a_stalled_api_server_is_unreachable_and_the_next_cluster_proceeds(env: Env, tmp_path: Path) -> None:
    """Two contexts: one API server never answers (exit 1, its row names the error), the other is scanned."""
    with KubeAPIServer(builtin_namespaces=False) as stalled:
        stalled.add_fault(method=None, path_regex=".*", stall=True)
        config = env.server.kubeconfig_dict("demo-prod")
        other = stalled.kubeconfig_dict("stalled")
        for key in ("clusters", "contexts", "users"):
            config[key] += other[key]
        kubeconfig = tmp_path / "two"
        kubeconfig.write_text(yaml.safe_dump(config))
        two = Env(env.server, kubeconfig, env.store, env.baseline)
        out = scan(two, tmp_path, "--context", "stalled", "--context", "demo-prod", store=False,
                   timing=["--request-timeout", "1s", "--cluster-deadline", "30s"])
    assert out.code == 1
    rows = {c["name"]: c for c in out.doc["clusters"]}
    assert "cannot reach" in rows["stalled"]["error"] and rows["stalled"]["complete"] is False
    assert rows["demo-prod"]["complete"] is True and rows["demo-prod"]["error"] is None
    assert statuses(out.doc) == statuses(env.baseline)
    assert out.seconds < 10, out.seconds


def test_a_429_storm_on_one_list_is_a_gap(env: Env, server: KubeAPIServer, tmp_path: Path) -> None:
    kind = next(k for k in KINDS if k.resource == "podvolumebackups.velero.io")
    fault = server.add_fault(path_regex=list_regex(kind), status=429, retry_after=1)
    out = scan(env, tmp_path)
    assert fault.hits == FAST.attempts, "each try honoured Retry-After, then it gave up"
    assert out.seconds >= (FAST.attempts - 1) * 1.0
    assert out.gap(kind.resource)["reason"] == "error" and "429" in out.gap(kind.resource)["message"]
    assert_gaps_stay_unknown(env, out, [kind.resource])


def test_a_429_storm_everywhere_ends_at_the_deadline(env: Env, server: KubeAPIServer, tmp_path: Path) -> None:
    server.add_fault(path_regex=r"^/api/v1/|^/apis", status=429, retry_after=1)
    out = scan(env, tmp_path, timing=["--request-timeout", "1s", "--cluster-deadline", "3s"])
    assert out.seconds < 3 + 2, out.seconds
    assert {k.resource for k in KINDS if not k.by_name} <= {g["resource"] for g in out.cluster["gaps"]}
    assert_gaps_stay_unknown(env, out, ["persistentvolumeclaims", "apis"])


def test_a_short_429_burst_is_absorbed(env: Env, server: KubeAPIServer, tmp_path: Path) -> None:
    server.add_fault(path_regex=r"^/api/v1/persistentvolumeclaims$", status=429, retry_after=0.2, times=2)
    out = scan(env, tmp_path)
    assert out.code == 0 and out.cluster["complete"] is True
    assert statuses(out.doc) == statuses(env.baseline)


# --- malformed 200 answers -------------------------------------------------------------------------------

MALFORMED = {
    "items-a-string": (b'{"kind": "BackupList", "items": "oops"}', "items is a str"),
    "bare-array": (b'[{"metadata": {"name": "x"}}]', "JSON list, not a"),
    "not-json": (b"<html>502 Bad Gateway</html>", "not JSON"),
    "items-not-objects": (b'{"kind": "BackupList", "items": [1, "two"]}', "items[0] is a int"),
    "item-without-metadata": (b'{"kind": "BackupList", "items": [{"spec": {}}]}', "metadata"),
    "continue-not-a-string": (b'{"kind": "BackupList", "metadata": {"continue": 7}, "items": []}', "continue"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
@pytest.mark.parametrize("resource", ["backups.velero.io", "pods", "storageclasses.storage.k8s.io"])
def test_a_malformed_list_body_is_a_gap_naming_the_kind(env: Env, server: KubeAPIServer, tmp_path: Path,
                                                        case: str, resource: str) -> None:
    body, words = MALFORMED[case]
    kind = next(k for k in KINDS if k.resource == resource)
    server.add_fault(path_regex=list_regex(kind), status=200, body=body)
    out = scan(env, tmp_path)
    gap = out.gap(resource)
    assert gap["reason"] == "error" and words in gap["message"], gap
    assert_gaps_stay_unknown(env, out, [resource])
