"""New, resolved and changed findings and volume status changes between two scans of a cluster (pure)."""

from __future__ import annotations

from auditor.store.views import Changed, ClusterDiff, Resolved, ScanRef, StoredFinding, VolumeChange

VolumeKey = tuple[str, str]


def diff_cluster(cluster: str, a: ScanRef, b: ScanRef, findings_a: list[StoredFinding],
                 findings_b: list[StoredFinding], volumes_a: dict[VolumeKey, str],
                 volumes_b: dict[VolumeKey, str]) -> ClusterDiff:
    """Findings match by identity (rule, cluster, kind, namespace, name); messages that only restate an age
    do not make a finding "changed": its severity or status (open, excepted) must change."""
    before = {f.identity: f for f in findings_a}
    after = {f.identity: f for f in findings_b}
    new = tuple(after[i] for i in sorted(after.keys() - before.keys()))
    resolved = tuple(Resolved(before[i], (b.as_of - before[i].first_seen).total_seconds())
                     for i in sorted(before.keys() - after.keys()))
    changed, unchanged = [], 0
    for i in sorted(before.keys() & after.keys()):
        fields = tuple(k for k in ("severity", "status") if getattr(before[i], k) != getattr(after[i], k))
        if fields:
            changed.append(Changed(before[i], after[i], fields))
        else:
            unchanged += 1
    volumes = tuple(VolumeChange(ns, pvc, volumes_a.get((ns, pvc)), volumes_b.get((ns, pvc)))
                    for ns, pvc in sorted(volumes_a.keys() | volumes_b.keys())
                    if volumes_a.get((ns, pvc)) != volumes_b.get((ns, pvc)))
    return ClusterDiff(cluster, a, b, new, resolved, tuple(changed), unchanged, volumes)
