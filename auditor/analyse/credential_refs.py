"""Which Secrets are backup credentials, and what uses each: derived from objects read before, never by listing.

The live reader fetches exactly these Secrets by name, ``auditor rbac`` grants exactly them, and the
credential analysis judges them; one function serves all three so they can never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from auditor.model import records as r
from auditor.model.tools import TOOLS, velero


def is_velero_deployment(w: r.Workload) -> bool:
    """Velero's server Deployment (by its usual names and labels, and its ``server`` command)."""
    return w.kind == "Deployment" and (
        w.meta.labels.get("component") == "velero" or w.meta.name == "velero"
        or w.meta.labels.get("app.kubernetes.io/name") == "velero") and "server" in w.args


def credential_refs(records: Mapping[str, Sequence[Any]]) -> dict[tuple[str, str], set[str]]:
    """(namespace, Secret name) of every backup credential, with what uses it.

    These, and only these, are the Secrets a live scan reads (each by name: ``auditor rbac`` grants exactly
    them). They follow from objects read before: the storage locations, Velero's server Deployment (the
    Secret it mounts for its cloud credentials), and what the other backup tools' objects name
    (``model/tools``: ``ToolModel.secret_refs``)."""
    refs: dict[tuple[str, str], set[str]] = defaultdict(set)
    velero_namespaces = {rec.meta.namespace for f in ("bsls", "schedules", "backups") for rec in records[f]}
    for ns in velero_namespaces:
        refs[(ns, "velero-repo-credentials")].add("Velero repository password")
    for w in records.get("workloads", ()):
        if w.meta.namespace in velero_namespaces and is_velero_deployment(w):
            for name in w.secret_volumes:
                refs[(w.meta.namespace, name)].add(f"Velero server Deployment {w.meta.key}")
    for loc in [*records["bsls"], *records["vsls"]]:
        kind = "BackupStorageLocation" if isinstance(loc, velero.BackupStorageLocation) else "VolumeSnapshotLocation"
        refs[(loc.meta.namespace, loc.credential_name or "cloud-credentials")].add(f"{kind} {loc.meta.key}")
    for tool in TOOLS:
        for ns, name, user in tool.secret_refs(records) if tool.secret_refs else ():
            refs[(ns, name)].add(user)
    return refs
