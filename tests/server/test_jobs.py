"""Scheduled executor jobs: config errors name the job, fire times are deterministic, a missed fire time runs
once, a fire time never runs twice, and the runs land in the cluster, the store and /metrics."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from minio import Minio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from auditor import demo
from auditor.config import ExecutorJob, load_config
from auditor.errors import ConfigError, InputError
from auditor.output.metrics import ExecutorState
from auditor.server.http import LiveCollector
from auditor.server.jobs import AlignedIntervalTrigger, FireTimes, JobRunner, JobScheduler
from auditor.server.watch import WatchStats
from auditor.store import Store
from tests import factories as f
from tests.kubeapi.server import KubeAPIServer
from tests.s3server import MOTO_SERVER, S3Server, run_s3_server

AT = datetime(2026, 11, 26, 10, 0, 7, 500000, tzinfo=UTC)


def job(**kw: Any) -> ExecutorJob:
    return ExecutorJob.model_validate({"name": "tick", "interval": "10s", "backup": {"schedule": "velero/nightly"},
                                       **kw})


# --- config ---------------------------------------------------------------------------------------------


def config_error(tmp_path: Path, jobs: list[dict[str, Any]], lease: dict[str, Any] | None = None) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"executor": {"jobs": jobs, **({"lease": lease} if lease else {})}}))
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


GOOD = {"name": "ok", "interval": "1h", "backup": {"schedule": "velero/nightly"}}


@pytest.mark.parametrize(("bad", "expected"), [
    ({"cron": "61 * * * *"}, "executor.jobs[1] (name bad): cron: invalid schedule '61 * * * *'"),
    ({"cron": "@daily", "interval": "1h"}, "executor.jobs[1] (name bad): exactly one of cron or interval"),
    ({"interval": None}, "executor.jobs[1] (name bad): exactly one of cron or interval"),
    ({"interval": "soon"}, "executor.jobs[1] (name bad): interval: not a duration: 'soon'"),
    ({"interval": "500ms"}, "executor.jobs[1] (name bad): interval: must be at least 1s"),
    ({"backup": {"schedule": "nightly"}}, "executor.jobs[1] (name bad): backup.schedule: expected NAMESPACE/NAME"),
    ({"backup": None}, "executor.jobs[1] (name bad): exactly one action of backup, snapshot, etcd, restore_drill"),
    ({"etcd": {"endpoints": "https://10.0.0.1:2379", "out": "/tmp/x"}}, "exactly one action of backup, snapshot, "
     "etcd, restore_drill is required (got backup, etcd)"),
    ({"bakup": {"schedule": "velero/x"}}, "executor.jobs[1] (name bad): bakup: Extra inputs are not permitted"),
    ({"name": "bad name"}, "executor.jobs[1] (name bad name): name: String should match pattern"),
    ({"wait": "maybe"}, "executor.jobs[1] (name bad): wait: Input should be a valid boolean"),
    ({"backup": None, "snapshot": {"pvcs": []}}, "executor.jobs[1] (name bad): snapshot.pvcs: Tuple should have at "
     "least 1 item"),
    ({"backup": None, "etcd": {"endpoints": "https://e:2379", "out": "/x", "keep": 0}},
     "executor.jobs[1] (name bad): etcd.keep: Input should be greater than or equal to 1"),
])
def test_a_bad_job_is_one_line_naming_the_job_and_field(tmp_path: Path, bad: dict[str, Any], expected: str) -> None:
    spec = {"name": "bad", "interval": "1h", "backup": {"schedule": "velero/nightly"}, **bad}
    assert expected in config_error(tmp_path, [GOOD, {k: v for k, v in spec.items() if v is not None}])


def test_duplicate_names_and_bad_lease_timings(tmp_path: Path) -> None:
    assert "job name 'ok' is used twice" in config_error(tmp_path, [GOOD, GOOD])
    message = config_error(tmp_path, [GOOD], {"duration": "5s", "renew_deadline": "10s"})
    assert message.startswith("key executor.lease: lease timings need duration > renew_deadline")


def test_good_config_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"executor": {"jobs": [
        {"name": "nightly", "cron": "CRON_TZ=Europe/Berlin 0 2 * * *", "backup": {"schedule": "velero/nightly"},
         "timeout": "2h"},
        {"name": "pvcs", "interval": "6h", "snapshot": {"pvcs": ["shop/data"], "prune": "7d"}, "wait": False},
    ]}}))
    config = load_config(path).executor
    assert config.lease.name == "backup-auditor-executor" and config.lease.namespace == "backup-auditor"
    assert (config.lease.duration, config.lease.renew_deadline, config.lease.retry_period) == (15, 10, 2)
    assert [j.action for j in config.jobs] == ["backup", "snapshot"]
    assert config.jobs[0].timeout == 7200 and config.jobs[0].wait is True
    assert config.jobs[1].snapshot is not None and config.jobs[1].snapshot.prune == 7 * 86400


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", "serve", "--listen", "127.0.0.1:0", *args],
                          capture_output=True, text=True, timeout=60)


def test_serve_refuses_bad_jobs_and_jobs_without_a_cluster(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"executor": {"jobs": [{**GOOD, "cron": "@daily"}]}}))
    run = serve("--demo", "--config", str(bad))
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [f"error: {bad}: executor.jobs[0] (name ok): exactly one of cron or "
                                               "interval is required"]
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"executor": {"jobs": [GOOD]}}))
    run = serve("--snapshot", str(demo.CLUSTER_DIR), "--config", str(good))
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "executor.jobs need a live cluster" in run.stderr and "serving on" not in run.stderr


# --- fire times -----------------------------------------------------------------------------------------


def test_interval_fire_times_are_aligned_to_the_epoch() -> None:
    times = FireTimes(job(interval="10s"))
    assert times.latest(AT) == datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
    trigger = times.trigger()
    assert isinstance(trigger, AlignedIntervalTrigger)
    assert trigger.get_next_fire_time(None, AT) == datetime(2026, 11, 26, 10, 0, 10, tzinfo=UTC)
    # after a run started late, the next fire time is still on the grid
    assert trigger.get_next_fire_time(AT, AT) == datetime(2026, 11, 26, 10, 0, 10, tzinfo=UTC)
    every = FireTimes(job(interval=None, cron="@every 1h"))
    assert every.latest(AT) == datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


def test_cron_fire_times_in_velero_dialect() -> None:
    times = FireTimes(job(interval=None, cron="30 2 * * *"))
    assert times.latest(AT) == datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
    assert times.latest(datetime(2026, 11, 26, 2, 30, tzinfo=UTC)) == datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
    berlin = FireTimes(job(interval=None, cron="CRON_TZ=Europe/Berlin 0 2 * * *"))
    assert berlin.latest(AT) == datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 02:00 CET
    assert berlin.trigger().get_next_fire_time(None, AT) == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


# --- the scheduler, with a recording runner -------------------------------------------------------------


class Recorder(JobRunner):
    def __init__(self, fail: bool = False) -> None:
        super().__init__(None, "c", None)
        self.fires: list[datetime] = []
        self.fail = fail

    def run(self, job: ExecutorJob, fire: datetime) -> str:
        self.fires.append(fire)
        if self.fail:
            raise RuntimeError("boom")
        return "submitted"


def test_a_fire_time_runs_once_and_a_missed_one_runs_once() -> None:
    runner, now = Recorder(), [AT]
    scheduler = JobScheduler((job(),), runner, now=lambda: now[0])
    assert scheduler.run_due(job()) == "submitted"
    assert scheduler.run_due(job()) is None, "the same fire time again: nothing"
    now[0] = AT + timedelta(seconds=45)  # down for three fire times: one coalesced run, of the newest
    assert scheduler.run_due(job()) == "submitted"
    assert scheduler.run_due(job()) is None
    assert runner.fires == [datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC), datetime(2026, 11, 26, 10, 0, 50, tzinfo=UTC)]
    assert [k for k, _ in scheduler.last_run_items()] == [("tick", "submitted")]


def test_a_failing_job_is_logged_and_the_next_fire_time_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    runner, now = Recorder(fail=True), [AT]
    scheduler = JobScheduler((job(),), runner, now=lambda: now[0])
    assert scheduler.run_due(job()) == "failed"
    now[0] += timedelta(seconds=10)
    assert scheduler.run_due(job()) == "failed"
    assert len(runner.fires) == 2
    assert "job tick: fire time 2026-11-26T10:00:00Z: failed: unexpected RuntimeError" in caplog.text


def test_only_the_leader_runs() -> None:
    runner = Recorder()
    scheduler = JobScheduler((job(),), runner, is_leader=lambda: False)
    assert scheduler.run_due(job()) is None and runner.fires == []


def test_apscheduler_runs_the_missed_fire_time_at_start_then_on_the_grid() -> None:
    runner = Recorder()
    fast = job(interval="1s")
    scheduler = JobScheduler((fast,), runner)
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while len(runner.fires) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert len(runner.fires) >= 3
    assert all(t.microsecond == 0 for t in runner.fires) and len(set(runner.fires)) == len(runner.fires)
    assert not scheduler.running
    count = len(runner.fires)
    time.sleep(1.2)
    assert len(runner.fires) == count, "no runs after stop"


def test_stop_does_not_wait_for_a_long_run() -> None:
    release = threading.Event()

    class Slow(Recorder):
        def run(self, job: ExecutorJob, fire: datetime) -> str:
            self.fires.append(fire)
            release.wait(30)
            return "succeeded"

    runner = Slow()
    scheduler = JobScheduler((job(),), runner)
    scheduler.start()
    deadline = time.monotonic() + 10
    while not runner.fires and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    scheduler.stop(grace=0.3)
    assert time.monotonic() - started < 2.0
    release.set()


# --- real runs against the API test server --------------------------------------------------------------


@pytest.fixture
def velero(kube_api: KubeAPIServer) -> KubeAPIServer:
    kube_api.seed([f.namespace("velero"), f.schedule("nightly", includedNamespaces=["shop"])])
    return kube_api


def api(server: KubeAPIServer) -> Any:
    return client.ApiClient(client.Configuration(host=server.url))


def backups(server: KubeAPIServer) -> list[str]:
    return sorted(b["metadata"]["name"] for b in server.list_objects("velero.io", "v1", "backups", "velero"))


def test_backup_job_is_named_by_its_fire_time_and_converges(velero: KubeAPIServer, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'a.db'}"
    a = JobRunner(api(velero), "c", store)
    assert a.run(job(wait=False), AT) == "submitted"
    assert backups(velero) == ["nightly-20261126100007"]
    created = velero.get_object("velero.io", "v1", "backups", "velero", "nightly-20261126100007")
    assert created is not None and created["metadata"]["labels"]["velero.io/schedule-name"] == "nightly"
    assert a.run(job(wait=False), AT) == "skipped", "the store says this fire time ran"
    b = JobRunner(api(velero), "c", f"sqlite:///{tmp_path / 'b.db'}")  # another replica, its own store
    assert b.run(job(wait=False), AT) == "skipped", "the cluster says so"
    assert JobRunner(api(velero), "c", None).run(job(wait=False), AT) == "skipped"
    assert backups(velero) == ["nightly-20261126100007"]
    with Store(store) as db:
        [run] = db.runs()
    assert (run.object_name, run.status) == ("nightly-20261126100007", "submitted")
    with Store(f"sqlite:///{tmp_path / 'b.db'}") as db:
        assert db.runs() == []


def test_backup_job_waits_for_the_phase(velero: KubeAPIServer) -> None:
    from tests.kubeapi.velero_sim import VeleroSimulator, failed

    velero.seed([f.bsl("default")])
    with VeleroSimulator(velero, step=0.05, backups={"nightly-20261126100000": failed()}) as sim:
        runner = JobRunner(api(velero), "c", None)
        outcome = runner.run(job(timeout="30s"), AT)
        failed_outcome = runner.run(job(timeout="30s"), AT.replace(second=0, microsecond=0))
    assert not sim.errors
    assert (outcome, failed_outcome) == ("succeeded", "failed")


def test_missing_schedule_fails_the_run_with_its_name(velero: KubeAPIServer) -> None:
    runner = JobRunner(api(velero), "c", None)
    with pytest.raises(InputError, match="cannot read Velero Schedule velero/gone"):
        runner.run(job(backup={"schedule": "velero/gone"}), AT)
    scheduler = JobScheduler((job(backup={"schedule": "velero/gone"}),), runner, now=lambda: AT)
    assert scheduler.run_due(job(backup={"schedule": "velero/gone"})) == "failed"


def test_snapshot_job_named_by_fire_time(tmp_path: Path) -> None:
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        snap = job(backup=None, snapshot={"pvcs": ["shop/data-postgres-0"]}, wait=False)
        runner = JobRunner(api(server), "c", None)
        assert runner.run(snap, AT) == "submitted"
        assert runner.run(snap, AT) == "skipped"
        ours = [vs["metadata"]["name"] for vs in server.list_objects("snapshot.storage.k8s.io", "v1",
                                                                     "volumesnapshots", "shop")
                if vs["metadata"].get("labels", {}).get("backup-auditor.io/created-by") == "backup-auditor"]
    assert ours == ["data-postgres-0-auditor-20261126100007"]


def test_snapshot_job_prunes_per_the_policy(tmp_path: Path) -> None:
    """shop is tier-1 in the demo's config (retention 14d): our 20-day-old snapshot goes, the 10-day-old stays."""
    from datetime import timedelta

    from tests.kubeapi.velero_sim import VeleroSimulator

    def ours(name: str, days: int) -> dict[str, Any]:
        return {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": name, "namespace": "shop",
                             "creationTimestamp": f"{datetime.now(UTC) - timedelta(days=days):%Y-%m-%dT%H:%M:%SZ}",
                             "labels": {"backup-auditor.io/created-by": "backup-auditor",
                                        "backup-auditor.io/pvc": "data-postgres-0"}},
                "spec": {"source": {"persistentVolumeClaimName": "data-postgres-0"}}, "status": {"readyToUse": True}}

    snap = job(backup=None, snapshot={"pvcs": ["shop/data-postgres-0"], "prune": "policy"}, timeout="30s")
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        server.seed([ours("twenty-days", 20), ours("ten-days", 10)])
        with VeleroSimulator(server, step=0.05):
            outcome = JobRunner(api(server), "c", None, audit=load_config(demo.CONFIG_FILE)).run(snap, AT)
        names = {vs["metadata"]["name"] for vs in server.list_objects("snapshot.storage.k8s.io", "v1",
                                                                      "volumesnapshots", "shop")}
    assert outcome == "succeeded"
    assert "twenty-days" not in names and {"ten-days", "data-postgres-0-auditor-20261126100007"} <= names


def test_etcd_job_skips_a_fire_time_whose_file_exists(tmp_path: Path) -> None:
    (tmp_path / "etcd-snapshot-20261126100007.db").write_bytes(b"x")
    etcd = job(backup=None, etcd={"endpoints": "http://127.0.0.1:1", "out": str(tmp_path)})
    assert JobRunner(None, "c", None).run(etcd, AT) == "skipped"


# --- metrics ----------------------------------------------------------------------------------------------


def test_executor_metrics_are_bounded_and_only_with_jobs() -> None:
    state = ExecutorState(leader=True, election_errors=(("forbidden", 2),),
                          last_runs=(("tick", "submitted", 1.8e9), ("tick", "weird\n", 1.8e9 + 1)))
    with_jobs, without = CollectorRegistry(auto_describe=False), CollectorRegistry(auto_describe=False)
    with_jobs.register(LiveCollector(WatchStats(), lambda: state))
    without.register(LiveCollector(WatchStats()))
    series = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for fam in text_string_to_metric_families(generate_latest(with_jobs).decode()) for s in fam.samples}
    assert series[("backup_auditor_leader", ())] == 1.0
    assert series[("backup_auditor_leader_election_errors_total", (("reason", "forbidden"),))] == 2.0
    assert series[("backup_auditor_leader_election_errors_total", (("reason", "not-found"),))] == 0.0
    last = "backup_auditor_executor_job_last_run_timestamp_seconds"
    assert {labels for name, labels in series if name == last} == {(("job", "tick"), ("outcome", "submitted")),
                                                                   (("job", "tick"), ("outcome", "failed"))}
    text = generate_latest(without).decode()
    assert "# TYPE backup_auditor_leader gauge" in text and "\nbackup_auditor_leader " not in text


def test_restore_drill_job_runs_a_drill_named_by_its_fire_time() -> None:
    from tests.kubeapi.velero_sim import VeleroSimulator

    drill = job(backup=None, restore_drill={"schedule": "velero/media-csi"}, timeout="30s")
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(demo.CLUSTER_DIR)
        with VeleroSimulator(server, step=0.05) as sim:
            outcome = JobRunner(api(server), "c", None).run(drill, AT)
        restores = [r["metadata"]["name"] for r in server.list_objects("velero.io", "v1", "restores", "velero")
                    if (r["metadata"].get("labels") or {}).get("backup-auditor.io/drill") == "media-csi"]
    assert not sim.errors
    assert outcome == "succeeded"
    assert len(restores) == 1 and "20261126100007" in restores[0]
    with KubeAPIServer(builtin_namespaces=False) as server:  # a replica that took over: the Restore exists
        server.seed_dir(demo.CLUSTER_DIR)
        server.seed([{"apiVersion": "velero.io/v1", "kind": "Restore",
                      "metadata": {"name": restores[0], "namespace": "velero"}, "spec": {"backupName": "x"}}])
        assert JobRunner(api(server), "c", None).run(drill, AT) == "skipped"


def test_backup_job_from_a_config_template(velero: KubeAPIServer, tmp_path: Path) -> None:
    from auditor.config import AuditConfig

    config = AuditConfig.model_validate({"executor": {
        "templates": [{"name": "before-upgrade", "labels": {"change": "CHG-1"},
                       "spec": {"includedNamespaces": ["shop"], "ttl": "72h0m0s"}}],
        "jobs": [{"name": "pre", "cron": "@daily", "backup": {"template": "before-upgrade"}, "wait": False}]}})
    runner = JobRunner(api(velero), "c", None, config.executor, "velero")
    assert runner.run(config.executor.jobs[0], AT) == "submitted"
    made = velero.get_object("velero.io", "v1", "backups", "velero", "before-upgrade-20261126100007")
    assert made is not None and made["spec"]["includedNamespaces"] == ["shop"]
    assert made["metadata"]["labels"]["backup-auditor.io/template"] == "before-upgrade"
    assert runner.run(config.executor.jobs[0], AT) == "skipped"


def test_templates_are_checked_with_the_jobs(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"executor": {
        "templates": [{"name": "t", "spec": {"includedNamespaces": ["shop"]}}],
        "jobs": [{"name": "j", "interval": "1h", "backup": {"template": "nope"}}]}}))
    with pytest.raises(ConfigError, match=r"job j: backup\.template 'nope' is not one of executor\.templates \(t\)"):
        load_config(path)
    path.write_text(yaml.safe_dump({"executor": {"templates": [{"name": "t", "spec": {"includeNamespaces": ["x"]}}]}}))
    with pytest.raises(ConfigError, match=r"spec\.includeNamespaces: not a field of a Velero BackupSpec"):
        load_config(path)
    path.write_text(yaml.safe_dump({"executor": {"jobs": [
        {"name": "j", "interval": "1h", "backup": {"template": "t", "schedule": "velero/x"}}]}}))
    with pytest.raises(ConfigError, match="give exactly one of schedule"):
        load_config(path)


# --- etcd jobs with S3 ----------------------------------------------------------------------------------

ETCD = {"endpoints": "http://127.0.0.1:1", "out": "/var/lib/etcd-snapshots"}


@pytest.mark.parametrize(("bad", "expected"), [
    ({"s3": "my-bucket/etcd"}, "etcd.s3: must be an s3://bucket/prefix URL (got 'my-bucket/etcd')"),
    ({"s3": "s3:///etcd"}, "etcd.s3: must be an s3://bucket/prefix URL (got 's3:///etcd')"),
    ({"s3": "s3://b/etcd", "s3_endpoint": "minio:9000"}, "etcd.s3_endpoint: must be an endpoint URL"),
    ({"s3": "s3://b/etcd", "s3_endpoint": "https://minio:9000/bucket"}, "etcd.s3_endpoint: must be an endpoint URL"),
    ({"s3_endpoint": "https://minio:9000", "keep_local": False}, "s3_endpoint, keep_local: false need s3"),
    ({"s3_profile": "backup"}, "s3_profile need s3"),
])
def test_etcd_job_s3_options_are_checked_at_load(tmp_path: Path, bad: dict[str, Any], expected: str) -> None:
    message = config_error(tmp_path, [{"name": "etcd", "interval": "1h", "etcd": {**ETCD, **bad}}])
    assert message.startswith("executor.jobs[0] (name etcd): ") and expected in message, message


def test_etcd_job_s3_options_load() -> None:
    etcd = job(backup=None, etcd={**ETCD, "s3": "s3://snapshots/prod/etcd", "s3_endpoint": "https://minio:9000",
                                  "s3_region": "eu-1", "s3_ca_file": "/etc/ca.pem", "s3_profile": "backup",
                                  "keep_local": False}).etcd
    assert etcd is not None and etcd.s3 == "s3://snapshots/prod/etcd" and etcd.keep_local is False
    assert etcd.s3_ca_file == Path("/etc/ca.pem")
    default = job(backup=None, etcd=ETCD).etcd
    assert default is not None and default.s3 is None and default.keep_local is True


needs_moto = pytest.mark.skipif(not MOTO_SERVER.exists(),
                                reason="moto's server is installed by scripts/bootstrap --test")
needs_etcd = pytest.mark.skipif(not shutil.which("etcd") or not shutil.which("etcdctl"),
                                reason="Debian etcd-server and etcd-client are installed by scripts/bootstrap --test")


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with run_s3_server() as server:
        yield server


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the runner reads the credentials from the AWS_* variables, as in a pod."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"etcd-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server).make_bucket(name)
    return name


def s3_client(s3: S3Server) -> Minio:
    return Minio(s3.endpoint.removeprefix("http://"), access_key=s3.access_key, secret_key=s3.secret_key,
                 secure=False, region=s3.region)


def s3_etcd_job(s3: S3Server, bucket: str, endpoints: str, out: Path, **extra: Any) -> ExecutorJob:
    return job(backup=None, timeout="30s", etcd={"endpoints": endpoints, "out": str(out),  # never etcdctl's 5m
                                                 "s3": f"s3://{bucket}/prod/etcd", "s3_endpoint": s3.endpoint,
                                                 "s3_region": s3.region, **extra})


def objects(s3: S3Server, bucket: str) -> dict[str, str]:
    """Object name → ETag: an object written twice would show a new ETag (moto: the MD5 of the body)."""
    return {o.object_name or "": o.etag or "" for o in s3_client(s3).list_objects(bucket, recursive=True)}


@needs_etcd
@needs_moto
def test_etcd_job_uploads_and_its_fire_time_is_done_without_a_local_copy(s3_server: S3Server, bucket: str,
                                                                         tmp_path: Path) -> None:
    from auditor.collect.etcd_manifests import read_source
    from auditor.config import EtcdSnapshotSource
    from tests.executor.test_etcd import run_etcd

    out = tmp_path / "snapshots"
    with run_etcd(tmp_path / "etcd", tls=False) as (url, _):
        etcd = s3_etcd_job(s3_server, bucket, url, out, keep_local=False, keep=1)
        runner = JobRunner(None, "c", None)
        assert runner.run(etcd, AT) == "succeeded"
        first = objects(s3_server, bucket)
        assert set(first) == {f"prod/etcd/etcd-snapshot-20261126100007.{ext}" for ext in ("db", "json")}
        assert not list(out.iterdir()), "keep_local: false leaves no local pair"
        # a takeover or a restart asks about the same fire time: the bucket, not the empty directory, answers
        assert runner.run(etcd, AT) == "skipped"
        assert objects(s3_server, bucket) == first
        later = AT + timedelta(hours=1)
        assert runner.run(etcd, later) == "succeeded"
    names = set(objects(s3_server, bucket))
    assert names == {f"prod/etcd/etcd-snapshot-20261126110007.{ext}" for ext in ("db", "json")}, \
        "keep: 1 applies to the prefix"
    # what SYS-002 reads: the uploaded manifest, with its snapshot present
    source = EtcdSnapshotSource(s3=f"s3://{bucket}/prod/etcd", s3_endpoint=s3_server.endpoint,
                                s3_region=s3_server.region)
    snapshots, gaps = read_source(source)
    assert not gaps and [(s.snapshot_name, s.ready, s.created) for s in snapshots] == [
        ("etcd-snapshot-20261126110007.db", True, later)]


@needs_moto
def test_a_local_snapshot_whose_upload_failed_is_not_taken_for_done(s3_server: S3Server, bucket: str,
                                                                    tmp_path: Path) -> None:
    from auditor.executor.etcd import EtcdSnapshotError

    etcd = s3_etcd_job(s3_server, bucket, "http://127.0.0.1:1", tmp_path)
    fire = FireTimes(etcd).latest(AT)
    (tmp_path / f"etcd-snapshot-{fire:%Y%m%d%H%M%S}.db").write_bytes(b"a verified snapshot")
    (tmp_path / f"etcd-snapshot-{fire:%Y%m%d%H%M%S}.json").write_text("{}")
    with pytest.raises(EtcdSnapshotError, match=f"kept locally but never reached s3://{bucket}/prod/etcd/"):
        JobRunner(None, "c", None).run(etcd, fire)
    scheduler = JobScheduler((etcd,), JobRunner(None, "c", None), now=lambda: AT)
    assert scheduler.run_due(etcd) == "failed"
    assert [job for job, outcome in scheduler.last_runs] == ["tick"]
    assert objects(s3_server, bucket) == {}, "nothing was uploaded behind the operator's back"


@needs_moto
def test_the_done_check_fails_in_one_line_without_the_secret(s3_server: S3Server, bucket: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.collect.s3 import S3StorageError

    secret = "wrong-" + uuid.uuid4().hex
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    etcd = s3_etcd_job(s3_server, bucket, "http://127.0.0.1:1", tmp_path)
    with pytest.raises(S3StorageError) as exc:
        JobRunner(None, "c", None).run(etcd, AT)
    message = str(exc.value)
    assert message.startswith(f"S3 HEAD s3://{bucket}/prod/etcd/etcd-snapshot-20261126100007.json failed: ")
    assert "\n" not in message and secret not in message and s3_server.secret_key not in message
    assert not list(tmp_path.iterdir()), "no snapshot is taken while the bucket cannot be asked"
