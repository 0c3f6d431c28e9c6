"""etcd snapshot records: k3s/RKE2 ``ETCDSnapshotFile`` objects and the executor's own snapshot manifests."""

from __future__ import annotations

from datetime import datetime

import msgspec

from auditor.model.records import Meta


class EtcdSnapshot(msgspec.Struct, frozen=True, gc=False):
    """One etcd snapshot the scan can see: a k3s/RKE2 ``ETCDSnapshotFile`` (cluster-scoped) or a manifest the
    auditor's executor wrote beside its snapshot (``source`` says which; ``location`` where the file is)."""

    meta: Meta
    source: str  # "k3s" (ETCDSnapshotFile) or "executor" (our .json manifest)
    snapshot_name: str
    node_name: str | None
    location: str | None
    created: datetime | None  # status.creationTime / the manifest's taken_at
    ready: bool | None  # status.readyToUse; a manifest exists only for a verified snapshot
    error: str | None = None
    size_bytes: int | None = None
