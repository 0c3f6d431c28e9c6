"""Restore drills: the latest good backup restored into scratch namespaces, verified, cleaned up, recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from auditor import demo
from auditor.executor.drill import DrillError, DrillResult, choose_backup, plan_drill, scratch_name
from auditor.executor.drill_io import run_drill
from auditor.executor.run import ExecutorTimeoutError
from auditor.pipeline import ScanOptions, run_scan
from auditor.store import Store
from tests.executor.crash import kill_once_created_then_rerun
from tests.kubeapi import velero_sim as sim
from tests.kubeapi.server import KubeAPIServer

AT = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
OURS = {"backup-auditor.io/created-by": "backup-auditor", "backup-auditor.io/drill": "media-csi"}


def stamp(hours_ago: float) -> str:
    return (AT - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def backup(name: str, phase: str, hours_ago: float, *, ttl_hours: float = 720, schedule: str = "nightly",
           namespaces: list[str] | None = None, excluded: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"includedNamespaces": namespaces or ["shop"], "ttl": f"{ttl_hours:.0f}h0m0s"}
    if excluded:
        spec["excludedNamespaces"] = excluded
    return {"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": name, "namespace": "velero", "labels": {"velero.io/schedule-name": schedule},
                         "creationTimestamp": stamp(hours_ago + 0.1)},
            "spec": spec,
            "status": {"phase": phase, "startTimestamp": stamp(hours_ago + 0.1),
                       "completionTimestamp": stamp(hours_ago), "expiration": stamp(hours_ago - ttl_hours)}}


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}},
            "status": {"phase": "Active"}}


# --- planning ---------------------------------------------------------------------------------------


def test_latest_good_backup_beats_newer_partial_failed_and_expired_ones() -> None:
    backups = [backup("nightly-old", "Completed", 48), backup("nightly-good", "Completed", 30),
               backup("nightly-partial", "PartiallyFailed", 20), backup("nightly-failed", "Failed", 10),
               backup("nightly-expired", "Completed", 5, ttl_hours=4), backup("nightly-running", "InProgress", 1),
               backup("other-newest", "Completed", 0.5, schedule="other")]
    assert choose_backup(backups, "nightly", AT)["metadata"]["name"] == "nightly-good"
    with pytest.raises(DrillError, match="no Completed backup of schedule nightly to restore"):
        choose_backup(backups[2:5], "nightly", AT)


def test_plan_maps_each_namespace_to_a_labelled_scratch_namespace() -> None:
    backups = [backup("nightly-1", "Completed", 2, namespaces=["shop", "a" * 63])]
    plan = plan_drill("velero", "nightly", backups, [namespace("shop")], AT)
    restore = plan.restore
    assert restore["metadata"]["name"] == "nightly-drill-20261125120000"
    assert restore["metadata"]["labels"] == {"backup-auditor.io/created-by": "backup-auditor",
                                             "backup-auditor.io/drill": "nightly"}
    assert restore["spec"]["backupName"] == "nightly-1" and restore["spec"]["restorePVs"] is True
    assert restore["spec"]["existingResourcePolicy"] == "none"
    assert restore["spec"]["includedNamespaces"] == ["shop", "a" * 63]
    mapping = restore["spec"]["namespaceMapping"]
    assert mapping["shop"] == scratch_name("nightly-drill-20261125120000", "shop")
    assert mapping["shop"].startswith("drill-") and mapping["shop"].endswith("-shop")
    assert all(len(n) <= 63 for n in mapping.values()) and len(set(mapping.values())) == 2
    assert [ns["metadata"]["name"] for ns in plan.namespaces] == list(mapping.values())
    assert all(ns["metadata"]["labels"]["backup-auditor.io/created-by"] == "backup-auditor" for ns in plan.namespaces)
    again = plan_drill("velero", "nightly", backups, [namespace("shop")], AT + timedelta(seconds=1))
    assert again.restore["spec"]["namespaceMapping"]["shop"] != mapping["shop"], "each drill has its own scratch"


def test_wildcard_backup_expands_to_the_cluster_namespaces_minus_excludes() -> None:
    backups = [backup("nightly-1", "Completed", 2, namespaces=["*"], excluded=["kube-*"])]
    cluster = [namespace("shop"), namespace("wiki"), namespace("kube-system"), namespace("velero"),
               namespace("skipped", {"velero.io/exclude-from-backup": "true"}),
               namespace("drill-abc123-shop", {"backup-auditor.io/created-by": "backup-auditor"})]
    plan = plan_drill("velero", "nightly", backups, cluster, AT)
    assert plan.restore["spec"]["includedNamespaces"] == ["shop", "wiki"]


def test_refuses_a_scratch_namespace_that_is_not_ours() -> None:
    backups = [backup("nightly-1", "Completed", 2)]
    target = scratch_name("nightly-drill-20261125120000", "shop")
    with pytest.raises(DrillError, match=f"namespace {target} exists and is not the auditor's"):
        plan_drill("velero", "nightly", backups, [namespace("shop"), namespace(target, {"team": "x"})], AT)
    ours = namespace(target, {"backup-auditor.io/created-by": "backup-auditor", "backup-auditor.io/drill": "nightly"})
    assert plan_drill("velero", "nightly", backups, [ours], AT).scratch == [target], "our own: adopted on a resume"


def test_dry_run_on_the_demo() -> None:
    run = subprocess.run([sys.executable, "-m", "auditor", "restore-drill", "--schedule", "velero/search-nightly",
                          "--demo", "--dry-run", "-o", "json"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["kind"] == "List" and [o["kind"] for o in doc["items"]] == ["Namespace", "Restore"]
    restore = doc["items"][1]
    # the newest backup (20261120) is PartiallyFailed: the drill restores the Completed one before it
    assert restore["spec"]["backupName"] == "search-nightly-20261119020011"
    assert restore["spec"]["namespaceMapping"] == {"search": doc["items"][0]["metadata"]["name"]}
    none = subprocess.run([sys.executable, "-m", "auditor", "restore-drill", "--schedule", "velero/broken-cron",
                           "--demo", "--dry-run"], capture_output=True, text=True, timeout=60)
    assert none.returncode == 1 and "no Completed backup of schedule broken-cron to restore" in none.stderr
    assert len(none.stderr.strip().splitlines()) == 1


# --- running against the simulated Velero ------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        server.put_object(namespace("unrelated"))
        yield server


def api_of(server: KubeAPIServer) -> Any:
    return client.ApiClient(client.Configuration(host=server.url))


def drill(server: KubeAPIServer, tmp_path: Path, *, check: list[str] | None = None, timeout: float = 30,
          keep: bool = False, verify_timeout: float = 10, at: datetime | None = None) -> tuple[DrillResult, list[str]]:
    lines: list[str] = []
    result = run_drill(api_of(server), "velero", "media-csi", cluster="test", store_url=str(tmp_path / "store.db"),
                       timeout=timeout, check=check, keep_namespaces=keep, echo=lines.append,
                       verify_timeout=verify_timeout, at=at)
    return result, lines


def namespaces(server: KubeAPIServer) -> set[str]:
    return {n["metadata"]["name"] for n in server.list_objects("", "v1", "namespaces")}


def recorded(tmp_path: Path) -> list[Any]:
    with Store(str(tmp_path / "store.db")) as db:
        return [r for r in db.runs() if r.kind == "Restore"]


def test_a_passed_drill_is_annotated_recorded_and_cleaned_up(cluster: KubeAPIServer, tmp_path: Path) -> None:
    before = namespaces(cluster)
    with sim.VeleroSimulator(cluster, step=0.05) as controller:
        result, lines = drill(cluster, tmp_path, keep=True)
    assert not controller.errors
    assert result.passed, result.reason
    assert result.backup == "media-csi-20261120060001" and result.reason == "1 PVCs bound, 1 pods ready"
    [scratch] = result.namespaces
    assert scratch.startswith("drill-") and scratch.endswith("-media")
    [pvc] = cluster.list_objects("", "v1", "persistentvolumeclaims", scratch)
    assert pvc["metadata"]["name"] == "media-library" and pvc["status"]["phase"] == "Bound"
    assert controller.phases("Restore", result.restore) == ["InProgress", "Completed"]
    restore = cluster.get_object("velero.io", "v1", "restores", "velero", result.restore)
    assert restore is not None and restore["spec"]["namespaceMapping"] == {"media": scratch}
    assert restore["metadata"]["annotations"]["backup-auditor.io/drill-result"] == "passed"
    [run] = recorded(tmp_path)
    assert run.status == "succeeded" and run.finished_at is not None
    assert run.detail["pvcs_bound"] == 1 and run.detail["pods_ready"] == 1 and run.detail["phase"] == "Completed"
    assert namespaces(cluster) == before | {scratch}, "--keep-namespaces"
    assert any(line.startswith("drill passed") for line in lines)


def test_cleanup_deletes_only_our_namespaces_and_keeps_the_restore(cluster: KubeAPIServer, tmp_path: Path) -> None:
    before = namespaces(cluster)
    with sim.VeleroSimulator(cluster, step=0.05):
        result, lines = drill(cluster, tmp_path)
    assert result.passed, result.reason
    assert f"deleted namespace {result.namespaces[0]}" in lines
    deadline = time.monotonic() + 10
    while result.namespaces[0] in namespaces(cluster) and time.monotonic() < deadline:
        time.sleep(0.05)  # the test server purges a deleted namespace 50 ms later
    assert namespaces(cluster) == before, "every namespace that was there survives; ours is gone"
    assert "unrelated" in namespaces(cluster) and "media" in namespaces(cluster)
    assert cluster.list_objects("", "v1", "persistentvolumeclaims", "media"), "the source is untouched"
    assert cluster.get_object("velero.io", "v1", "restores", "velero", result.restore) is not None, "the evidence"


@pytest.mark.parametrize(("restores", "reason"), [
    ({"*": sim.failed("error restoring persistentvolumeclaims")}, "Restore ended Failed: error restoring"),
    ({"*": sim.failed_validation("Invalid included/excluded namespace lists")},
     "Restore ended FailedValidation: Invalid included/excluded namespace lists"),
    ({"*": sim.Outcome(pvc_phase="Pending")}, "PVC drill-"),
    ({"*": sim.Outcome(pods_ready=False)}, "is not Ready"),
])
def test_a_failed_restore_or_verification_fails_the_drill(cluster: KubeAPIServer, tmp_path: Path, restores: sim.Rules,
                                                          reason: str) -> None:
    with sim.VeleroSimulator(cluster, step=0.05, restores=restores) as controller:
        result, _ = drill(cluster, tmp_path, verify_timeout=0.5)
    assert not controller.errors
    assert not result.passed and reason in result.reason
    restore = cluster.get_object("velero.io", "v1", "restores", "velero", result.restore)
    assert restore is not None and restore["metadata"]["annotations"]["backup-auditor.io/drill-result"] == "failed"
    [run] = recorded(tmp_path)
    assert run.status == "failed" and reason in run.detail["reason"]


def test_the_user_check_runs_with_the_drill_environment(cluster: KubeAPIServer, tmp_path: Path) -> None:
    seen = tmp_path / "env.json"
    script = ("import json, os, sys; json.dump({k: os.environ.get(k) for k in ('DRILL_NAMESPACES', 'DRILL_BACKUP')}, "
              f"open({str(seen)!r}, 'w')); print('checked'); sys.exit(int(os.environ.get('DRILL_FAIL', '0')))")
    with sim.VeleroSimulator(cluster, step=0.05):
        result, _ = drill(cluster, tmp_path, check=[sys.executable, "-c", script])
        assert result.passed and result.reason.endswith("check passed")
        env = json.loads(seen.read_text())
        assert env == {"DRILL_NAMESPACES": result.namespaces[0], "DRILL_BACKUP": "media-csi-20261120060001"}
        os.environ["DRILL_FAIL"] = "1"
        try:
            failed, _ = drill(cluster, tmp_path, check=[sys.executable, "-c", script],
                              at=datetime.now(UTC) + timedelta(seconds=5))
        finally:
            del os.environ["DRILL_FAIL"]
    assert not failed.passed and failed.reason == "check command exited 1"
    assert failed.check_output.strip() == "checked" and failed.detail["check_exit_code"] == 1
    runs = recorded(tmp_path)
    assert sorted(r.status for r in runs) == ["failed", "succeeded"]
    assert all("checked" not in json.dumps(r.detail) for r in runs), "the check's output is not stored"


def test_a_stuck_restore_times_out_and_the_next_drill_adopts_it(cluster: KubeAPIServer, tmp_path: Path) -> None:
    with sim.VeleroSimulator(cluster, step=0.05, restores={"*": sim.stuck("InProgress")}), \
            pytest.raises(ExecutorTimeoutError, match="is still InProgress after 1 s"):
        drill(cluster, tmp_path, timeout=1)
    [run] = recorded(tmp_path)
    assert run.status == "timed-out" and run.finished_at is None
    with sim.VeleroSimulator(cluster, step=0.05):  # Velero gets unstuck: the same Restore finishes
        result, lines = drill(cluster, tmp_path, at=datetime.now(UTC) + timedelta(seconds=5))
    assert result.restore == run.object_name and any(line.startswith("resuming unfinished run") for line in lines)
    assert any(line.startswith("adopted existing Restore") for line in lines)
    assert len(cluster.list_objects("velero.io", "v1", "restores", "velero")) == 2, "the demo's one and ours"
    assert result.passed, result.reason
    [again] = recorded(tmp_path)
    assert again.identity == run.identity and again.status == "succeeded" and again.finished_at is not None


def test_sigkill_mid_drill_then_rerun_makes_one_restore_recorded_once(cluster: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kc")
    store = tmp_path / "store.db"
    args = [sys.executable, "-m", "auditor", "restore-drill", "--schedule", "velero/media-csi", "--kubeconfig",
            str(kubeconfig), "--store", str(store), "--timeout", "60s", "-o", "json"]

    def ours() -> list[dict[str, Any]]:
        return [r for r in cluster.list_objects("velero.io", "v1", "restores", "velero")
                if (r["metadata"].get("labels") or {}).get("backup-auditor.io/drill") == "media-csi"]

    rerun = kill_once_created_then_rerun(args, ours, cluster)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming unfinished run" in rerun.stderr and "adopted existing Restore" in rerun.stderr
    assert "adopted existing Namespace" in rerun.stderr
    assert len(ours()) == 1 and json.loads(rerun.stdout)["passed"] is True
    [run] = recorded(tmp_path)
    assert run.status == "succeeded" and run.object_name == ours()[0]["metadata"]["name"]


def test_gov001_passes_on_a_scan_after_a_passed_drill(cluster: KubeAPIServer, tmp_path: Path) -> None:
    cluster.delete_object("velero.io", "v1", "restores", "velero", "restore-drill-shop-2026-10")
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kc")
    with sim.VeleroSimulator(cluster, step=0.05):
        result, _ = drill(cluster, tmp_path)
    assert result.passed, result.reason
    scan = run_scan(ScanOptions(kubeconfig=str(kubeconfig), secret_values=False))
    [gov] = [r for r in scan.results if r.rule_id == "GOV-001"]
    assert gov.status == "pass", gov.message
    later = run_scan(ScanOptions(kubeconfig=str(kubeconfig), secret_values=False,
                                 as_of=datetime.now(UTC) + timedelta(days=91)))
    [old] = [r for r in later.results if r.rule_id == "GOV-001"]
    assert old.status == "open", "91 days later the drill is too old"
    assert f"the last verified restore drill (velero/{result.restore}) completed 91" in old.message
    assert old.evidence["drill"] == "passed" and old.evidence["last_restore"] == f"velero/{result.restore}"


def test_cli_live_dry_run_creates_nothing_and_a_failed_drill_exits_1(cluster: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = str(cluster.write_kubeconfig(tmp_path / "kc"))
    before = namespaces(cluster)
    args = [sys.executable, "-m", "auditor", "restore-drill", "--schedule", "velero/media-csi", "--kubeconfig",
            kubeconfig, "-o", "json"]
    dry = subprocess.run([*args, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert [o["kind"] for o in json.loads(dry.stdout)["items"]] == ["Namespace", "Restore"]
    assert namespaces(cluster) == before and len(cluster.list_objects("velero.io", "v1", "restores")) == 1
    with sim.VeleroSimulator(cluster, step=0.05, restores={"*": sim.Outcome(pods_ready=False)}):
        run = subprocess.run([*args, "--verify-timeout", "1s", "--check", "false"], capture_output=True, text=True,
                             timeout=60)
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert doc["passed"] is False and "is not Ready" in doc["reason"] and "check_exit_code" not in doc["detail"]
    assert "drill failed: pod drill-" in run.stderr
