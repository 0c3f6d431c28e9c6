"""A cluster's protection state extracted from one scan's analysis (what ``analyse/protection.py`` holds and
later scans compare with, GOV-002)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from auditor.analyse.coverage import ClusterAnalysis
from auditor.analyse.gaps import HISTORY_RESOURCES
from auditor.analyse.protection import (
    KINDS,
    BackupSnap,
    BslSnap,
    DaemonSetSnap,
    DeploymentSnap,
    ProtectionState,
    ScheduleSnap,
    Snap,
    iso,
)
from auditor.analyse.resource_policy import PolicyError, parse_policies
from auditor.model import records as r
from auditor.model.inventory import Inventory
from auditor.model.tools import velero

#: Resources whose unreadability makes a comparison of a kind meaningless (a missing object is not a deletion).
RESOURCE_KINDS = {res: kind for kind, resources in HISTORY_RESOURCES.items() for res in resources}


def protection_state(analysis: ClusterAnalysis) -> ProtectionState:
    """What protects the cluster now, from the analysis of one scan (no carried weakenings)."""
    inv = analysis.inventory
    unreadable = frozenset(kind for g in inv.gaps if g.hides_data
                           for res, kind in RESOURCE_KINDS.items() if g.resource == res)
    objects: dict[str, dict[str, Snap]] = {kind: {} for kind in KINDS}
    for key, state in analysis.schedules.items():
        objects["Schedule"][key] = _schedule(state.schedule, state.ctx.ttl, inv)
    for bsl in inv.bsls:
        objects["BackupStorageLocation"][bsl.meta.key] = BslSnap(
            bsl.provider, bsl.bucket, bsl.prefix or None, bsl.config.get("s3Url"), bsl.access_mode, bsl.default)
    for server in analysis.servers.values():
        if server.deployment is not None:
            d = server.deployment
            objects["Deployment"][d.meta.key] = DeploymentSnap(d.replicas, d.ready)
        if server.node_agent is not None:
            a = server.node_agent
            objects["DaemonSet"][a.meta.key] = DaemonSetSnap(a.replicas, a.ready)
    catalog = analysis.evidence.catalog
    in_catalog = set(catalog.backups) if catalog else set()
    cluster_names = {b.meta.name for b in inv.backups}
    for b in analysis.evidence.backups.values():
        objects["Backup"][b.meta.key] = BackupSnap(
            b.phase, b.schedule, b.spec.storage_location, _expiration(b), b.meta.name in cluster_names,
            b.meta.name in in_catalog)
    return ProtectionState(analysis.as_of, objects, unreadable, catalog is not None)


def _expiration(b: velero.Backup) -> str | None:
    if b.expiration is not None:
        return iso(b.expiration)
    start = b.started or b.meta.created
    if start is not None and b.spec.ttl_seconds:
        try:
            return iso(start + timedelta(seconds=b.spec.ttl_seconds))
        except OverflowError:  # a start near the end of the calendar: it never expires in any datetime
            return None
    return None


def _schedule(s: velero.Schedule, ttl: float, inv: Inventory) -> ScheduleSnap:
    spec = s.template
    skips: tuple[str, ...] = ()
    error = None
    if spec.resource_policy:
        cm = inv.config_map_by_key.get((s.meta.namespace or "", spec.resource_policy))
        if cm is None:
            error = f"ConfigMap {s.meta.namespace}/{spec.resource_policy} does not exist"
        else:
            try:
                skips = tuple(sorted(_canonical(p.conditions) for p in parse_policies(cm) if p.action == "skip"))
            except PolicyError as exc:
                error = str(exc)
    selectors: tuple[tuple[str, ...], ...] = ()
    if spec.label_selector is not None or spec.or_label_selectors:
        terms = ([spec.label_selector] if spec.label_selector is not None else []) + list(spec.or_label_selectors)
        selectors = tuple(sorted(_term(t) for t in terms))
    return ScheduleSnap(
        cron=s.cron, paused=s.paused, ttl_seconds=ttl,
        included_namespaces=tuple(sorted(spec.included_namespaces)),
        excluded_namespaces=tuple(sorted(spec.excluded_namespaces)),
        included_resources=tuple(sorted(spec.included_resources)),
        excluded_resources=tuple(sorted(spec.excluded_resources)),
        selectors=selectors, snapshot_volumes=spec.snapshot_volumes, storage_location=spec.storage_location,
        resource_policy=spec.resource_policy, skip_policies=skips, policy_error=error,
    )


def _term(selector: r.LabelSelector) -> tuple[str, ...]:
    """A label selector as canonical requirement strings: ``key In a,b``, ``key Exists``..."""
    reqs = {f"{k} In {v}" for k, v in selector.match_labels.items()}
    reqs |= {f"{e.key} {e.operator} {','.join(sorted(e.values))}".rstrip() for e in selector.expressions}
    return tuple(sorted(reqs))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
