"""The executor's etcd snapshot manifests as inventory records, so SYS-002 sees snapshots kept outside the cluster.

Only the small ``.json`` manifests are read (from a directory or an ``s3://`` prefix), never a snapshot. A source
that cannot be read becomes a gap (the scan says it is incomplete) instead of failing the scan.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from auditor.config import EtcdConfig, EtcdSnapshotSource
from auditor.errors import AuditorError
from auditor.model import records as r
from auditor.model.inventory import Gap, Inventory
from auditor.model.time import parse_time
from auditor.model.tools import etcd as etcd_records

RESOURCE = "etcd snapshot manifests"
MANIFEST = re.compile(r"^etcd-snapshot-\d{14}\.json$")  # the executor's names only


def _record(name: str, body: bytes, location: str, has_db: bool) -> etcd_records.EtcdSnapshot:
    """One manifest; raises ValueError when it is not one of ours."""
    manifest: Any = json.loads(body)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("taken_at"), str) \
            or not isinstance(manifest.get("sha256"), str) or manifest.get("file") != name.replace(".json", ".db"):
        raise ValueError("not an etcd snapshot manifest (file, sha256, taken_at)")
    etcd = manifest.get("etcd")
    size = etcd.get("totalSize") if isinstance(etcd, dict) else None
    return etcd_records.EtcdSnapshot(
        meta=r.Meta(name=manifest["file"]), source="executor", snapshot_name=manifest["file"], node_name=None,
        location=location + manifest["file"], created=parse_time(manifest["taken_at"]), ready=has_db,
        error=None if has_db else "the manifest is there but its snapshot file is missing",
        size_bytes=size if isinstance(size, int) else None)


def read_source(source: EtcdSnapshotSource) -> tuple[list[etcd_records.EtcdSnapshot], list[Gap]]:
    found: list[tuple[str, bytes, bool]] = []
    if source.dir is not None:
        where = f"file://{Path(source.dir).resolve()}/"
        try:
            for path in sorted(Path(source.dir).glob("etcd-snapshot-*.json")):
                found.append((path.name, path.read_bytes(), path.with_suffix(".db").is_file()))
        except OSError as exc:
            return [], [Gap(RESOURCE, "error", f"{source.dir}: {exc.strerror or exc}")]
    else:
        # deferred: importing the minio SDK took 1.7 s on a loaded machine; only s3:// sources need it
        from auditor.collect import s3

        target = s3.S3Target.parse(str(source.s3), endpoint=source.s3_endpoint, region=source.s3_region,
                                   ca_file=source.s3_ca_file, profile=source.s3_profile)
        where = target.url()
        try:
            found = s3.read_manifests(target)
        except AuditorError as exc:
            return [], [Gap(RESOURCE, "error", str(exc))]
    snapshots, gaps = [], []
    for name, body, has_db in found:
        if not MANIFEST.match(name):
            continue
        try:
            snapshots.append(_record(name, body, where, has_db))
        except ValueError as exc:
            gaps.append(Gap(RESOURCE, "error", f"{where}{name}: {exc}"))
    return snapshots, gaps


def with_etcd_manifests(inventory: Inventory, config: EtcdConfig) -> Inventory:
    """The inventory plus the manifests configured for its cluster (unchanged when none is)."""
    sources = config.sources_for(inventory.cluster)
    if not sources:
        return inventory
    snapshots, gaps = list(inventory.etcd_snapshots), list(inventory.gaps)
    for source in sources:
        found, missing = read_source(source)
        snapshots += found
        gaps += missing
    return dataclasses.replace(inventory, etcd_snapshots=tuple(snapshots), gaps=tuple(gaps))
