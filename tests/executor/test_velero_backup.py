"""Backups from schedules, exactly as `velero backup create --from-schedule`; created once, followed to the end."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client

from auditor import demo
from auditor.executor import run as executor
from auditor.executor.velero import backup_from_schedule
from tests import factories as f
from tests.executor.crash import kill_once_created_then_rerun
from tests.kubeapi import velero_sim as sim
from tests.kubeapi.server import KubeAPIServer

AT = datetime(2026, 11, 25, 23, 5, 9, tzinfo=UTC)


def schedule(**kw: Any) -> dict[str, Any]:
    s = f.schedule("nightly", includedNamespaces=["shop"], snapshotMoveData=True)
    s["metadata"].update(labels={"team": "platform"}, annotations={"owner": "ops"})
    s["spec"].update(kw)
    return s


def test_backup_from_schedule_like_velero() -> None:
    s = schedule()
    before = copy.deepcopy(s)
    b = backup_from_schedule(s, AT)
    assert b["metadata"]["name"] == "nightly-20261125230509"
    assert b["metadata"]["namespace"] == "velero"
    assert b["metadata"]["labels"] == {"team": "platform", "velero.io/schedule-name": "nightly"}
    assert b["metadata"]["annotations"] == {"owner": "ops"}
    assert b["spec"] == s["spec"]["template"] and "status" not in b
    assert "ownerReferences" not in b["metadata"]
    assert s == before, "the schedule is not modified"


def test_template_labels_win_and_owner_reference() -> None:
    s = schedule(useOwnerReferencesInBackup=True)
    s["spec"]["template"]["metadata"] = {"labels": {"tier": "gold"}}
    b = backup_from_schedule(s, AT)
    assert b["metadata"]["labels"] == {"tier": "gold", "velero.io/schedule-name": "nightly"}
    assert "metadata" not in b["spec"]
    [owner] = b["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Schedule", "nightly", True)


def test_dry_run_on_the_demo() -> None:
    run = subprocess.run([sys.executable, "-m", "auditor", "backup", "run", "--schedule", "velero/daily-apps", "--demo",
                          "--dry-run", "-o", "json"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    obj = json.loads(run.stdout)
    assert obj["kind"] == "Backup" and obj["metadata"]["name"].startswith("daily-apps-")
    assert obj["spec"]["includedNamespaces"] == ["shop", "wiki", "media"]
    refused = subprocess.run([sys.executable, "-m", "auditor", "backup", "run", "--schedule", "velero/daily-apps",
                              "--demo"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--dry-run" in refused.stderr
    missing = subprocess.run([sys.executable, "-m", "auditor", "backup", "run", "--schedule", "velero/nope", "--demo",
                              "--dry-run"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no Velero Schedule velero/nope" in missing.stderr


def auditor(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=timeout)


def runs(store: Path) -> list[dict[str, Any]]:
    listed = auditor("runs", "--store", str(store), "-o", "json")
    assert listed.returncode == 0, listed.stderr
    out: list[dict[str, Any]] = json.loads(listed.stdout)
    return out


Outcome = tuple[subprocess.CompletedProcess[str], list[Any], sim.VeleroSimulator]


def run_with_controller(tmp_path: Path, backups: sim.Rules = None, *extra: str, schedule: str = "media-csi") -> Outcome:
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        before = {b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero")}
        with sim.VeleroSimulator(server, step=0.1, backups=backups) as controller:
            run = auditor("backup", "run", "--schedule", f"velero/{schedule}", "--kubeconfig", str(kubeconfig),
                          "--wait", "--timeout", "30s", "-o", "json", *extra)
        new = [b for b in server.list_objects("velero.io", "v1", "backups", "velero")
               if b["metadata"]["name"] not in before]
    assert not controller.errors
    return run, new, controller


def test_run_and_wait_until_completed(tmp_path: Path) -> None:
    run, new, controller = run_with_controller(tmp_path, {"media-csi-*": sim.Outcome(plugin_operations=True)})
    assert run.returncode == 0, run.stderr
    status = json.loads(run.stdout)["status"]
    assert status["phase"] == "Completed" and status["completionTimestamp"] >= status["startTimestamp"]
    assert "created Backup velero/media-csi-" in run.stderr and "phase: Completed" in run.stderr
    assert len(new) == 1 and new[0]["metadata"]["labels"]["velero.io/schedule-name"] == "media-csi"
    assert controller.phases("Backup", new[0]["metadata"]["name"]) == [
        "InProgress", "WaitingForPluginOperations", "Finalizing", "Completed"]
    created = datetime.fromisoformat(new[0]["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    expiration = datetime.fromisoformat(status["expiration"].replace("Z", "+00:00"))
    assert expiration - created == timedelta(hours=720), "the template's ttl"


def test_failed_backup_exits_non_zero(tmp_path: Path) -> None:
    run, new, _ = run_with_controller(tmp_path, {"*": sim.failed("rpc error: plugin crashed")})
    assert run.returncode == 1 and len(new) == 1
    assert json.loads(run.stdout)["status"]["phase"] == "Failed"
    assert f"Backup velero/{new[0]['metadata']['name']} ended Failed: rpc error: plugin crashed" in run.stderr


def test_partially_failed_backup_is_not_a_success(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    run, new, _ = run_with_controller(tmp_path, {"*": sim.partially_failed(errors=3)}, "--store", str(store))
    assert run.returncode == 1 and len(new) == 1
    assert json.loads(run.stdout)["status"]["errors"] == 3
    assert "ended PartiallyFailed: 3 errors, 0 warnings" in run.stderr
    [recorded] = runs(store)
    assert recorded["status"] == "failed" and recorded["detail"]["phase"] == "PartiallyFailed"


def test_failed_validation_names_the_phase_and_reason(tmp_path: Path) -> None:
    """A Backup to a BackupStorageLocation that does not exist: Velero's validation, done for real."""
    store = tmp_path / "store.db"
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        server.update_object("velero.io", "v1", "schedules", "velero", "media-csi",
                             lambda s: s["spec"]["template"].update(storageLocation="gone"))
        with sim.VeleroSimulator(server, step=0.05) as controller:
            run = auditor("backup", "run", "--schedule", "velero/media-csi", "--kubeconfig", str(kubeconfig),
                          "--wait", "--timeout", "30s", "--store", str(store), "-o", "json")
    assert not controller.errors
    assert run.returncode == 1
    status = json.loads(run.stdout)["status"]
    assert status["phase"] == "FailedValidation" and "'gone' does not exist" in status["validationErrors"][0]
    [line] = [x for x in run.stderr.splitlines() if " ended " in x]
    assert "ended FailedValidation:" in line and "'gone' does not exist" in line
    [recorded] = runs(store)
    assert recorded["status"] == "failed" and recorded["finished_at"]
    assert recorded["detail"]["phase"] == "FailedValidation" and "'gone'" in recorded["detail"]["reason"]


def test_stuck_backup_times_out_then_a_rerun_adopts_it(tmp_path: Path) -> None:
    """Stuck is still running in Velero: recorded timed-out (not failed, not finished); the rerun follows the same
    Backup to its end instead of creating a second one."""
    store = tmp_path / "store.db"
    stuck_in = {"*": sim.stuck("InProgress")}
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        before = {b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero")}
        args = ("backup", "run", "--schedule", "velero/media-csi", "--kubeconfig", str(kubeconfig), "--wait",
                "--store", str(store), "-o", "json")
        with sim.VeleroSimulator(server, step=0.05, backups=stuck_in):
            first = auditor(*args, "--timeout", "2s")
        assert first.returncode == 1
        assert "is still InProgress after 2 s" in first.stderr and "recorded as timed-out" in first.stderr
        [recorded] = runs(store)
        assert recorded["status"] == "timed-out" and recorded["detail"]["phase"] == "InProgress"
        assert not recorded["finished_at"]
        time.sleep(1.1)  # the rerun starts in a later second: a new name would be a second Backup
        with sim.VeleroSimulator(server, step=0.05):
            rerun = auditor(*args, "--timeout", "30s")
        new = [b for b in server.list_objects("velero.io", "v1", "backups", "velero")
               if b["metadata"]["name"] not in before]
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming unfinished run" in rerun.stderr and "adopted existing Backup" in rerun.stderr
    assert len(new) == 1
    [recorded] = runs(store)
    assert recorded["status"] == "succeeded" and recorded["detail"] == {"phase": "Completed"}


def test_a_retry_adopts_instead_of_creating_a_second(tmp_path: Path) -> None:
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        api = client.ApiClient(client.Configuration(host=server.url))
        obj = backup_from_schedule(
            next(s for s in server.list_objects("velero.io", "v1", "schedules", "velero")
                 if s["metadata"]["name"] == "media-csi"), AT)
        first, created = executor.create(api, obj)
        again, created_again = executor.create(api, obj)
        assert created and not created_again
        assert first["metadata"]["uid"] == again["metadata"]["uid"]
        names = [b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero")]
        assert names.count("media-csi-20261125230509") == 1


def test_sigkill_mid_run_then_restart_creates_no_second_backup(tmp_path: Path) -> None:
    """Exactly once: killed while following its Backup, the rerun resumes the recorded run and adopts it."""
    store = tmp_path / "store.db"
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        before = {b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero")}
        args = [sys.executable, "-m", "auditor", "backup", "run", "--schedule", "velero/media-csi", "--kubeconfig",
                str(kubeconfig), "--wait", "--timeout", "60s", "--store", str(store), "-o", "json"]

        def new_backups() -> list[dict[str, Any]]:
            return [b for b in server.list_objects("velero.io", "v1", "backups", "velero")
                    if b["metadata"]["name"] not in before]

        rerun = kill_once_created_then_rerun(args, new_backups, server, step=0.1)
        assert rerun.returncode == 0, rerun.stderr
        assert "resuming unfinished run" in rerun.stderr and "adopted existing Backup" in rerun.stderr
        assert len(new_backups()) == 1, "still exactly one Backup"
    [run] = runs(store)
    assert run["status"] == "succeeded" and run["detail"] == {"phase": "Completed"} and run["target"] == "media-csi"


def test_simulated_expiration_is_creation_plus_ttl(tmp_path: Path) -> None:
    with KubeAPIServer() as server:
        api = client.ApiClient(client.Configuration(host=server.url))
        server.put_object({"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
                           "metadata": {"name": "default", "namespace": "velero"},
                           "spec": {"default": True, "provider": "aws"}})
        for name, spec in (("default-ttl", {}), ("short", {"ttl": "2h30m0s"})):
            executor.create(api, {"apiVersion": "velero.io/v1", "kind": "Backup",
                                  "metadata": {"name": name, "namespace": "velero"}, "spec": spec})
        with sim.VeleroSimulator(server, step=0.02) as controller:
            for name in ("default-ttl", "short"):
                executor.wait(api, "velero", name, timeout=10, poll=0.1)
        assert not controller.errors
        for name, hours in (("default-ttl", 720.0), ("short", 2.5)):
            b = server.get_object("velero.io", "v1", "backups", "velero", name)
            assert b is not None and b["status"]["phase"] == "Completed"
            created = datetime.fromisoformat(b["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
            expiration = datetime.fromisoformat(b["status"]["expiration"].replace("Z", "+00:00"))
            assert expiration - created == timedelta(hours=hours)
