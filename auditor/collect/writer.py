"""Write a live cluster's objects as a dump directory that ``--snapshot`` reads back identically.

Secret values never reach the disk: each key is kept with an empty value. Fields no analysis
reads and that can carry whole objects (managedFields' field sets, last-applied annotations) are dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from auditor import __version__
from auditor.collect.dump import MANIFEST
from auditor.collect.kinds import ResourceKind
from auditor.collect.secrets import FINGERPRINT_ANNOTATION, annotation_for
from auditor.collect.slim import DROPPED_ANNOTATIONS
from auditor.errors import InputError
from auditor.model.inventory import Inventory


def sanitize(kind: ResourceKind, raw: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to store: no secret value, no last-applied annotation, slim managedFields."""
    obj = dict(raw)
    meta = dict(obj.get("metadata") or {})
    managed = meta.pop("managedFields", None)
    if kind.kind == "Secret" and isinstance(managed, list):
        meta["managedFields"] = [
            {k: m[k] for k in ("manager", "operation", "time") if k in m} for m in managed if isinstance(m, dict)
        ]
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and DROPPED_ANNOTATIONS.intersection(annotations):
        meta["annotations"] = {k: v for k, v in annotations.items() if k not in DROPPED_ANNOTATIONS}
    obj["metadata"] = meta
    if kind.kind == "Secret":
        data = obj.get("data")
        obj["data"] = {k: "" for k in data} if isinstance(data, dict) else {}
        if isinstance(obj.get("stringData"), dict):
            obj["data"].update({k: "" for k in obj.pop("stringData")})
    return obj


class SnapshotWriter:
    """Collects sanitized objects per resource, then writes one ``List`` file each plus a manifest."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        if self.directory.exists() and any(self.directory.iterdir()):
            raise InputError("directory is not empty; refusing to overwrite a snapshot", file=str(self.directory))
        self.items: dict[ResourceKind, list[dict[str, Any]]] = {}

    def __call__(self, kind: ResourceKind, raw: dict[str, Any]) -> None:
        self.items.setdefault(kind, []).append(sanitize(kind, raw))

    def finish(self, inventory: Inventory) -> list[Path]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._annotate_fingerprints(inventory)
        written = []
        for kind, items in self.items.items():
            name = f"{kind.group or 'core'}_{kind.plural}.json"
            path = self.directory / name
            doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
            _write_atomic(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
            written.append(path)
        manifest = {
            "cluster": inventory.cluster, "server_version": inventory.server_version,
            "collected_at": inventory.collected_at.isoformat() if inventory.collected_at else None,
            "tool_version": __version__, "gaps": [g.as_dict() for g in inventory.gaps],
        }
        _write_atomic(self.directory / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        return written


    def _annotate_fingerprints(self, inventory: Inventory) -> None:
        """Carry the credential fingerprints (never values) so the dump reads back identically."""
        fingerprinted = {s.meta.key: s for s in inventory.secrets if s.fingerprints}
        for kind, items in self.items.items():
            if kind.kind != "Secret":
                continue
            for item in items:
                meta = item["metadata"]
                secret = fingerprinted.get(f"{meta.get('namespace')}/{meta.get('name')}")
                if secret is not None:
                    meta["annotations"] = {**(meta.get("annotations") or {}),
                                           FINGERPRINT_ANNOTATION: annotation_for(secret)}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
