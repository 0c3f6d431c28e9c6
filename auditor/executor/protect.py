"""Fill coverage gaps now: a CSI VolumeSnapshot of every PVC the scan finds unprotected (opt-in).

A snapshot is a stopgap, not a backup: it usually lives on the same storage system as the volume. It
buys a recovery point until a Velero schedule covers the PVC; the scan keeps reporting the gap's cause.
Planning is pure (a scan in, objects out); :mod:`auditor.executor.runner` creates them exactly once.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.analyse.coverage import ClusterAnalysis
from auditor.errors import InputError
from auditor.executor.snapshots import snapshot_for


@dataclass(frozen=True)
class Candidate:
    """One PVC the command would act on: the VolumeSnapshot to create, or why it cannot."""

    namespace: str
    pvc: str
    status: str
    snapshot: dict[str, Any] | None
    skipped: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.pvc}"


def plan_protection(analysis: ClusterAnalysis, at: datetime, *, statuses: tuple[str, ...] = ("unprotected",),
                    namespaces: tuple[str, ...] = ()) -> list[Candidate]:
    """Every audited volume whose status is in ``statuses`` (and namespace matches a glob of ``namespaces``),
    in namespace/PVC order. Volumes the audit excludes are never touched."""
    chosen = []
    for v in sorted(analysis.volumes, key=lambda v: (v.namespace, v.pvc)):
        if not v.audited or v.status not in statuses:
            continue
        if namespaces and not any(fnmatch.fnmatchcase(v.namespace, glob) for glob in namespaces):
            continue
        try:
            obj = snapshot_for(analysis.inventory, v.namespace, v.pvc, at)
        except InputError as exc:
            chosen.append(Candidate(v.namespace, v.pvc, v.status, None, str(exc)))
            continue
        chosen.append(Candidate(v.namespace, v.pvc, v.status, obj))
    return chosen
