"""Read a Velero backup catalog: a local copy of a BackupStorageLocation prefix (read-only).

Layout (``pkg/persistence/object_store_layout.go``): ``backups/<b>/velero-backup.json``,
``<b>-volumeinfo.json.gz`` (per-volume results, Velero 1.13+), ``<b>-podvolumebackups.json.gz``,
``<b>-results.gz``. A file that exists but cannot be read is recorded as unreadable: the verdicts
for that backup's volumes become ``unknown``, never ``protected``.
"""

from __future__ import annotations

import gzip
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from auditor.collect.fields import FieldReader
from auditor.collect.tools import velero
from auditor.errors import InputError
from auditor.model.time import parse_time
from auditor.model.tools.velero import CatalogBackup, VeleroCatalog, VolumeInfo


def _gz_json(path: Path) -> Any:
    return orjson.loads(gzip.decompress(path.read_bytes()))


def _time(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            return parse_time(value)
        except ValueError:
            return None
    return None


def _volume_info(items: Any, where: str) -> tuple[VolumeInfo, ...]:
    if not isinstance(items, list):
        raise InputError("expected a JSON array", file=where)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("pvcName"), str):
            raise InputError("entry without pvcName", file=where, field=f"[{i}].pvcName")
        out.append(VolumeInfo(
            pvc_namespace=str(item.get("pvcNamespace") or ""), pvc_name=item["pvcName"],
            pv_name=item.get("pvName"), method=item.get("backupMethod"),
            data_moved=bool(item.get("snapshotDataMoved")), skipped=bool(item.get("skipped")),
            skipped_reason=item.get("skippedReason"), result=item.get("result"),
            started=_time(item.get("startTimestamp")), completed=_time(item.get("completionTimestamp")),
        ))
    return tuple(out)


def _read_backup(directory: Path) -> CatalogBackup:
    name = directory.name
    unreadable: list[str] = []
    backup = volume_info = pvbs = None
    errors: dict[str, tuple[str, ...]] = {}

    def attempt(filename: str, reader: Any) -> Any:
        path = directory / filename
        if not path.is_file():
            return None
        try:
            return reader(path)
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile, orjson.JSONDecodeError, InputError) as exc:
            unreadable.append(f"{path}: {exc}")
            return None

    raw = attempt("velero-backup.json", lambda p: orjson.loads(p.read_bytes()))
    if isinstance(raw, dict):
        try:
            backup = velero.backup(FieldReader(raw, str(directory / "velero-backup.json")))
        except InputError as exc:
            unreadable.append(str(exc))
    volume_info = attempt(f"{name}-volumeinfo.json.gz",
                          lambda p: _volume_info(_gz_json(p), str(p)))
    raw_pvbs = attempt(f"{name}-podvolumebackups.json.gz", _gz_json)
    if isinstance(raw_pvbs, list):
        try:
            pvbs = tuple(velero.pod_volume_backup(FieldReader(
                {"kind": "PodVolumeBackup", **item} if isinstance(item, dict) else item,
                str(directory / f"{name}-podvolumebackups.json.gz"))) for item in raw_pvbs)
        except InputError as exc:
            unreadable.append(str(exc))
    results = attempt(f"{name}-results.gz", _gz_json)
    if isinstance(results, dict):
        ns_errors = ((results.get("errors") or {}).get("namespaces") or {})
        if isinstance(ns_errors, dict):
            errors = {str(k): tuple(str(x) for x in v) for k, v in ns_errors.items() if isinstance(v, list)}
    return CatalogBackup(name=name, backup=backup, volume_info=volume_info, pod_volume_backups=pvbs,
                         error_lines=errors, unreadable=tuple(unreadable))


def read_catalog(root: Path) -> VeleroCatalog:
    """Every backup under ``root/backups/``; ``root`` is a copy of a BSL's bucket prefix."""
    root = Path(root)
    backups_dir = root / "backups"
    if not root.is_dir():
        raise InputError("not a directory", file=str(root))
    if not backups_dir.is_dir():
        raise InputError("not a Velero catalog: it has no backups/ folder (give the BSL prefix)", file=str(root))
    backups = {d.name: _read_backup(d) for d in sorted(backups_dir.iterdir()) if d.is_dir()}
    return VeleroCatalog(location=str(root), backups=backups)
