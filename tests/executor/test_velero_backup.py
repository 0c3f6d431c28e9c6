"""Backups from schedules, exactly as `velero backup create --from-schedule`; created once, followed to the end."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client

from auditor import demo
from auditor.executor import run as executor
from auditor.executor.velero import backup_from_schedule
from tests import factories as f
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


def simulate_velero(server: KubeAPIServer, phases: list[str], stop: threading.Event) -> None:
    """A minimal Velero controller: moves every new Backup through ``phases``."""
    done: set[str] = set()
    while not stop.is_set():
        for b in server.list_objects("velero.io", "v1", "backups", "velero"):
            name = b["metadata"]["name"]
            if name in done or b.get("status"):
                continue
            for phase in phases:
                time.sleep(0.3)
                obj = server.get_object("velero.io", "v1", "backups", "velero", name) or b
                server.put_object({**obj, "status": {"phase": phase}})
            done.add(name)
        time.sleep(0.1)


def run_with_controller(tmp_path: Path, phases: list[str]) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        before = {b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero")}
        stop = threading.Event()
        controller = threading.Thread(target=simulate_velero, args=(server, phases, stop), daemon=True)
        controller.start()
        try:
            run = subprocess.run([sys.executable, "-m", "auditor", "backup", "run", "--schedule", "velero/media-csi",
                                  "--kubeconfig", str(kubeconfig), "--wait", "--timeout", "30s", "-o", "json"],
                                 capture_output=True, text=True, timeout=120)
        finally:
            stop.set()
            controller.join(timeout=5)
        new = [b for b in server.list_objects("velero.io", "v1", "backups", "velero")
               if b["metadata"]["name"] not in before]
    return run, new


def test_run_and_wait_until_completed(tmp_path: Path) -> None:
    run, new = run_with_controller(tmp_path, ["InProgress", "Completed"])
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"]["phase"] == "Completed"
    assert "created Backup velero/media-csi-" in run.stderr and "phase: Completed" in run.stderr
    assert len(new) == 1 and new[0]["metadata"]["labels"]["velero.io/schedule-name"] == "media-csi"


def test_failed_backup_exits_non_zero(tmp_path: Path) -> None:
    run, new = run_with_controller(tmp_path, ["InProgress", "Failed"])
    assert run.returncode == 1 and len(new) == 1
    assert json.loads(run.stdout)["status"]["phase"] == "Failed"


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
    import os
    import signal

    store = tmp_path / "store.db"
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        before = {b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero")}
        args = [sys.executable, "-m", "auditor", "backup", "run", "--schedule", "velero/media-csi", "--kubeconfig",
                str(kubeconfig), "--wait", "--timeout", "60s", "--store", str(store), "-o", "json"]
        first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def new_backups() -> list[dict[str, Any]]:
            return [b for b in server.list_objects("velero.io", "v1", "backups", "velero")
                    if b["metadata"]["name"] not in before]

        deadline = time.monotonic() + 30
        while not new_backups() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert new_backups(), "the first run created its Backup"
        os.kill(first.pid, signal.SIGKILL)  # no controller yet: it was waiting for a terminal phase
        first.wait(timeout=10)
        time.sleep(1.1)  # the rerun starts in a later second: a new name would be a second Backup
        stop = threading.Event()
        controller = threading.Thread(target=simulate_velero, args=(server, ["InProgress", "Completed"], stop),
                                      daemon=True)
        controller.start()
        try:
            rerun = subprocess.run(args, capture_output=True, text=True, timeout=120)
        finally:
            stop.set()
            controller.join(timeout=5)
        assert rerun.returncode == 0, rerun.stderr
        assert "resuming unfinished run" in rerun.stderr and "adopted existing Backup" in rerun.stderr
        assert len(new_backups()) == 1, "still exactly one Backup"
    listed = subprocess.run([sys.executable, "-m", "auditor", "runs", "--store", str(store), "-o", "json"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert run["status"] == "succeeded" and run["detail"] == {"phase": "Completed"} and run["target"] == "media-csi"
