"""A simulated Velero (and CSI snapshot controller) for the Kubernetes API test server.

Velero's controllers are what make a Backup or Restore move; without them an executor test could only
ever see ``New``. :class:`VeleroSimulator` is a background thread that does on the server's store what
those controllers do on etcd: it advances each Backup and Restore one phase per ``step`` (so a test sees
the phases go by), validates them as Velero does (a Backup naming a BackupStorageLocation that does not
exist, a Restore of a Backup that is missing or not finished, get ``FailedValidation`` with
``status.validationErrors``), materialises what a Restore restores (PVCs and the pods that mount them, in
the mapped namespaces), and makes VolumeSnapshots ``readyToUse``. Outcomes are injected per object by
name glob or by a callable: Completed, PartiallyFailed, Failed, FailedValidation, or stuck in a phase.

The simulated backup's *content* is the source namespaces as they are when the Restore runs: good
enough to check what a restore drill creates, not a model of Velero's tarballs.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from auditor.model.durations import parse_duration
from auditor.model.globs import includes_excludes

from .server import KubeAPIServer

VELERO = ("velero.io", "v1")
SNAPSHOT = ("snapshot.storage.k8s.io", "v1")
TERMINAL = frozenset({"Completed", "PartiallyFailed", "Failed", "FailedValidation"})
DEFAULT_TTL = "720h0m0s"  # Velero's default backup TTL (30 days)


@dataclass(frozen=True)
class Outcome:
    """How one Backup, Restore or VolumeSnapshot ends.

    ``phase``: Completed, PartiallyFailed, Failed or FailedValidation. ``stuck_in``: a phase the object
    reaches and then never leaves (``New`` means the controller ignores it). ``plugin_operations``: go
    through WaitingForPluginOperations and Finalizing (as data-mover backups do). For Restores,
    ``pvc_phase`` and ``pods_ready`` decide the state of what is restored; for VolumeSnapshots a
    ``failure_reason`` becomes ``status.error.message``."""

    phase: str = "Completed"
    errors: int = 0
    warnings: int = 0
    failure_reason: str | None = None
    validation_errors: tuple[str, ...] = ()
    stuck_in: str | None = None
    plugin_operations: bool = False
    pvc_phase: str = "Bound"
    pods_ready: bool = True


Rules = Mapping[str, Outcome] | Callable[[dict[str, Any]], Outcome | None] | None


def completed() -> Outcome:
    return Outcome()


def partially_failed(errors: int = 1, warnings: int = 0) -> Outcome:
    return Outcome("PartiallyFailed", errors=errors, warnings=warnings)


def failed(reason: str = "simulated failure") -> Outcome:
    return Outcome("Failed", errors=1, failure_reason=reason)


def failed_validation(*errors: str) -> Outcome:
    return Outcome("FailedValidation", validation_errors=errors or ("simulated validation error",))


def stuck(phase: str = "InProgress") -> Outcome:
    return Outcome(stuck_in=phase)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)


@dataclass
class VeleroSimulator:
    """Velero's backup, restore and snapshot controllers on a :class:`KubeAPIServer` (a daemon thread).

    ``with VeleroSimulator(server, step=0.05, backups={"nightly-*": failed("disk full")}):`` ... ;
    ``history`` lists every transition as ``(kind, namespace, name, phase)``."""

    server: KubeAPIServer
    step: float = 0.1
    backups: Rules = None
    restores: Rules = None
    snapshots: Rules = None
    history: list[tuple[str, str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # exceptions raised in the thread (a test bug)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> VeleroSimulator:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="velero-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> VeleroSimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def phases(self, kind: str, name: str) -> list[str]:
        """The phases one object went through, in order."""
        return [p for k, _, n, p in list(self.history) if k == kind and n == name]

    def _loop(self) -> None:
        while not self._stop.wait(self.step):
            try:
                self.tick()
            except Exception as exc:  # recorded for the test to see; the loop goes on
                self.errors.append(repr(exc))

    def tick(self) -> None:
        """One reconcile pass: every object moves at most one phase."""
        for b in self.server.list_objects(*VELERO, "backups"):
            self._reconcile(b, "backups", self._backup_step)
        for r in self.server.list_objects(*VELERO, "restores"):
            self._reconcile(r, "restores", self._restore_step)
        for vs in self.server.list_objects(*SNAPSHOT, "volumesnapshots"):
            self._snapshot(vs)

    # --- rules ------------------------------------------------------------------------------------

    @staticmethod
    def _outcome(rules: Rules, obj: dict[str, Any]) -> Outcome:
        if rules is None:
            return Outcome()
        if callable(rules):
            return rules(obj) or Outcome()
        name = str(obj["metadata"]["name"])
        return next((o for pattern, o in rules.items() if fnmatch.fnmatchcase(name, pattern)), Outcome())

    def _reconcile(self, obj: dict[str, Any], plural: str,
                   step: Callable[[dict[str, Any], Outcome], dict[str, Any] | None]) -> None:
        status = obj.get("status") or {}
        phase = str(status.get("phase") or "New")
        outcome = self._outcome(self.backups if plural == "backups" else self.restores, obj)
        if phase in TERMINAL or phase == outcome.stuck_in:
            return
        update = step(obj, outcome)
        if update is None:
            return
        meta = obj["metadata"]

        def apply(current: dict[str, Any]) -> None:
            current["status"] = {**(current.get("status") or {}), **update}

        if self.server.update_object(*VELERO, plural, meta["namespace"], meta["name"], apply) is not None:
            self.history.append((str(obj["kind"]), meta["namespace"], meta["name"], str(update["phase"])))

    # --- Backups ----------------------------------------------------------------------------------

    def _backup_step(self, b: dict[str, Any], outcome: Outcome) -> dict[str, Any] | None:
        status, spec, meta = b.get("status") or {}, b.get("spec") or {}, b["metadata"]
        phase = str(status.get("phase") or "New")
        now = _now()
        if phase == "New":
            problems = self._backup_validation(b) or list(outcome.validation_errors if
                                                          outcome.phase == "FailedValidation" else ())
            if problems:
                return {"phase": "FailedValidation", "validationErrors": problems}
            ttl = parse_duration(str(spec.get("ttl") or DEFAULT_TTL))
            created = _time(meta.get("creationTimestamp"))
            return {"phase": "InProgress", "startTimestamp": now, "version": 1, "formatVersion": "1.1.0",
                    "expiration": (created + timedelta(seconds=ttl)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "progress": {"totalItems": 10, "itemsBackedUp": 0}}
        partial = outcome.phase == "PartiallyFailed"
        if phase == "InProgress":
            if outcome.phase == "Failed":
                return {**self._end(outcome, "itemsBackedUp"), "phase": "Failed",
                        "failureReason": outcome.failure_reason or "simulated failure"}
            if outcome.plugin_operations:
                return {"phase": "WaitingForPluginOperationsPartiallyFailed" if partial
                        else "WaitingForPluginOperations", "progress": {"totalItems": 10, "itemsBackedUp": 10}}
            return {**self._end(outcome, "itemsBackedUp"), "phase": "PartiallyFailed" if partial else "Completed"}
        if phase.startswith("WaitingForPluginOperations"):
            return {"phase": "FinalizingPartiallyFailed" if partial else "Finalizing"}
        if phase.startswith("Finalizing"):
            return {**self._end(outcome, "itemsBackedUp"), "phase": "PartiallyFailed" if partial else "Completed"}
        return None

    def _backup_validation(self, b: dict[str, Any]) -> list[str]:
        """Velero checks that the BackupStorageLocation exists (the named one, else the default)."""
        namespace, location = b["metadata"]["namespace"], (b.get("spec") or {}).get("storageLocation")
        bsls = self.server.list_objects(*VELERO, "backupstoragelocations", namespace)
        if location:
            if not any(x["metadata"]["name"] == location for x in bsls):
                return [f"an existing backup storage location was not specified at backup creation time and the "
                        f"server default '{location}' does not exist. Please address this issue (see `velero "
                        f"backup-location -h` for options) and create a new backup. Error: "
                        f'backupstoragelocations.velero.io "{location}" not found']
            return []
        if not any((x.get("spec") or {}).get("default") for x in bsls):
            return ["an existing backup storage location was not specified at backup creation time and the "
                    "default location was not found"]
        return []

    @staticmethod
    def _end(outcome: Outcome, done_field: str) -> dict[str, Any]:
        out: dict[str, Any] = {"completionTimestamp": _now(), "progress": {"totalItems": 10, done_field: 10}}
        if outcome.errors:
            out["errors"] = outcome.errors
        if outcome.warnings:
            out["warnings"] = outcome.warnings
        return out

    # --- Restores ---------------------------------------------------------------------------------

    def _restore_step(self, r: dict[str, Any], outcome: Outcome) -> dict[str, Any] | None:
        status, spec, meta = r.get("status") or {}, r.get("spec") or {}, r["metadata"]
        phase = str(status.get("phase") or "New")
        if phase == "New":
            problems = self._restore_validation(r) or list(outcome.validation_errors if
                                                           outcome.phase == "FailedValidation" else ())
            if problems:
                return {"phase": "FailedValidation", "validationErrors": problems}
            return {"phase": "InProgress", "startTimestamp": _now(), "progress": {"totalItems": 0, "itemsRestored": 0}}
        if phase != "InProgress":
            return None
        if outcome.phase == "Failed":
            return {**self._end(outcome, "itemsRestored"), "phase": "Failed",
                    "failureReason": outcome.failure_reason or "simulated failure"}
        backup = self.server.get_object(*VELERO, "backups", meta["namespace"], str(spec.get("backupName")))
        count = self._materialise(r, backup or {}, outcome)
        end = self._end(outcome, "itemsRestored")
        end["progress"] = {"totalItems": count, "itemsRestored": count}
        return {**end, "phase": "PartiallyFailed" if outcome.phase == "PartiallyFailed" else "Completed"}

    def _restore_validation(self, r: dict[str, Any]) -> list[str]:
        spec, namespace = r.get("spec") or {}, r["metadata"]["namespace"]
        name = spec.get("backupName")
        if not name:
            return ["Either a backup or schedule must be specified as a source for the restore, but not both"]
        backup = self.server.get_object(*VELERO, "backups", namespace, str(name))
        if backup is None:
            return [f'Error retrieving backup: backups.velero.io "{name}" not found']
        phase = (backup.get("status") or {}).get("phase")
        if phase not in ("Completed", "PartiallyFailed"):
            return [f"backup {name} is in phase {phase or 'New'}: only a Completed or PartiallyFailed backup "
                    "can be restored"]
        return []

    def _source_namespaces(self, r: dict[str, Any], backup: dict[str, Any]) -> list[str]:
        bspec, rspec = backup.get("spec") or {}, r.get("spec") or {}
        names = [n["metadata"]["name"] for n in self.server.list_objects("", "v1", "namespaces")]
        return [ns for ns in names
                if includes_excludes(bspec.get("includedNamespaces") or (), bspec.get("excludedNamespaces") or (), ns)
                and includes_excludes(rspec.get("includedNamespaces") or (), rspec.get("excludedNamespaces") or (),
                                      ns)]

    def _materialise(self, r: dict[str, Any], backup: dict[str, Any], outcome: Outcome) -> int:
        """Create what the Restore restores: PVCs and the pods that mount them, in the mapped namespaces."""
        mapping: dict[str, str] = dict((r.get("spec") or {}).get("namespaceMapping") or {})
        labels = {"velero.io/backup-name": str((r.get("spec") or {}).get("backupName")),
                  "velero.io/restore-name": str(r["metadata"]["name"])}
        count = 0
        for source in self._source_namespaces(r, backup):
            target = mapping.get(source, source)
            pvcs = self.server.list_objects("", "v1", "persistentvolumeclaims", source)
            if not pvcs:
                continue
            if self.server.get_object("", "v1", "namespaces", None, target) is None:
                self.server.put_object({"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": target, "labels": labels},
                                        "status": {"phase": "Active"}})
            claims = {p["metadata"]["name"] for p in pvcs}
            for pvc in pvcs:
                spec = {k: v for k, v in (pvc.get("spec") or {}).items() if k != "volumeName"}
                status: dict[str, Any] = {"phase": outcome.pvc_phase}
                if outcome.pvc_phase == "Bound":
                    spec["volumeName"] = f"pvc-restored-{target}-{pvc['metadata']['name']}"[:253]
                    status["accessModes"] = spec.get("accessModes") or ["ReadWriteOnce"]
                    status["capacity"] = ((spec.get("resources") or {}).get("requests") or {"storage": "1Gi"})
                count += self._copy(pvc, target, labels, spec, status)
            for pod in self.server.list_objects("", "v1", "pods", source):
                mounts = {((v.get("persistentVolumeClaim") or {}).get("claimName"))
                          for v in (pod.get("spec") or {}).get("volumes") or []}
                if not mounts & claims:
                    continue
                ready = "True" if outcome.pods_ready else "False"
                status = {"phase": "Running", "startTime": _now(),
                          "conditions": [{"type": "PodScheduled", "status": "True"},
                                         {"type": "Initialized", "status": "True"},
                                         {"type": "ContainersReady", "status": ready},
                                         {"type": "Ready", "status": ready}]}
                count += self._copy(pod, target, labels, dict(pod.get("spec") or {}), status)
        return count

    def _copy(self, obj: dict[str, Any], namespace: str, labels: dict[str, str], spec: dict[str, Any],
              status: dict[str, Any]) -> int:
        """Velero's existingResourcePolicy ``none``: an object that exists is skipped, never overwritten."""
        meta = obj["metadata"]
        plural = "pods" if obj.get("kind") == "Pod" else "persistentvolumeclaims"
        if self.server.get_object("", "v1", plural, namespace, meta["name"]) is not None:
            return 0
        copy_meta = {"name": meta["name"], "namespace": namespace,
                     "labels": {**(meta.get("labels") or {}), **labels}}
        if meta.get("annotations"):
            copy_meta["annotations"] = dict(meta["annotations"])
        self.server.put_object({"apiVersion": "v1", "kind": obj.get("kind"), "metadata": copy_meta,
                                "spec": spec, "status": status})
        return 1

    # --- VolumeSnapshots --------------------------------------------------------------------------

    def _snapshot(self, vs: dict[str, Any]) -> None:
        status, meta = vs.get("status") or {}, vs["metadata"]
        if status.get("readyToUse") is True or (status.get("error") or {}).get("message"):
            return
        outcome = self._outcome(self.snapshots, vs)
        if outcome.stuck_in is not None:
            return
        key = ("VolumeSnapshot", meta["namespace"], meta["name"])
        if not status and key[:3] not in {h[:3] for h in self.history}:
            self.history.append((*key, "Pending"))  # first seen: ready on the next pass
            return
        now = _now()
        if outcome.failure_reason:
            update: dict[str, Any] = {"readyToUse": False, "error": {"message": outcome.failure_reason, "time": now}}
        else:
            claim = str(((vs.get("spec") or {}).get("source") or {}).get("persistentVolumeClaimName") or "")
            pvc = self.server.get_object("", "v1", "persistentvolumeclaims", meta["namespace"], claim) or {}
            size = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            update = {"readyToUse": True, "creationTime": now, "restoreSize": size,
                      "boundVolumeSnapshotContentName": f"snapcontent-{meta.get('uid', meta['name'])}"}

        def apply(current: dict[str, Any]) -> None:
            current["status"] = {**(current.get("status") or {}), **update}

        if self.server.update_object(*SNAPSHOT, "volumesnapshots", meta["namespace"], meta["name"], apply):
            self.history.append((*key, "Failed" if outcome.failure_reason else "ReadyToUse"))
