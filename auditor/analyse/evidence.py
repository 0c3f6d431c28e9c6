"""Recovery points: proof, per volume, that a usable copy of its data exists, and when it was taken.

Evidence, strongest first: per-volume records (the bucket's volumeinfo, PodVolumeBackups, DataUploads);
then a Completed backup's aggregate counts (attempted == completed) for the volumes its spec captures;
then snapshots and runs of other tools (``analyse/tools``). A backup that should have captured a volume
but cannot be shown to have done so is an *unproven attempt*: it never makes a volume ``protected``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from auditor.analyse.schedules import USABLE, backup_time
from auditor.analyse.velero_plan import Capture
from auditor.model.inventory import Inventory
from auditor.model.tools import velero
from auditor.model.tools.velero import CatalogBackup, VeleroCatalog, VolumeInfo

PVCKey = tuple[str, str]
ClaimIndex = dict[tuple[str | None, str | None, str | None], str]  # (pod ns, pod, volume) -> PVC

VOLUMEINFO_METHODS = {"CSISnapshot": "csi-snapshot", "NativeSnapshot": "native-snapshot",
                      "PodVolumeBackup": "fs-backup"}
MAX_BACKUPS_PER_SCHEDULE = 60  # how far back inference looks for one volume


@dataclass(frozen=True, slots=True)
class RecoveryPoint:
    time: datetime
    method: str  # csi-snapshot | native-snapshot | fs-backup | data-mover
    tool: str  # a backup tool's name (``analyse/tools``)
    source: str  # the object that holds it, e.g. "Backup velero/daily-20261120020000"
    evidence: str  # volumeinfo | podvolumebackup | dataupload | aggregate-counts | a tool's own (volumesnapshot...)

    def as_dict(self) -> dict[str, str]:
        return {"time": _iso(self.time), "method": self.method, "tool": self.tool, "source": self.source,
                "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class Attempt:
    """A backup that should have captured the volume and did not, or cannot be shown to have."""

    time: datetime
    source: str
    outcome: str  # failed | skipped | unknown
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"time": _iso(self.time), "source": self.source, "outcome": self.outcome, "detail": self.detail}


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class _Record:
    """A per-volume record of one backup, judged when indexed: the recovery point it proves or the attempt
    it shows (a backup's succeeded PodVolumeBackups share one, judged once)."""

    backup: str
    volumeinfo: bool  # authoritative for its backup: read before the other records of the volume
    point: RecoveryPoint | None
    attempt: Attempt | None


#: PodVolumeBackup and DataUpload phases that are an outcome (others are still running).
_PHASE_OUTCOMES = {"Completed": "succeeded", "Failed": "failed", "Canceled": "failed"}


def _not_volumeinfo(record: _Record) -> bool:
    return not record.volumeinfo


class EvidenceIndex:
    """Per-volume records of every backup, indexed once by PVC."""

    def __init__(self, inv: Inventory, catalog: VeleroCatalog | None) -> None:
        self.inv = inv
        self.catalog = catalog
        self.backups: dict[str, velero.Backup] = {b.meta.name: b for b in inv.backups}
        self.catalog_only: list[velero.Backup] = []
        if catalog:
            for name, cb in catalog.backups.items():
                if name not in self.backups and cb.backup is not None:
                    self.backups[name] = cb.backup
                    self.catalog_only.append(cb.backup)
        self.records: dict[PVCKey, list[_Record]] = defaultdict(list)
        self._volumeinfo_keys: set[PVCKey] = set()  # PVCs with volumeinfo records (those come first)
        self._sources: dict[tuple[str | None, str], str] = {}
        self.has_volume_info: set[str] = set()
        self.has_pvbs: set[str] = set()
        self.unreadable: dict[str, tuple[str, ...]] = {}
        # one object per distinct value: a backup's succeeded PodVolumeBackups are one record, and a backup's
        # point or attempt is the same for every volume it proves (a large cluster: 100,000 PVBs, 20,000 volumes)
        self._succeeded: dict[str, _Record | None] = {}
        self._points: dict[tuple[datetime, str, str, str], RecoveryPoint] = {}
        self._attempts: dict[tuple[datetime, str, str, str], Attempt] = {}
        self._index()

    def release(self) -> None:
        """Drop what only judging the volumes needed (the records per volume and the shared values' index):
        the analysis keeps this index for its backups, and a large cluster's records are tens of MB."""
        self.records = defaultdict(list)
        self._volumeinfo_keys = set()
        self._sources = {}
        self._succeeded = {}
        self._points = {}
        self._attempts = {}

    def _catalog_backup(self, name: str) -> CatalogBackup | None:
        return self.catalog.backups.get(name) if self.catalog else None

    def _index(self) -> None:
        claim_of: ClaimIndex = {}
        for pod in self.inv.pods:
            for v in pod.volumes:
                if v.claim_name:
                    claim_of[(pod.meta.namespace, pod.meta.name, v.name)] = v.claim_name
        if self.catalog:
            for name, cb in self.catalog.backups.items():
                if cb.unreadable:
                    self.unreadable[name] = cb.unreadable
                if cb.volume_info is not None:
                    self.has_volume_info.add(name)
                    for vi in cb.volume_info:
                        self._add_volume_info(name, vi)
                for pvb in cb.pod_volume_backups or ():
                    self._add_pvb(pvb, name, claim_of)
                if cb.pod_volume_backups is not None:
                    self.has_pvbs.add(name)
        for pvb in self.inv.pod_volume_backups:
            if pvb.backup:
                self.has_pvbs.add(pvb.backup)
                self._add_pvb(pvb, pvb.backup, claim_of)
        for du in self.inv.data_uploads:
            if du.backup and du.source_pvc:
                outcome = _PHASE_OUTCOMES.get(du.phase or "")
                if outcome:
                    self._add((du.source_namespace or "", du.source_pvc), self._judge(
                        du.backup, outcome, "data-mover", "dataupload", None,
                        f"DataUpload {du.meta.key} {du.phase}" + (f": {du.message}" if du.message else "")))

    def _add(self, key: PVCKey, record: _Record | None) -> None:
        if record is not None:  # a record of an unknown backup, or of none with a time, proves nothing
            self.records[key].append(record)

    def _judge(self, backup_name: str, outcome: str, method: str, evidence: str, time: datetime | None,
               detail: str) -> _Record | None:
        """What a record of ``backup_name`` shows for its volume: judged once, when indexed."""
        backup = self.backups.get(backup_name)
        when = (time or backup_time(backup)) if backup is not None else None
        if backup is None or when is None:
            return None
        source = self._source(backup)
        volumeinfo = evidence == "volumeinfo"
        if outcome == "succeeded" and backup.phase in USABLE:
            return _Record(backup_name, volumeinfo, self._point(when, method, source, evidence), None)
        if outcome == "succeeded":
            return _Record(backup_name, volumeinfo, None,
                           self._attempt(when, source, "failed", f"backup is {backup.phase}: not restorable"))
        return _Record(backup_name, volumeinfo, None, self._attempt(when, source, outcome, detail))

    def _add_volume_info(self, backup: str, vi: VolumeInfo) -> None:
        method = VOLUMEINFO_METHODS.get(vi.method or "", vi.method or "unknown")
        if vi.data_moved:
            method = "data-mover"
        if vi.skipped:
            outcome, detail = "skipped", (vi.skipped_reason or "no reason recorded").strip().rstrip(";")
        elif vi.result == "succeeded":
            outcome, detail = "succeeded", "volumeinfo result succeeded"
        elif vi.result == "failed":
            outcome, detail = "failed", "volumeinfo result failed"
        else:
            outcome, detail = "skipped", f"volumeinfo result {vi.result!r}"
        self._add((vi.pvc_namespace, vi.pvc_name),
                  self._judge(backup, outcome, method, "volumeinfo", vi.started, detail))
        self._volumeinfo_keys.add((vi.pvc_namespace, vi.pvc_name))

    def _add_pvb(self, pvb: velero.PodVolumeBackup, backup: str, claim_of: ClaimIndex) -> None:
        claim = pvb.pvc_name or claim_of.get((pvb.pod_namespace, pvb.pod_name, pvb.volume))
        outcome = _PHASE_OUTCOMES.get(pvb.phase or "")
        if claim and outcome:
            if outcome == "succeeded":
                if backup in self._succeeded:
                    record = self._succeeded[backup]
                else:
                    record = self._succeeded[backup] = self._judge(backup, outcome, "fs-backup", "podvolumebackup",
                                                                   None, "")
            else:
                record = self._judge(backup, outcome, "fs-backup", "podvolumebackup", None,
                                     f"PodVolumeBackup {pvb.meta.name} {pvb.phase}"
                                     + (f": {pvb.message}" if pvb.message else ""))
            self._add((pvb.pod_namespace or "", claim), record)

    # --- per volume ----------------------------------------------------------------------------

    def _point(self, when: datetime, method: str, source: str, evidence: str) -> RecoveryPoint:
        """The Velero recovery point of these values, one object for every volume it proves."""
        key = (when, method, source, evidence)
        point = self._points.get(key)
        if point is None:
            point = self._points[key] = RecoveryPoint(when, method, "velero", source, evidence)
        return point

    def _attempt(self, when: datetime, source: str, outcome: str, detail: str) -> Attempt:
        """The attempt of these values, one object for every volume it concerns."""
        key = (when, source, outcome, detail)
        attempt = self._attempts.get(key)
        if attempt is None:
            attempt = self._attempts[key] = Attempt(when, source, outcome, detail)
        return attempt

    def _source(self, backup: velero.Backup) -> str:
        """``Backup ns/name``, formatted once per backup (each is the source of many volumes' points)."""
        key = (backup.meta.namespace, backup.meta.name)
        source = self._sources.get(key)
        if source is None:
            source = self._sources[key] = f"Backup {backup.meta.key}"
        return source

    def velero_points(self, key: PVCKey, candidates: Iterable[tuple[velero.Backup, Capture]],
                      ) -> tuple[list[RecoveryPoint], list[Attempt]]:
        """Proven recovery points and unproven attempts of one PVC across Velero backups.

        ``candidates`` are backups (newest first) whose spec is predicted to capture the volume.
        """
        points: list[RecoveryPoint] = []
        attempts: list[Attempt] = []
        recorded: set[str] = set()
        # volumeinfo is authoritative for its backup; PVB/DataUpload records complete it
        records = self.records.get(key, ())
        if key in self._volumeinfo_keys:
            records = sorted(records, key=_not_volumeinfo)
        for rec in records:
            if rec.backup in recorded and not rec.volumeinfo:
                continue
            if rec.point is not None:
                points.append(rec.point)
            elif rec.attempt is not None:
                attempts.append(rec.attempt)
            recorded.add(rec.backup)
        newest = max((p.time for p in points), default=None)
        for backup, capture in candidates:
            if newest and backup.meta.created and backup.meta.created <= newest:
                break  # candidates come newest first: nothing older can be the newest proof
            when = backup_time(backup)
            if when is None or (newest and when <= newest) or backup.meta.name in recorded:
                continue
            if backup.phase not in USABLE:
                continue
            source = self._source(backup)
            if backup.meta.name in self.has_volume_info:
                attempts.append(self._attempt(when, source, "skipped", "the backup's volume info does not list it"))
                continue
            if backup.meta.name in self.unreadable:
                attempts.append(self._attempt(when, source, "unknown", "catalog files unreadable: "
                                              + "; ".join(self.unreadable[backup.meta.name])[:300]))
                continue
            point = self._infer(backup, capture, when, source, attempts)
            if point:
                points.append(point)
                break
        return points, attempts

    def _infer(self, b: velero.Backup, capture: Capture, when: datetime, source: str,
               attempts: list[Attempt]) -> RecoveryPoint | None:
        """Aggregate counts are proof only for a Completed backup where every attempt completed."""
        for method in capture.methods:
            if method == "fs-backup":
                if b.meta.name in self.has_pvbs:
                    attempts.append(self._attempt(when, source, "skipped",
                                                  "no PodVolumeBackup of this backup is for it"))
                else:
                    attempts.append(self._attempt(when, source, "unknown",
                                                  "no PodVolumeBackup or volume info shows its file-system backup"))
                continue
            counts = {
                "csi-snapshot": (b.csi_snapshots_attempted, b.csi_snapshots_completed, 0),
                "native-snapshot": (b.snapshots_attempted, b.snapshots_completed, 0),
                "data-mover": (b.item_operations_attempted, b.item_operations_completed, b.item_operations_failed),
            }.get(method)
            if counts is None:
                continue
            attempted, completed, failed = counts
            if b.phase == "Completed" and attempted > 0 and attempted == completed and not failed:
                return self._point(when, method, source, "aggregate-counts")
            attempts.append(self._attempt(when, source, "unknown", f"{method}: {completed} of {attempted} completed "
                                          f"in a {b.phase} backup, and no per-volume record says which"))
        return None
