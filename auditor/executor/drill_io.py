"""The I/O half of a restore drill: create, follow, verify, check, annotate, clean up, record.

Every step is safe to repeat, because a drill killed half-way is run again with the same plan: a
Namespace or Restore that exists is adopted (a Namespace only if it carries this drill's labels), a
Restore already annotated with a verdict is not verified twice, and cleanup deletes only Namespaces
labelled as this drill's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from auditor.collect.kinds import BY_GROUP_KIND
from auditor.collect.live import LiveSource, status_message
from auditor.errors import ApiStatusError
from auditor.executor import run as executor
from auditor.executor.drill import (
    DETAIL_ANNOTATION,
    RESULT_ANNOTATION,
    DrillError,
    DrillPlan,
    DrillResult,
    Echo,
    is_ours,
    phase_of,
    plan_drill,
    verdict,
)
from auditor.executor.follow import FollowError, FollowTimeoutError, follow
from auditor.executor.runner import failure_reason
from auditor.executor.velero import SCHEDULE_LABEL, TERMINAL
from auditor.store import Store

RESTORES = BY_GROUP_KIND[("velero.io", "Restore")]
NAMESPACES = BY_GROUP_KIND[("", "Namespace")]
OUTPUT_TAIL = 2000  # characters of the check command's output handed back (never stored)


def _get_json(api: Any, path: str, query: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
    try:
        out = LiveSource(api, "executor").get_json(path, query)
    except ApiStatusError as exc:
        raise DrillError(f"cannot read {path}: {exc.message}") from None
    if not isinstance(out, dict):
        raise DrillError(f"{path}: unexpected answer")
    return out


def list_backups(api: Any, namespace: str, schedule: str) -> list[dict[str, Any]]:
    page = _get_json(api, f"/apis/velero.io/v1/namespaces/{namespace}/backups",
                     [("labelSelector", f"{SCHEDULE_LABEL}={schedule}")])
    return list(page.get("items") or [])


def list_namespaces(api: Any) -> list[dict[str, Any]]:
    return list(_get_json(api, "/api/v1/namespaces").get("items") or [])


def _call(api: Any, method: str, path: str, body: Any = None,
          content_type: str = "application/json") -> tuple[int, bytes]:
    """One request, retried on throttling, server errors and lost connections: every drill request is safe to
    repeat (fixed names, a merge patch, deletes)."""
    try:
        return LiveSource(api, "executor").send(method, path, body=body, content_type=content_type)
    except ApiStatusError as exc:
        raise DrillError(f"{method} {path}: {exc.message}") from None


def owner() -> str:
    """Who runs a drill (``host:pid``): a second drill of the same run on the same host can tell whether the
    first is still alive (then it awaits its verdict) or was killed (then it resumes the drill)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(who: object) -> bool:
    """Whether the process named by :func:`owner` may still be running (another host: assumed so)."""
    host, _, pid = str(who or "").rpartition(":")
    if not host or not pid.isdigit() or int(pid) == os.getpid():
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Drill:
    """One drill of one plan; ``db``/``identity`` record it in the store (both None: not recorded)."""

    def __init__(self, api: Any, plan: DrillPlan, echo: Echo, db: Any, identity: str | None,
                 judge: bool = True) -> None:
        self.api, self.plan, self.echo, self.db, self.identity = api, plan, echo, db, identity
        self.judge = judge  # False: another process recorded this drill and judges it; this one awaits its verdict
        self.namespace = str(plan.restore["metadata"]["namespace"])
        self.detail: dict[str, Any] = {"backup": plan.backup, "restore": plan.restore_name,
                                       "namespaces": dict(plan.mapping), "owner": owner()}

    def _record(self, status: str, finished: bool = False) -> None:
        if self.db is not None and self.identity is not None and self.judge:
            self.db.update_run(self.identity, status, dict(self.detail),
                               finished_at=datetime.now(UTC) if finished else None)

    def run(self, *, wait: bool, timeout: float, verify_timeout: float | None, check: list[str] | None,
            check_timeout: float, kubeconfig: str | None, keep_namespaces: bool) -> DrillResult:
        started = time.monotonic()
        if not self.judge:
            limit = timeout + (verify_timeout if verify_timeout is not None else 300.0) + \
                (check_timeout if check else 0.0) + 30.0
            judged = self._await_verdict(limit)
            if judged is not None:
                return judged
            self.echo(f"Restore {self.namespace}/{self.plan.restore_name} got no verdict within {limit:.0f} s: "
                      "the drill that recorded it stopped; judging it here")
            self.judge = True
        try:
            self._create()
            if not wait:
                self._record("submitted", finished=True)
                return self._result(False, "submitted: not followed or verified (--no-wait)")
            restore = self._follow(timeout)
            self.detail["phase"] = phase_of(restore)
            self.detail["restore_seconds"] = round(time.monotonic() - started, 3)
            annotations = (restore.get("metadata") or {}).get("annotations") or {}
            if annotations.get(RESULT_ANNOTATION) in ("passed", "failed"):
                passed = annotations[RESULT_ANNOTATION] == "passed"
                reason = str(annotations.get(DETAIL_ANNOTATION) or "")
                self.echo(f"Restore {self.namespace}/{self.plan.restore_name} was already judged: "
                          f"{annotations[RESULT_ANNOTATION]}")
                output = ""
            else:
                passed, reason, output = self._judge(restore, verify_timeout, check, check_timeout, kubeconfig)
                self._annotate(passed, reason)
            if not keep_namespaces:
                self.detail["deleted_namespaces"] = self._cleanup()
            self.detail["total_seconds"] = round(time.monotonic() - started, 3)
            self.detail["reason"] = reason
            self._record("succeeded" if passed else "failed", finished=True)
            return self._result(passed, reason, output)
        except executor.ExecutorTimeoutError as exc:
            self.detail["error"] = str(exc)
            self._record("timed-out")
            self.echo(f"run {self.identity} recorded as timed-out: the next drill of {self.plan.schedule} follows "
                      "this Restore instead of creating another" if self.identity else str(exc))
            raise
        except executor.ExecutorError as exc:
            self.detail["error"] = str(exc)
            self._record("failed", finished=True)
            raise

    def _result(self, passed: bool, reason: str, output: str = "") -> DrillResult:
        return DrillResult(passed, self.plan.restore_name, self.plan.backup, reason, tuple(self.plan.scratch),
                           dict(self.detail), output)

    # --- steps ------------------------------------------------------------------------------------

    def _create(self) -> None:
        for ns in self.plan.namespaces:
            stored, created = self._create_namespace(ns)
            if not created and not is_ours(stored, self.plan.schedule):
                raise DrillError(f"namespace {stored['metadata']['name']} exists and is not the auditor's drill "
                                 "namespace: a drill never restores over something")
            self.echo(f"{'created' if created else 'adopted existing'} Namespace {stored['metadata']['name']}")
        stored, created = executor.create(self.api, self.plan.restore)
        self.echo(f"{'created' if created else 'adopted existing'} Restore {self.namespace}/{self.plan.restore_name}"
                  f" of Backup {self.plan.backup}")
        self.detail["uid"] = (stored.get("metadata") or {}).get("uid")
        self._record("created")

    def _create_namespace(self, ns: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """POST a scratch Namespace; one that exists is returned for the caller to judge (ours or not)."""
        name = str(ns["metadata"]["name"])
        status, data = _call(self.api, "POST", "/api/v1/namespaces", ns)
        if status == 409:
            status, data = _call(self.api, "GET", f"/api/v1/namespaces/{name}")
            if status == 200:
                return orjson.loads(data), False
        if status not in (200, 201):
            raise DrillError(f"cannot create namespace {name}: {status_message(data, status)}")
        return orjson.loads(data), True

    def _follow(self, timeout: float) -> dict[str, Any]:
        seen: list[str] = []

        def changed(obj: dict[str, Any]) -> None:
            if not seen or seen[-1] != phase_of(obj):
                seen.append(phase_of(obj))
                self.echo(f"phase: {phase_of(obj)}")

        name = self.plan.restore_name
        try:
            return follow(self.api, RESTORES, self.namespace, name, lambda o: phase_of(o) in TERMINAL, timeout,
                          on_change=changed, poll=1.0)
        except FollowTimeoutError as exc:
            raise executor.ExecutorTimeoutError(
                f"Restore {self.namespace}/{name} is still {phase_of(exc.last)} after {timeout:.0f} s (it keeps "
                "running; its scratch namespaces stay until a drill finishes it)", exc.last) from None
        except FollowError as exc:
            raise DrillError(str(exc)) from None

    def _await_verdict(self, limit: float) -> DrillResult | None:
        """The verdict the process that recorded this drill writes on the Restore; this one creates, verifies and
        deletes nothing, so two drills of one identity never verify twice or race each other's cleanup. None
        when no verdict came within ``limit`` seconds (that process stopped: this one judges instead)."""
        name = self.plan.restore_name
        path = f"{RESTORES.list_path(self.namespace)}/{name}"
        self.echo(f"waiting for the verdict on Restore {self.namespace}/{name} (the drill is run by the process "
                  "that recorded it)")
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            status, data = _call(self.api, "GET", path)
            if status == 200:
                restore = orjson.loads(data)
                annotations = (restore.get("metadata") or {}).get("annotations") or {}
                if annotations.get(RESULT_ANNOTATION) in ("passed", "failed"):
                    passed = annotations[RESULT_ANNOTATION] == "passed"
                    reason = str(annotations.get(DETAIL_ANNOTATION) or "")
                    self.detail["phase"] = phase_of(restore)
                    self.echo(f"adopted existing Restore {self.namespace}/{name} of Backup {self.plan.backup}")
                    self.echo(f"drill {'passed' if passed else 'failed'}: {reason}")
                    return self._result(passed, reason)
            elif status != 404:
                raise DrillError(f"cannot read Restore {self.namespace}/{name}: {status_message(data, status)}")
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        return None

    def _judge(self, restore: dict[str, Any], verify_timeout: float | None, check: list[str] | None,
               check_timeout: float, kubeconfig: str | None) -> tuple[bool, str, str]:
        phase = phase_of(restore)
        if phase != "Completed":
            return False, f"Restore ended {phase}: {failure_reason(restore)}", ""
        started = time.monotonic()
        ok, problem, counts = self._verify(verify_timeout if verify_timeout is not None else 300.0)
        self.detail.update(counts, verify_seconds=round(time.monotonic() - started, 3))
        if not ok:
            return False, problem, ""
        if not check:
            return True, f"{counts['pvcs_bound']} PVCs bound, {counts['pods_ready']} pods ready", ""
        code, output, reason = self._check(check, check_timeout, kubeconfig)
        self.detail["check_exit_code"] = code
        if reason:
            return False, reason, output
        return True, f"{counts['pvcs_bound']} PVCs bound, {counts['pods_ready']} pods ready, check passed", output

    def _verify(self, limit: float) -> tuple[bool, str, dict[str, int]]:
        """Poll the scratch namespaces until every PVC is Bound and every pod Ready, or ``limit`` seconds."""
        deadline = time.monotonic() + limit
        while True:
            pvcs: list[dict[str, Any]] = []
            pods: list[dict[str, Any]] = []
            for ns in self.plan.scratch:
                pvcs += _get_json(self.api, f"/api/v1/namespaces/{ns}/persistentvolumeclaims").get("items") or []
                pods += _get_json(self.api, f"/api/v1/namespaces/{ns}/pods").get("items") or []
            ok, problem, counts = verdict(pvcs, pods)
            if ok or time.monotonic() >= deadline:
                return ok, problem, counts
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _check(self, argv: list[str], limit: float, kubeconfig: str | None) -> tuple[int | None, str, str]:
        """Run the user's check; (exit code, output tail, why it failed or "")."""
        env = {**os.environ, "DRILL_NAMESPACES": ",".join(self.plan.scratch), "DRILL_BACKUP": self.plan.backup,
               "DRILL_RESTORE": self.plan.restore_name}
        if kubeconfig:
            env["KUBECONFIG"] = kubeconfig
        started = time.monotonic()
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=limit, check=False)
        except FileNotFoundError:
            return None, "", f"check command not found: {argv[0]}"
        except subprocess.TimeoutExpired:
            return None, "", f"check command did not finish within {limit:.0f} s"
        finally:
            self.detail["check_seconds"] = round(time.monotonic() - started, 3)
        output = ((done.stdout or "") + (done.stderr or ""))[-OUTPUT_TAIL:]
        return done.returncode, output, (f"check command exited {done.returncode}" if done.returncode else "")

    def _annotate(self, passed: bool, reason: str) -> None:
        """The verdict on the Restore itself (merge patch): the evidence a scan of the cluster reads."""
        patch = {"metadata": {"annotations": {RESULT_ANNOTATION: "passed" if passed else "failed",
                                              DETAIL_ANNOTATION: reason[:200]}}}
        status, data = _call(self.api, "PATCH", f"{RESTORES.list_path(self.namespace)}/{self.plan.restore_name}",
                             orjson.loads(orjson.dumps(patch)), "application/merge-patch+json")
        if status != 200:
            raise DrillError(f"cannot annotate Restore {self.namespace}/{self.plan.restore_name}: "
                             f"{status_message(data, status)}")
        self.echo(f"drill {'passed' if passed else 'failed'}: {reason}")

    def _cleanup(self) -> list[str]:
        """Delete the scratch namespaces that carry this drill's labels; nothing else, ever."""
        deleted = []
        for name in self.plan.scratch:
            status, data = _call(self.api, "GET", f"/api/v1/namespaces/{name}")
            if status == 404:
                continue
            if status != 200:
                raise DrillError(f"cannot read namespace {name}: {status_message(data, status)}")
            if not is_ours(orjson.loads(data), self.plan.schedule):
                self.echo(f"kept namespace {name}: it is not labelled as this drill's")
                continue
            status, data = _call(self.api, "DELETE", f"/api/v1/namespaces/{name}")
            if status not in (200, 202, 404):
                raise DrillError(f"cannot delete namespace {name}: {status_message(data, status)}")
            self.echo(f"deleted namespace {name}")
            deleted.append(name)
        return deleted


def run_drill(api: Any, namespace: str, schedule: str, *, cluster: str, store_url: str | None, timeout: float,
              check: list[str] | None, keep_namespaces: bool, echo: Callable[[str], None], wait: bool = True,
              verify_timeout: float | None = None, check_timeout: float = 600.0, kubeconfig: str | None = None,
              at: datetime | None = None, resume: bool = True) -> DrillResult:
    """Run one drill of ``namespace/schedule`` exactly once (see ``executor/drill.py``). ``resume``: an
    unfinished drill of the schedule is resumed (manual drills); a scheduled job passes False and converges
    on its fire time's own Restore only."""
    at = at or datetime.now(UTC)
    if store_url is None:
        plan = plan_drill(namespace, schedule, list_backups(api, namespace, schedule), list_namespaces(api), at)
        return Drill(api, plan, echo, None, None).run(
            wait=wait, timeout=timeout, verify_timeout=verify_timeout, check=check, check_timeout=check_timeout,
            kubeconfig=kubeconfig, keep_namespaces=keep_namespaces)
    with Store(store_url) as db:
        resumed = db.unfinished_run(cluster=cluster, kind="Restore", namespace=namespace, target=schedule) \
            if resume else None
        backups, namespaces = list_backups(api, namespace, schedule), list_namespaces(api)
        if resumed is not None:
            echo(f"resuming unfinished run {resumed.identity}")
            plan = plan_drill(namespace, schedule, backups, namespaces, at, name=resumed.object_name,
                              backup_name=str(resumed.detail.get("backup") or "") or None)
            identity = resumed.identity
            judge = resumed.status == "timed-out" or not owner_alive(resumed.detail.get("owner"))
        else:
            plan = plan_drill(namespace, schedule, backups, namespaces, at)
            run, new = db.begin_run(cluster=cluster, kind="Restore", namespace=namespace, target=schedule,
                                    object_name=plan.restore_name, started_at=datetime.now(UTC),
                                    detail={"backup": plan.backup, "owner": owner()})
            identity = run.identity
            judge = new or run.status not in ("planned", "created") or not owner_alive(run.detail.get("owner"))
            if new:
                echo(f"recorded run {identity}")
            else:  # the same drill, begun by another process: restore the Backup it chose
                echo(f"adopted run {identity} (already recorded, {run.status}): converging on its Restore")
                chosen = str(run.detail.get("backup") or "") or None
                if chosen is not None and chosen != plan.backup:
                    plan = plan_drill(namespace, schedule, backups, namespaces, at, name=run.object_name,
                                      backup_name=chosen)
        return Drill(api, plan, echo, db, identity, judge).run(
            wait=wait, timeout=timeout, verify_timeout=verify_timeout, check=check, check_timeout=check_timeout,
            kubeconfig=kubeconfig, keep_namespaces=keep_namespaces)
