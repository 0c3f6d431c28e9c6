"""Two-scan scenarios: real-shaped objects written as dumps, scanned by the real pipeline into a store."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.analyse.scan import ScanResult
from auditor.config import AuditConfig
from auditor.output.document import build_document
from auditor.pipeline import ScanOptions
from auditor.recording import scan_and_record
from auditor.store import Store
from tests import factories as f

NS = "shop"
DAY = timedelta(days=1)
_counter = itertools.count()


def flatten(objects: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for obj in objects:
        out.extend(obj if isinstance(obj, list) else [obj])
    return out


def write_dump(directory: Path, objects: list[Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "objects.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                                        "items": flatten(objects)}))
    return directory


def write_catalog(directory: Path, backups: list[dict[str, Any]]) -> Path:
    """A bucket prefix copy holding ``velero-backup.json`` for each backup."""
    for b in backups:
        folder = directory / "backups" / b["metadata"]["name"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "velero-backup.json").write_text(json.dumps(b))
    (directory / "backups").mkdir(parents=True, exist_ok=True)
    return directory


def app(ns: str = NS, claim: str = "data") -> list[Any]:
    pv = f"pv-{ns}-{claim}"
    return [f.namespace(ns), f.pvc(claim, ns, volume=pv), f.pv(pv, ns, claim), f.pod(f"{claim}-0", ns, {claim: claim})]


def backup(name: str, hours_ago: float = 1.0, **kw: Any) -> dict[str, Any]:
    status = {"csiVolumeSnapshotsAttempted": 1, "csiVolumeSnapshotsCompleted": 1, **kw.pop("status", {})}
    return f.backup(name, schedule_name=kw.pop("schedule_name", "daily"), hours_ago=hours_ago, status=status, **kw)


def cluster(*, schedule: dict[str, Any] | None = None, bsls: list[dict[str, Any]] | None = None,
            deployment: dict[str, Any] | bool | None = True, node_agent: list[dict[str, Any]] | bool | None = True,
            backups: list[dict[str, Any]] | None = None, extra: list[Any] | None = None) -> list[Any]:
    """A Velero install (``True``: the default Deployment or node-agent, ``None``: none) with the given
    schedule, locations and backups (default: one Completed backup ``daily-1`` of a day ago)."""
    objects: list[Any] = [f.namespace(f.VELERO_NS), f.node("node-a"), f.node("node-b"), f.storage_class(default=True),
                          f.snapshot_class(labels={"velero.io/csi-volumesnapshot-class": "true"}), *app()]
    if deployment is not None:
        objects.append(f.velero_deployment() if deployment is True else deployment)
    if node_agent is True:
        objects += f.node_agent()
    elif node_agent:
        objects += node_agent
    objects += bsls if bsls is not None else [f.bsl()]
    if schedule is not None:
        objects.append(schedule)
    objects += backups if backups is not None else [backup("daily-1", hours_ago=25)]
    return objects + (extra or [])


def scan(store: str | None, objects: list[Any], as_of: datetime, tmp: Path, *, name: str = "prod",
         catalog: list[dict[str, Any]] | None = None, config: AuditConfig | None = None) -> ScanResult:
    n = next(_counter)
    dump = write_dump(tmp / f"dump-{n}", objects)
    catalogs = (str(write_catalog(tmp / f"catalog-{n}", catalog)),) if catalog is not None else ()
    options = ScanOptions(snapshots=(dump,), cluster_name=name, as_of=as_of, store=store, catalogs=catalogs,
                          config=config or AuditConfig())
    return scan_and_record(options)


def record(store: Store, result: ScanResult, **kw: Any) -> int:
    """Record ``result`` with its document, as ``auditor.recording`` does."""
    return store.record_scan(result, build_document(result), **kw)


def gov002(result: ScanResult, status: str = "open") -> list[Any]:
    return [r for r in result.results if r.rule_id == "GOV-002" and r.status == status]
