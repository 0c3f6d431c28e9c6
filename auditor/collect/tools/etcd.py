"""etcd snapshots the cluster shows: k3s/RKE2 ``ETCDSnapshotFile`` objects (the executor's own manifests are
read from the bucket by ``etcd_manifests``)."""

from __future__ import annotations

from auditor.collect import slim
from auditor.collect.resource import ResourceKind
from auditor.collect.tools.base import CollectTool

GROUP = "k3s.cattle.io"

TOOL = CollectTool("etcd", (
    ResourceKind(GROUP, "v1", "etcdsnapshotfiles", "ETCDSnapshotFile", False, "etcd_snapshots",
                 slim.etcd_snapshot_file, optional=True),
))
