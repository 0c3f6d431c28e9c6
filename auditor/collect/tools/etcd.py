"""etcd snapshots the cluster shows: k3s/RKE2 ``ETCDSnapshotFile`` objects (the executor's own manifests are
read from the bucket by ``etcd_manifests``)."""

from __future__ import annotations

from auditor.collect.fields import FieldReader
from auditor.collect.resource import ResourceKind
from auditor.collect.slim import meta, quantity
from auditor.collect.tools.base import CollectTool
from auditor.model.tools import etcd as model

GROUP = "k3s.cattle.io"


def etcd_snapshot_file(f: FieldReader) -> model.EtcdSnapshot:
    """k3s/RKE2 ``ETCDSnapshotFile``: one per snapshot file, local (``file://``) or on S3 (``s3://``)."""
    m = meta(f)
    return model.EtcdSnapshot(
        meta=m, source="k3s", snapshot_name=f.str("spec.snapshotName") or m.name, node_name=f.str("spec.nodeName"),
        location=f.str("spec.location"), created=f.time("status.creationTime"), ready=f.bool("status.readyToUse"),
        error=f.str("status.error.message"), size_bytes=quantity(f, "status.size"))


TOOL = CollectTool("etcd", (
    ResourceKind(GROUP, "v1", "etcdsnapshotfiles", "ETCDSnapshotFile", False, "etcd_snapshots",
                 etcd_snapshot_file, optional=True),
))
