"""Fill coverage gaps now: a CSI VolumeSnapshot of every PVC the scan finds unprotected (opt-in).

A snapshot is a stopgap, not a backup: it usually lives on the same storage system as the volume. It
buys a recovery point until a Velero schedule covers the PVC; the scan keeps reporting the gap's cause.
Planning is pure (a scan in, objects out); :mod:`auditor.executor.runner` creates them exactly once.

A volume taken out of scope on purpose is never touched, and the plan says why: a namespace the audit policy
excludes, Velero's own exclusions (the ``velero.io/exclude-from-backup`` label on the PVC, its PV or its
namespace, a volume policy that skips it, a schedule's ``excludedNamespaces``), or a waiver that excepts the
volume's (or its namespace's) finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.analyse.coverage import ClusterAnalysis, VolumeResult
from auditor.analyse.velero_plan import EXCLUDE_LABEL
from auditor.errors import InputError
from auditor.executor.snapshots import snapshot_for
from auditor.model.globs import config_glob, includes_excludes, velero_any_glob


@dataclass(frozen=True)
class Candidate:
    """One PVC the command would act on: the VolumeSnapshot to create, or why it cannot."""

    namespace: str
    pvc: str
    status: str
    snapshot: dict[str, Any] | None
    skipped: str | None = None  # it should be snapshotted but cannot be (an error)
    out_of_scope: str | None = None  # it is left out on purpose, and why

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.pvc}"


def plan_protection(analysis: ClusterAnalysis, at: datetime, *, statuses: tuple[str, ...] = ("unprotected",),
                    namespaces: tuple[str, ...] = (), waived: Mapping[tuple[str, str], str] | None = None,
                    ) -> list[Candidate]:
    """Every volume whose status is in ``statuses`` (and namespace matches a glob of ``namespaces``), in
    namespace/PVC order: the snapshot to create, or why the volume is out of scope. ``waived`` maps
    (namespace, PVC) — or (namespace, "") for a whole namespace — to the waiver that excepts it."""
    chosen = []
    for v in sorted(analysis.volumes, key=lambda v: (v.namespace, v.pvc)):
        if v.status not in statuses:
            continue
        if namespaces and not any(config_glob(v.namespace, glob) for glob in namespaces):
            continue
        why = out_of_scope(analysis, v, waived or {})
        if why is not None:
            chosen.append(Candidate(v.namespace, v.pvc, v.status, None, out_of_scope=why))
            continue
        try:
            obj = snapshot_for(analysis.inventory, v.namespace, v.pvc, at)
        except InputError as exc:
            chosen.append(Candidate(v.namespace, v.pvc, v.status, None, str(exc)))
            continue
        chosen.append(Candidate(v.namespace, v.pvc, v.status, obj))
    return chosen


def out_of_scope(analysis: ClusterAnalysis, v: VolumeResult, waived: Mapping[tuple[str, str], str]) -> str | None:
    """Why the volume is out of scope on purpose, or None."""
    if not v.audited:
        return f"namespace {v.namespace} is excluded by the audit policy (exclude_namespaces)"
    inv = analysis.inventory
    pvc = inv.pvc_by_key.get((v.namespace, v.pvc))
    if pvc is not None and pvc.meta.labels.get(EXCLUDE_LABEL) == "true":
        return f"the PVC carries {EXCLUDE_LABEL}=true (excluded from Velero backups on purpose)"
    pv = inv.pv_by_name.get(v.pv) if v.pv else None
    if pv is not None and pv.meta.labels.get(EXCLUDE_LABEL) == "true":
        return f"its PV {pv.meta.name} carries {EXCLUDE_LABEL}=true (excluded from Velero backups on purpose)"
    ns = next((n for n in inv.namespaces if n.meta.name == v.namespace), None)
    if ns is not None and ns.meta.labels.get(EXCLUDE_LABEL) == "true":
        return f"namespace {v.namespace} carries {EXCLUDE_LABEL}=true (excluded from Velero backups on purpose)"
    skipped = next((r for r in v.reasons if "volume policy" in r and r.endswith("skips it")), None)
    if skipped is not None:
        return f"Velero's {skipped.split(': ', 1)[-1]}"
    waiver = waived.get((v.namespace, v.pvc)) or waived.get((v.namespace, ""))
    if waiver is not None:
        return f"waived: {waiver}"
    schedules = analysis.schedules.values()
    excluding = [s.key for s in schedules if velero_any_glob(s.ctx.spec.excluded_namespaces, v.namespace)]
    # a deliberate exclusion only when no schedule at all (enabled, paused or invalid) would include it: a
    # catch-all schedule excluding the namespaces that have their own is not a decision against backing up
    if excluding and not any(includes_excludes(s.ctx.spec.included_namespaces, s.ctx.spec.excluded_namespaces,
                                               v.namespace) for s in schedules):
        return f"schedule {', '.join(sorted(excluding))} excludes namespace {v.namespace} (excludedNamespaces)"
    return None


def waivers_of(results: Iterable[Any]) -> dict[tuple[str, str], str]:
    """(namespace, PVC) — or (namespace, "") for a Namespace — to the waiver that excepts one of its findings."""
    out: dict[tuple[str, str], str] = {}
    for f in results:
        if f.status != "excepted" or f.exception is None:
            continue
        e = f.exception
        key = (f.namespace or "", f.name) if f.kind == "PersistentVolumeClaim" else \
            (f.name, "") if f.kind == "Namespace" else None
        if key is not None:
            out.setdefault(key, f"exception {e.get('id')} excepts {f.rule_id} (owner {e.get('owner')}, "
                                f"expires {e.get('expires')})")
    return out
