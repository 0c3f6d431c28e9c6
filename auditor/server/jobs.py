"""Scheduled executor jobs in ``auditor serve``: APScheduler in the Lease holder only, runs that converge.

APScheduler 3.x has no cross-process locking (duplicates were measured with a shared job store), so each
replica keeps its own in-memory store and only the holder of the executor Lease runs a scheduler at all.
Every run is named after its *scheduled fire time*, never the wall clock: the Backup of a fire time has
the same name on every replica, so a takeover, a retry or a second replica converges on one object. On
becoming leader each job runs its newest fire time at once unless that fire time already ran (the
history store, else the object in the cluster or the file on disk says so): downtime and takeovers cost
one coalesced run, never a burst and never a duplicate. Interval jobs (and ``@every``) fire on multiples
of the period since the Unix epoch, so every replica computes the same fire times. A fire time never
adopts an earlier fire time's run: it settles it (:mod:`auditor.executor.settle`) and makes its own object.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from croniter import croniter

from auditor.collect import s3
from auditor.collect.live import LiveSource
from auditor.collect.s3 import S3Target
from auditor.config import AuditConfig, ExecutorConfig, ExecutorJob
from auditor.errors import ApiStatusError, AuditorError, ConfigError
from auditor.executor import run as executor
from auditor.executor.drill import restore_name
from auditor.executor.drill_io import run_drill
from auditor.executor.etcd import EtcdSnapshotError, EtcdTarget, take_snapshot
from auditor.executor.run import _kind
from auditor.executor.runner import execute
from auditor.executor.settle import follow_to_end, settle
from auditor.executor.snapshots import retention_for, snapshot_for
from auditor.executor.source import schedule_from_cluster, snapshot_inventory
from auditor.executor.templates import backup_from_template
from auditor.executor.velero import backup_from_schedule
from auditor.model.cron import parse_cron
from auditor.output.metrics import JOB_OUTCOMES, ExecutorState
from auditor.pipeline import live_targets
from auditor.server.leader import LeaderElector
from auditor.server.reports import VeleroCronTrigger
from auditor.store import Store
from auditor.store.runs import run_identity

log = logging.getLogger(__name__)

Now = Callable[[], datetime]
UNFINISHED = ("planned", "created", "timed-out")  # run states the runner resumes rather than skips
OVERLAPPING = ("backup", "snapshot")  # actions whose fire times never wait for the previous one
DEFAULT_TIMEOUTS = {"backup": 4 * 3600.0, "snapshot": 600.0, "etcd": 300.0, "restore_drill": 3600.0}


def stamp(t: datetime) -> str:
    return f"{t.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


class AlignedIntervalTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires on multiples of ``seconds`` since 1970-01-01 UTC: the same instants on every replica."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is not None:
            base = math.floor(previous_fire_time.timestamp() / self.seconds) + 1
        else:
            base = math.ceil(now.timestamp() / self.seconds)
        return datetime.fromtimestamp(base * self.seconds, UTC)

    def __str__(self) -> str:
        return f"every[{self.seconds:g}s, aligned]"


class FireTimes:
    """When a job fires: its APScheduler trigger, and the newest fire time at or before a moment."""

    def __init__(self, job: ExecutorJob) -> None:
        self.every = job.interval
        self.cron = None
        if job.cron is not None:
            cron = parse_cron(job.cron)
            if cron.every is not None:
                self.every = cron.every
            else:
                self.cron = cron
        self.expression = job.cron

    def trigger(self) -> BaseTrigger:
        if self.every is not None:
            return AlignedIntervalTrigger(self.every)
        assert self.expression is not None
        return VeleroCronTrigger(self.expression)

    def latest(self, now: datetime) -> datetime:
        if self.every is not None:
            return datetime.fromtimestamp(math.floor(now.timestamp() / self.every) * self.every, UTC)
        assert self.cron is not None
        start = now.astimezone(self.cron.zone or UTC).replace(microsecond=0) + timedelta(seconds=1)
        return croniter(self.cron.expression, start).get_prev(datetime).astimezone(UTC)  # type: ignore[no-any-return]


class JobRunner:
    """Runs one fire time of one job against the cluster; returns its outcome (or ``skipped``)."""

    def __init__(self, api: Any, cluster: str, store_url: str | None,
                 config: ExecutorConfig | None = None, velero_namespace: str = "velero",
                 audit: AuditConfig | None = None) -> None:
        self.api = api
        self.cluster = cluster
        self.store_url = store_url
        self.config = config or ExecutorConfig()
        self.velero_namespace = velero_namespace
        self.audit = audit or AuditConfig()  # its policies: ``prune: policy``
        self._following: set[str] = set()  # run identities a thread of this process follows now
        self._lock = threading.Lock()

    def run(self, job: ExecutorJob, fire: datetime) -> str:
        timeout = job.timeout or DEFAULT_TIMEOUTS[job.action]
        return {"backup": self._backup, "snapshot": self._snapshot, "etcd": self._etcd,
                "restore_drill": self._drill}[job.action](job, fire, timeout)

    def _echo(self, job: ExecutorJob) -> Callable[[str], None]:
        return lambda line: log.info("job %s: %s", job.name, line)

    def _backup(self, job: ExecutorJob, fire: datetime, timeout: float) -> str:
        assert job.backup is not None
        if job.backup.template is not None:
            name = job.backup.template
            obj = backup_from_template(self.config.template(name), self.velero_namespace, fire)
        else:
            assert job.backup.schedule is not None
            namespace, name = job.backup.schedule.split("/", 1)
            obj = backup_from_schedule(schedule_from_cluster(self.api, namespace, name), fire)
        if self._done(obj, target=name):
            return "skipped"
        with self._running(job, obj, name, timeout):
            final = execute(self.api, obj, cluster=self.cluster, target=name, store_url=self.store_url,
                            wait=job.wait, timeout=timeout, echo=self._echo(job), resume=False)
        if not job.wait:
            return "submitted"
        return "succeeded" if (final.get("status") or {}).get("phase") == "Completed" else "failed"

    def _snapshot(self, job: ExecutorJob, fire: datetime, timeout: float) -> str:
        assert job.snapshot is not None
        outcomes = []
        for key in job.snapshot.pvcs:
            namespace, pvc = key.split("/", 1)
            inventory = snapshot_inventory(self.api, namespace, pvc)
            obj = snapshot_for(inventory, namespace, pvc, fire)
            if self._done(obj, target=pvc):
                outcomes.append("skipped")
                continue
            prune = retention_for(self.audit, inventory, namespace, pvc) if job.snapshot.prune == "policy" \
                else job.snapshot.prune
            with self._running(job, obj, pvc, timeout):
                final = execute(self.api, obj, cluster=self.cluster, target=pvc, store_url=self.store_url,
                                wait=job.wait or prune is not None, timeout=timeout, echo=self._echo(job),
                                resume=False)
            ready = bool((final.get("status") or {}).get("readyToUse"))
            if prune is not None and ready:
                for deleted in executor.prune_snapshots(self.api, namespace, pvc, prune):
                    self._echo(job)(f"pruned VolumeSnapshot {namespace}/{deleted}")
            outcomes.append("submitted" if not (job.wait or prune is not None) else
                            "succeeded" if ready else "failed")
        for outcome in ("failed", "submitted", "succeeded"):
            if outcome in outcomes:
                return outcome
        return "skipped"

    def _etcd(self, job: ExecutorJob, fire: datetime, timeout: float) -> str:
        etcd = job.etcd
        assert etcd is not None
        upload = S3Target.parse(etcd.s3, endpoint=etcd.s3_endpoint, region=etcd.s3_region, ca_file=etcd.s3_ca_file,
                                profile=etcd.s3_profile) if etcd.s3 else None
        name = f"etcd-snapshot-{fire.astimezone(UTC):%Y%m%d%H%M%S}"
        if upload is not None and _uploaded(upload, f"{name}.json"):
            return "skipped"  # the manifest goes up last, after its verified .db: this fire time is done
        if (etcd.out / f"{name}.db").exists():
            if upload is None:
                return "skipped"
            raise EtcdSnapshotError(f"etcd snapshot {etcd.out / name}.db of this fire time is kept locally but "
                                    f"never reached {upload.url()} (an earlier upload failed); upload it or remove it")
        manifest = take_snapshot(EtcdTarget(etcd.endpoints, etcd.cacert, etcd.cert, etcd.key), etcd.out, fire,
                                 etcd.keep, timeout, upload=upload, keep_local=etcd.keep_local)
        self._echo(job)(f"etcd snapshot {manifest.get('file')} saved and verified"
                        + (f", uploaded to {upload.url()}" if upload is not None else ""))
        return "succeeded"

    def _drill(self, job: ExecutorJob, fire: datetime, timeout: float) -> str:
        drill = job.restore_drill
        assert drill is not None
        namespace, name = drill.schedule.split("/", 1)
        planned = {"apiVersion": "velero.io/v1", "kind": "Restore",
                   "metadata": {"namespace": namespace, "name": restore_name(name, fire)}}
        if self._done(planned, target=name):  # this fire time's drill ran (a takeover, a restart)
            return "skipped"
        with self._running(job, planned, name, timeout):
            result = run_drill(self.api, namespace, name, cluster=self.cluster, store_url=self.store_url,
                               timeout=timeout, check=list(drill.check) or None,
                               keep_namespaces=drill.keep_namespaces, echo=self._echo(job), wait=job.wait,
                               at=fire, resume=False)  # the Restore is named by the fire time
        if not job.wait:
            return "submitted"
        if not result.passed:
            self._echo(job)(f"restore drill failed: {result.reason}")
        return "succeeded" if result.passed else "failed"

    @contextmanager
    def _running(self, job: ExecutorJob, obj: dict[str, Any], target: str, timeout: float) -> Iterator[None]:
        """While this fire time's run executes: earlier fire times' unfinished runs of the same target are
        settled first (never adopted: see :mod:`auditor.executor.settle`), and this run is marked as followed
        here so that a later fire time does not follow it too."""
        meta = obj["metadata"]
        identity = run_identity(self.cluster, str(obj["kind"]), meta["namespace"], target, meta["name"])
        if self.store_url is not None:
            self._settle_earlier(job, str(obj["kind"]), meta["namespace"], target, identity, timeout)
        with self._lock:
            self._following.add(identity)
        try:
            yield
        finally:
            with self._lock:
                self._following.discard(identity)

    def _settle_earlier(self, job: ExecutorJob, kind: str, namespace: str, target: str, current: str,
                        timeout: float) -> None:
        """Record how earlier unfinished runs ended (one read each); follow those still within their deadline
        in a background thread. A failure here is logged and never stops this fire time's run."""
        echo = self._echo(job)
        to_follow = []
        try:
            with Store(self.store_url) as db:
                for run in db.unfinished_runs(cluster=self.cluster, kind=kind, namespace=namespace, target=target):
                    with self._lock:
                        if run.identity == current or run.identity in self._following:
                            continue
                    left = settle(self.api, db, run, timeout, echo)
                    if left is not None:
                        to_follow.append((run, left))
        except AuditorError as exc:
            log.warning("job %s: cannot settle earlier runs of %s: %s", job.name, target, exc)
            return

        def follow_all() -> None:
            try:
                with Store(self.store_url) as db:
                    for run, left in to_follow:
                        follow_to_end(self.api, db, run, left, echo)
            except AuditorError as exc:
                log.warning("job %s: cannot follow earlier runs of %s: %s", job.name, target, exc)
            finally:
                with self._lock:
                    self._following.difference_update(run.identity for run, _ in to_follow)

        with self._lock:
            to_follow = [(run, left) for run, left in to_follow if run.identity not in self._following]
            self._following.update(run.identity for run, _ in to_follow)
        if to_follow:
            threading.Thread(target=follow_all, name=f"settle-{job.name}", daemon=True).start()

    def _done(self, obj: dict[str, Any], target: str) -> bool:
        """Whether this fire time's object was already made: the store's record, else the cluster's object."""
        meta = obj["metadata"]
        if self.store_url is not None:
            with Store(self.store_url) as db:
                run = db.find_run(cluster=self.cluster, kind=str(obj["kind"]), namespace=meta["namespace"],
                                  target=target, object_name=meta["name"])
            if run is not None:
                return run.status not in UNFINISHED  # unfinished: the runner resumes and finishes it
        try:
            LiveSource(self.api, "executor").get_json(f"{_kind(obj).list_path(meta['namespace'])}/{meta['name']}")
        except ApiStatusError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def _uploaded(target: S3Target, name: str) -> bool:
    return s3.exists(target, name)


class JobScheduler:
    """An APScheduler (memory job store) that exists only while this replica leads.

    ``start()`` on becoming leader, ``stop()`` on losing it. Each run executes in a daemon thread that the
    APScheduler thread waits for, so a shutdown never waits hours for a Backup being followed."""

    def __init__(self, jobs: tuple[ExecutorJob, ...], runner: JobRunner, *,
                 is_leader: Callable[[], bool] = lambda: True, now: Now = lambda: datetime.now(UTC)) -> None:
        self.jobs = jobs
        self.runner = runner
        self.is_leader = is_leader
        self.now = now
        self.times = {job.name: FireTimes(job) for job in jobs}
        self.last_runs: dict[tuple[str, str], float] = {}  # (job, outcome) -> Unix time the run ended
        self._done: dict[str, datetime] = {}  # job -> newest fire time this process ran or found done
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self._stopping = threading.Event()
        self._workers: set[threading.Thread] = set()

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def last_run_items(self) -> list[tuple[tuple[str, str], float]]:
        with self._lock:
            return sorted(self.last_runs.items())

    def start(self) -> None:
        """Schedule every job; each also runs once at once, which runs its missed fire time if any."""
        with self._lock:
            if self._scheduler is not None:
                return
            self._stopping = threading.Event()
            scheduler = BackgroundScheduler(timezone=UTC, jobstores={"default": MemoryJobStore()})
            now = self.now()
            for job in self.jobs:
                scheduler.add_job(self.fire, self.times[job.name].trigger(), args=[job], id=job.name,
                                  name=f"job {job.name}", coalesce=True, max_instances=1, misfire_grace_time=None,
                                  next_run_time=now)
            scheduler.start()
            self._scheduler = scheduler
        log.info("executor jobs scheduled: %s", ", ".join(j.name for j in self.jobs))

    def stop(self, grace: float = 0.0) -> None:
        """No new runs; wait up to ``grace`` seconds for runs in progress (they go on in the background)."""
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.shutdown(wait=False)
        deadline = time.monotonic() + grace
        for worker in list(self._workers):
            worker.join(max(0.0, deadline - time.monotonic()))
        self._stopping.set()
        log.info("executor jobs stopped")

    def fire(self, job: ExecutorJob) -> None:
        """APScheduler's entry: run the job's newest due fire time in a worker.

        A ``backup`` or ``snapshot`` fire time never waits for the previous one: its object is created at
        its time even while the previous one is still being followed (Velero queues Backups, as its own
        schedules do). ``etcd`` and ``restore_drill`` runs of one job do not overlap: APScheduler waits
        for the worker, and a fire time that comes while it runs is coalesced into the next."""
        stopping = self._stopping
        worker = threading.Thread(target=self.run_due, args=[job], name=f"job-{job.name}", daemon=True)
        self._workers.add(worker)
        worker.start()
        if job.action in OVERLAPPING:
            return
        while worker.is_alive() and not stopping.is_set():
            worker.join(0.5)

    def run_due(self, job: ExecutorJob) -> str | None:
        """Run the newest fire time at or before now, unless it already ran; returns the outcome."""
        try:
            if not self.is_leader():
                log.info("job %s: not the leader, not running", job.name)
                return None
            fire = self.times[job.name].latest(self.now())
            with self._lock:
                if job.name in self._done and fire <= self._done[job.name]:
                    return None
                self._done[job.name] = fire
            log.info("job %s: fire time %s: running", job.name, stamp(fire))
            try:
                outcome = self.runner.run(job, fire)
            except AuditorError as exc:
                log.error("job %s: fire time %s: failed: %s", job.name, stamp(fire), exc)
                outcome = "failed"
            except Exception as exc:  # a failing job never takes the scheduler down
                log.exception("job %s: fire time %s: failed: unexpected %s", job.name, stamp(fire),
                              type(exc).__name__)
                outcome = "failed"
            if outcome == "skipped":
                log.info("job %s: fire time %s: already done, nothing to run", job.name, stamp(fire))
            else:
                log.info("job %s: fire time %s: %s", job.name, stamp(fire), outcome)
                with self._lock:
                    self.last_runs[(job.name, outcome)] = time.time()
            return outcome
        finally:
            self._workers.discard(threading.current_thread())


class ScheduledExecutor:
    """Leader election plus the job scheduler: what ``AuditorServer`` starts and stops."""

    def __init__(self, config: ExecutorConfig, api: Any, cluster: str, store_url: str | None,
                 identity: str | None = None, grace: float = 10.0, velero_namespace: str = "velero",
                 audit: AuditConfig | None = None) -> None:
        self.config = config
        self.grace = grace
        runner = JobRunner(api, cluster, store_url, config, velero_namespace, audit)
        self.scheduler = JobScheduler(config.jobs, runner,
                                      is_leader=lambda: self.elector.is_leader)
        self.elector = LeaderElector(api, config.lease, identity, on_started_leading=self.scheduler.start,
                                     on_stopped_leading=self.scheduler.stop)

    def start(self) -> None:
        self.elector.start()

    def stop(self) -> None:
        """Let runs in progress finish (while still renewing the Lease), then step down and release it."""
        self.scheduler.stop(self.grace)
        self.elector.stop(release=True)

    def state(self) -> ExecutorState:
        runs = tuple((job, outcome, t) for (job, outcome), t in self.scheduler.last_run_items()
                     if outcome in JOB_OUTCOMES)
        return ExecutorState(leader=self.elector.is_leader,
                             election_errors=tuple(sorted(self.elector.error_counts().items())), last_runs=runs)


def scheduled_executor(options: Any, identity: str | None, grace: float) -> ScheduledExecutor | None:
    """The executor for ``auditor serve``, or None without jobs. Jobs need a live cluster: the first target."""
    config: ExecutorConfig = options.config.executor
    if not config.jobs:
        return None
    if not options.live:
        raise ConfigError("executor.jobs need a live cluster (--kubeconfig or --in-cluster): they cannot run "
                          "against --snapshot or --demo; remove the jobs from the config or scan a cluster")

    target = live_targets(options)[0]  # a client of its own: the watchers' connections never delay a renewal
    return ScheduledExecutor(config, target.api_client, target.name, options.store, identity, grace,
                             options.config.velero_namespace or "velero", options.config)
