"""The protection state of one cluster: the compact part of a scan that later scans compare with (GOV-002).

A single scan cannot see that a schedule was deleted or a TTL cut, and Velero's sync controller deletes
Backup objects whose data vanished from the bucket, so the cluster itself forgets. The history store
keeps this state per scan: schedules, storage locations, the Velero server and node-agent, and the
backups with their expiry. It holds no secret values (BSL ``config`` is reduced to the endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from auditor.analyse.schedules import USABLE

STATE_VERSION = 1
KINDS = ("Schedule", "BackupStorageLocation", "Deployment", "DaemonSet", "Backup")


@dataclass(frozen=True)
class ScheduleSnap:
    cron: str
    paused: bool
    ttl_seconds: float  # effective: the template's ttl, else the server's --default-backup-ttl
    included_namespaces: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = ()
    included_resources: tuple[str, ...] = ()
    excluded_resources: tuple[str, ...] = ()
    selectors: tuple[tuple[str, ...], ...] = ()  # OR of AND-terms of canonical requirements; () selects all
    snapshot_volumes: bool | None = None
    storage_location: str | None = None
    resource_policy: str | None = None
    skip_policies: tuple[str, ...] = ()  # canonical JSON of the conditions of each ``skip`` volume policy
    policy_error: str | None = None


@dataclass(frozen=True)
class BslSnap:
    provider: str | None
    bucket: str | None
    prefix: str | None
    endpoint: str | None  # config.s3Url: another endpoint is another store
    access_mode: str
    default: bool


@dataclass(frozen=True)
class DeploymentSnap:
    replicas: int | None
    ready: int | None


@dataclass(frozen=True)
class DaemonSetSnap:
    desired: int | None
    ready: int | None


@dataclass(frozen=True)
class BackupSnap:
    phase: str | None
    schedule: str | None
    storage_location: str | None
    expiration: str | None  # RFC 3339
    in_cluster: bool = True
    in_catalog: bool = False


Snap = ScheduleSnap | BslSnap | DeploymentSnap | DaemonSetSnap | BackupSnap
SNAP_TYPES: dict[str, type[Snap]] = {"Schedule": ScheduleSnap, "BackupStorageLocation": BslSnap,
                                     "Deployment": DeploymentSnap, "DaemonSet": DaemonSetSnap, "Backup": BackupSnap}


@dataclass(frozen=True)
class Carried:
    """An open weakening, carried from scan to scan until restored: its baseline and when it was first seen."""

    first_seen: datetime
    before: Snap


@dataclass(frozen=True)
class ProtectionState:
    as_of: datetime
    objects: Mapping[str, Mapping[str, Snap]]  # kind -> "namespace/name" -> snapshot
    unreadable: frozenset[str] = frozenset()  # kinds (and "ConfigMap") the scan could not read
    catalog: bool = False  # a bucket catalog was read: backups missing from it are gone from the bucket
    weakened: Mapping[str, Carried] = field(default_factory=dict)  # "Kind/namespace/name" -> open weakening

    def of(self, kind: str) -> Mapping[str, Snap]:
        return self.objects.get(kind, {})

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION, "as_of": iso(self.as_of), "catalog": self.catalog,
            "unreadable": sorted(self.unreadable),
            "objects": {kind: {key: asdict(snap) for key, snap in sorted(objs.items())}
                        for kind, objs in self.objects.items()},
            "weakened": {ref: {"first_seen": iso(c.first_seen), "before": asdict(c.before)}
                         for ref, c in sorted(self.weakened.items())},
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ProtectionState:
        """Tolerant of missing keys and of fields added later, so that old stored states stay readable."""
        objects = {kind: {key: _snap(kind, value) for key, value in (doc.get("objects", {}).get(kind) or {}).items()}
                   for kind in KINDS}
        weakened = {}
        for ref, value in (doc.get("weakened") or {}).items():
            kind = ref.split("/", 1)[0]
            if kind in SNAP_TYPES:
                weakened[ref] = Carried(_parse(value["first_seen"]), _snap(kind, value["before"]))
        return cls(as_of=_parse(doc["as_of"]), objects=objects, unreadable=frozenset(doc.get("unreadable") or ()),
                   catalog=bool(doc.get("catalog")), weakened=weakened)


def ref_of(kind: str, key: str) -> str:
    return f"{kind}/{key}"


def split_ref(ref: str) -> tuple[str, str | None, str]:
    """``Kind/namespace/name`` -> (kind, namespace, name)."""
    kind, _, key = ref.partition("/")
    namespace, sep, name = key.partition("/")
    return (kind, namespace, name) if sep else (kind, None, namespace)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _snap(kind: str, value: Mapping[str, Any]) -> Snap:
    cls = SNAP_TYPES[kind]
    known = {f.name for f in fields(cls)}
    args = {k: _tuples(v) for k, v in value.items() if k in known}
    return cls(**args)


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples the snapshots hold (so that equal states compare equal)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def usable(snap: BackupSnap) -> bool:
    """A recovery point (Completed or PartiallyFailed): losing one before it expires loses data."""
    return (snap.phase or "") in USABLE
