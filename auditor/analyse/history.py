"""Protection weakened since the previous scan (GOV-002): a pure comparison of two protection states.

A weakening stays open, with its original baseline and the time it was first seen, until the object is
restored (or ``history.keep_open`` passes): a change seen by one hourly scan must not vanish from the
next. Kinds that either scan could not read are not compared: a missing object is not a deletion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.analyse.coverage import ClusterAnalysis
from auditor.analyse.protection import (
    KINDS,
    BackupSnap,
    BslSnap,
    Carried,
    DaemonSetSnap,
    DeploymentSnap,
    ProtectionState,
    ScheduleSnap,
    Snap,
    ref_of,
    usable,
)
from auditor.analyse.protection_state import protection_state
from auditor.config import HistoryConfig
from auditor.model.cron import CronError, parse_cron
from auditor.model.durations import format_duration

#: Velero's garbage collector deletes a backup only after its expiration; this absorbs clock skew.
EXPIRY_TOLERANCE = timedelta(minutes=10)
#: Days at which cron intervals are sampled: "0 2 * * 1-5" has a 3-day gap on weekends.
INTERVAL_SAMPLES = 8


@dataclass(frozen=True)
class Change:
    code: str  # a ``history.weakening`` switch
    detail: str  # a phrase: "TTL reduced from 30d to 1d"
    before: Any = None
    after: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"change": self.code, "detail": self.detail, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Verdict:
    """One object of the previous scan (or an open weakening), compared with the current scan."""

    ref: str  # "Kind/namespace/name"
    changes: tuple[Change, ...]
    before: Snap  # the baseline: the previous scan's object, or the carried one of an open weakening
    after: Snap | None  # None: the object is gone
    first_seen: datetime

    @property
    def weakened(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class Comparison:
    previous_as_of: datetime
    verdicts: tuple[Verdict, ...]
    skipped: tuple[tuple[str, str], ...]  # (ref, why it could not be compared)


@dataclass(frozen=True)
class _Pair:
    previous: ProtectionState
    current: ProtectionState


def compare(previous: ProtectionState, current: ProtectionState, config: HistoryConfig) -> Comparison:
    """Every object the previous scan knew (and every open weakening), judged against the current scan."""
    pair = _Pair(previous, current)
    verdicts: list[Verdict] = []
    skipped: list[tuple[str, str]] = []
    carried = _still_open(previous, current.as_of, config.keep_open)
    for kind in KINDS:
        baseline: dict[str, tuple[Snap, datetime | None]] = {k: (s, None) for k, s in previous.of(kind).items()}
        baseline.update({ref.split("/", 1)[1]: (c.before, c.first_seen)
                         for ref, c in carried.items() if ref.startswith(kind + "/")})
        blind = [w for w, state in (("the previous", previous), ("this", current)) if kind in state.unreadable]
        for key, (before, first_seen) in sorted(baseline.items()):
            ref = ref_of(kind, key)
            if blind:
                skipped.append((ref, f"{kind} objects could not be read in {' and '.join(blind)} scan"))
                continue
            after = current.of(kind).get(key)
            changes = _DIFF[kind](key, before, after, pair)
            if changes is None:
                continue
            changes = [c for c in changes if getattr(config.weakening, c.code)]
            verdicts.append(Verdict(ref, tuple(changes), before, after, first_seen or current.as_of))
    return Comparison(previous.as_of, tuple(verdicts), tuple(skipped))


def _still_open(previous: ProtectionState, now: datetime, keep_open: float | None) -> dict[str, Carried]:
    if keep_open is None:
        return dict(previous.weakened)
    return {ref: c for ref, c in previous.weakened.items() if (now - c.first_seen).total_seconds() <= keep_open}


def compare_with_previous(analysis: ClusterAnalysis) -> Comparison | None:
    if analysis.previous is None:
        return None
    return compare(analysis.previous, protection_state(analysis), analysis.config.history)


def recorded_state(analysis: ClusterAnalysis) -> ProtectionState:
    """The state the history store keeps for this scan: its objects plus the weakenings still open.

    For a kind this scan could not read, the previous scan's objects (and open weakenings) are kept, so
    that the next scan that can read it compares with the last known state rather than with nothing.
    """
    current = protection_state(analysis)
    previous = analysis.previous
    if previous is None:
        return current
    comparison = compare(previous, current, analysis.config.history)
    weakened = {v.ref: Carried(v.first_seen, v.before) for v in comparison.verdicts if v.weakened}
    objects = dict(current.objects)
    unreadable = set(current.unreadable)
    for kind in KINDS:
        if kind in current.unreadable:
            objects[kind] = previous.of(kind)
            weakened.update({ref: c for ref, c in previous.weakened.items() if ref.startswith(kind + "/")})
            if kind not in previous.unreadable:
                unreadable.discard(kind)
    return replace(current, objects=objects, unreadable=frozenset(unreadable), weakened=weakened)


# --- per kind --------------------------------------------------------------------------------------

DiffFn = Callable[[str, Any, Any, _Pair], list[Change] | None]


def _schedule(key: str, before: ScheduleSnap, after: ScheduleSnap | None, pair: _Pair) -> list[Change]:
    if after is None:
        return [Change("schedule_deleted", "deleted", asdict(before), None)]
    out = []
    if after.paused and not before.paused:
        out.append(Change("schedule_paused", "paused", False, True))
    # the effective TTL may come from the server's --default-backup-ttl: not comparable without its Deployment
    blind = pair.previous.unreadable | pair.current.unreadable
    if after.ttl_seconds < before.ttl_seconds and "Deployment" not in blind:
        out.append(Change("ttl_reduced", f"TTL reduced from {format_duration(before.ttl_seconds)} to "
                                         f"{format_duration(after.ttl_seconds)}", before.ttl_seconds,
                          after.ttl_seconds))
    out += _cron(before.cron, after.cron, pair.current.as_of)
    out += _namespaces(before, after)
    if not _selects_at_least(before.selectors, after.selectors):
        out.append(Change("selectors_narrowed", f"label selector narrowed from {_show(before.selectors)} to "
                                                f"{_show(after.selectors)}",
                          [list(t) for t in before.selectors], [list(t) for t in after.selectors]))
    out += _resources(before, after)
    if after.snapshot_volumes is False and before.snapshot_volumes is not False:
        out.append(Change("snapshots_disabled", "snapshotVolumes set to false", before.snapshot_volumes, False))
    namespace = key.split("/", 1)[0]
    old_bsl = _location(before.storage_location, pair.previous, namespace)
    new_bsl = _location(after.storage_location, pair.current, namespace)
    if old_bsl != new_bsl and "BackupStorageLocation" not in blind:
        out.append(Change("storage_location_changed", f"writes to storage location {new_bsl or '(none)'} instead "
                                                      f"of {old_bsl or '(none)'}", old_bsl, new_bsl))
    if "ConfigMap" not in blind:
        out += _volume_policy(before, after)
    return out


def _cron(before: str, after: str, at: datetime) -> list[Change]:
    old, new = _interval(before, at), _interval(after, at)
    if old is None or old == new:
        return []
    if new is None:
        return [Change("cron_widened", f"cron {after!r} is not valid: Velero never runs it", before, after)]
    if new > old + 1:
        return [Change("cron_widened", f"runs every {format_duration(new)} instead of every {format_duration(old)} "
                                       f"({before!r} -> {after!r})", old, new)]
    return []


def _interval(cron: str, at: datetime) -> float | None:
    """The longest gap between runs over the coming week (None: the cron is invalid)."""
    try:
        parsed = parse_cron(cron)
        return max(parsed.interval_at(at + timedelta(days=d)) for d in range(INTERVAL_SAMPLES))
    except CronError:
        return None


def _namespaces(before: ScheduleSnap, after: ScheduleSnap) -> list[Change]:
    lost = _narrowed_list(before.included_namespaces, after.included_namespaces)
    excluded = sorted(set(after.excluded_namespaces) - set(before.excluded_namespaces))
    parts = []
    if lost:
        parts.append(f"no longer includes {', '.join(lost)}")
    if excluded:
        parts.append(f"now excludes {', '.join(excluded)}")
    if not parts:
        return []
    return [Change("namespaces_narrowed", "namespaces narrowed: " + "; ".join(parts),
                   {"included": list(before.included_namespaces), "excluded": list(before.excluded_namespaces)},
                   {"included": list(after.included_namespaces), "excluded": list(after.excluded_namespaces)})]


def _resources(before: ScheduleSnap, after: ScheduleSnap) -> list[Change]:
    lost = _narrowed_list(before.included_resources, after.included_resources)
    excluded = sorted(set(after.excluded_resources) - set(before.excluded_resources))
    if not lost and not excluded:
        return []
    parts = ([f"no longer includes {', '.join(lost)}"] if lost else []) + (
        [f"now excludes {', '.join(excluded)}"] if excluded else [])
    return [Change("resources_narrowed", "resources narrowed: " + "; ".join(parts),
                   {"included": list(before.included_resources), "excluded": list(before.excluded_resources)},
                   {"included": list(after.included_resources), "excluded": list(after.excluded_resources)})]


def _narrowed_list(before: tuple[str, ...], after: tuple[str, ...]) -> list[str]:
    """Entries of an include list that are gone; an empty list or ``*`` includes everything."""
    if not after or "*" in after:
        return []
    if not before or "*" in before:
        return ["every entry (was *)"]
    return sorted(set(before) - set(after))


def _selects_at_least(before: tuple[tuple[str, ...], ...], after: tuple[tuple[str, ...], ...]) -> bool:
    """True when ``after`` provably selects everything ``before`` did (ORed terms of ANDed requirements)."""
    if not after:
        return True
    if not before:
        return False
    return all(any(all(_implied(req, old) for req in new) for new in after) for old in before)


def _implied(requirement: str, term: tuple[str, ...]) -> bool:
    """Every label set that satisfies ``term`` satisfies ``requirement``."""
    key, op, values = _req(requirement)
    for other in term:
        k, o, v = _req(other)
        if k != key:
            continue
        if op == o and op in ("Exists", "DoesNotExist"):
            return True
        if op == "In" and o == "In" and v <= values:
            return True
        if op == "Exists" and o == "In":
            return True
        if op == "NotIn" and ((o == "NotIn" and values <= v) or (o == "In" and not values & v)
                              or o == "DoesNotExist"):
            return True
    return False


def _req(text: str) -> tuple[str, str, frozenset[str]]:
    key, op, *rest = text.split(" ", 2)
    return key, op, frozenset(rest[0].split(",")) if rest and rest[0] else frozenset()


def _show(selectors: tuple[tuple[str, ...], ...]) -> str:
    return " OR ".join("(" + " AND ".join(t) + ")" for t in selectors) if selectors else "(everything)"


def _location(name: str | None, state: ProtectionState, namespace: str) -> str | None:
    """A schedule without storageLocation writes to its namespace's default location."""
    if name:
        return name
    return next((key.split("/", 1)[1] for key, b in state.of("BackupStorageLocation").items()
                 if isinstance(b, BslSnap) and b.default and key.startswith(namespace + "/")), None)


def _volume_policy(before: ScheduleSnap, after: ScheduleSnap) -> list[Change]:
    out = []
    added = sorted(set(after.skip_policies) - set(before.skip_policies))
    if added:
        out.append(Change("volume_policy_skips", f"volume policy ConfigMap {after.resource_policy} now skips volumes "
                                                 f"matching {'; '.join(added)}", list(before.skip_policies),
                          list(after.skip_policies)))
    if after.policy_error and not before.policy_error:
        out.append(Change("volume_policy_skips", f"resource policy is invalid ({after.policy_error}): Velero fails "
                                                 "the validation of every backup", None, after.policy_error))
    return out


def _bsl(key: str, before: BslSnap, after: BslSnap | None, pair: _Pair) -> list[Change]:
    out = []
    if after is None:
        out.append(Change("storage_location_changed", "deleted", asdict(before), None))
    else:
        for name in ("provider", "bucket", "prefix", "endpoint"):
            old, new = getattr(before, name), getattr(after, name)
            if old != new:
                out.append(Change("storage_location_changed", f"{name} changed from {old or '(none)'} to "
                                                              f"{new or '(none)'}", old, new))
        if after.access_mode == "ReadOnly" and before.access_mode != "ReadOnly":
            out.append(Change("bsl_read_only", "switched to ReadOnly: no backup can be written to it",
                              before.access_mode, after.access_mode))
    if before.default and (after is None or not after.default):
        namespace = key.split("/", 1)[0]
        now = _location(None, pair.current, namespace)
        out.append(Change("default_bsl_changed", "no longer the default location" + (
            f" (now {now})" if now else " (no default location now)"), key.split("/", 1)[1], now))
    return out


def _deployment(key: str, before: DeploymentSnap, after: DeploymentSnap | None, pair: _Pair) -> list[Change]:
    if after is None:
        return [Change("velero_scaled_down", "the Velero server Deployment was deleted", before.replicas, None)]
    if (after.replicas or 0) == 0 and (before.replicas is None or before.replicas > 0):
        return [Change("velero_scaled_down", f"scaled to zero replicas (was {before.replicas})", before.replicas,
                       after.replicas)]
    return []


def _daemonset(key: str, before: DaemonSetSnap, after: DaemonSetSnap | None, pair: _Pair) -> list[Change]:
    if after is None:
        return [Change("node_agent_removed", "the node-agent DaemonSet was removed: file-system backups and data "
                                             "movement stop", before.desired, None)]
    if (after.desired or 0) == 0 and (before.desired or 0) > 0:
        return [Change("node_agent_removed", f"node-agent runs on no node (was {before.desired})", before.desired, 0)]
    return []


def _backup(key: str, before: BackupSnap, after: BackupSnap | None, pair: _Pair) -> list[Change] | None:
    """A recovery point gone before its expiration, else None: a backup that is still there is not counted
    as a pass, or thousands of them would outweigh the few objects that configure protection in scores."""
    now = pair.current
    if not usable(before) or before.expiration is None:
        return None
    if not before.in_cluster and not now.catalog:
        return None  # known only from a bucket catalog this scan did not read
    expires = datetime.fromisoformat(before.expiration.replace("Z", "+00:00")).astimezone(UTC)
    if expires <= now.as_of + EXPIRY_TOLERANCE:
        return None  # expired: Velero's garbage collection removes it
    in_cluster = after is not None and after.in_cluster
    in_catalog = after is not None and after.in_catalog
    gone = []
    if now.catalog and before.in_catalog and not in_catalog:
        gone.append("the bucket")
    if before.in_cluster and not in_cluster and not in_catalog:
        gone.append("the cluster")
    if not gone:
        return None
    early = format_duration((expires - now.as_of).total_seconds())
    return [Change("backup_deleted_early", f"disappeared from {' and '.join(gone)} {early} before its expiration "
                                           f"({before.expiration})", before.expiration, None)]


_DIFF: dict[str, DiffFn] = {"Schedule": _schedule, "BackupStorageLocation": _bsl, "Deployment": _deployment,
                            "DaemonSet": _daemonset, "Backup": _backup}
