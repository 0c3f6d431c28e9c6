"""Loading objects as `kubectl get -o json|yaml` prints them (single objects, Lists, multi-doc YAML).

Seeding keeps given metadata (uid, creationTimestamp, resourceVersion) and fills what is missing,
registers seeded CustomResourceDefinitions before the custom resources that need them, creates
namespaces that seeded objects imply, and emits no watch events (it is a bulk load).
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from . import objects as ob
from .lifecycle import after_commit, prepare_special
from .resources import ResourceType
from .state import State
from .store import Entry

SEED_SUFFIXES = (".json", ".yaml", ".yml")
_CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: parsing hundreds of MB of JSON otherwise triggers it thousands of times."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def expand(doc: Any, api_version: str = "", kind: str = "") -> Iterator[dict[str, Any]]:
    """Objects in a document: Lists (`List` or `<Kind>List` with items) are flattened."""
    if isinstance(doc, list):
        for item in doc:
            yield from expand(item, api_version, kind)
        return
    if not isinstance(doc, dict):
        return
    doc_kind = doc.get("kind") or kind
    if isinstance(doc.get("items"), list) and (doc_kind == "List" or str(doc_kind).endswith("List")):
        item_kind = doc_kind[:-4] if doc_kind != "List" else ""
        list_api_version = doc.get("apiVersion", "")
        for item in doc["items"]:
            if type(item) is dict and item.get("kind") and item.get("apiVersion") and "items" not in item:
                yield item  # the common case, without a recursive generator per object
            else:
                yield from expand(item, list_api_version, item_kind)
        return
    if not doc.get("kind") and kind:
        doc["kind"] = kind
    if not doc.get("apiVersion") and api_version:
        doc["apiVersion"] = api_version
    yield doc


def read_file(path: Path) -> Iterator[dict[str, Any]]:
    """Objects in one .json/.yaml/.yml file."""
    data = path.read_bytes()
    if path.suffix.lower() == ".json":
        try:
            yield from expand(orjson.loads(data))
            return
        except orjson.JSONDecodeError:
            pass  # concatenated documents: YAML is a superset of JSON
    for doc in ob.yaml_docs(data):
        yield from expand(doc)


def seed_files(root: Path) -> list[Path]:
    """Seedable files under a directory (or the file itself), in a stable order."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SEED_SUFFIXES)


class Seeder:
    """Bulk loader; unknown kinds are retried once all CRDs are known, then counted."""

    def __init__(self, state: State, unknown: Counter[str]) -> None:
        self.state = state
        self.unknown = unknown
        self.deferred: list[dict[str, Any]] = []
        self.namespaces: set[str] = set()
        self.loaded = 0

    def add(self, objs: Iterable[dict[str, Any]]) -> None:
        """Load objects grouped per type; objects of unknown types wait for `finish()`."""
        batches: dict[tuple[str, str], list[Entry]] = {}
        registry, store = self.state.registry, self.state.store
        types: dict[tuple[str, str], tuple[ResourceType, ResourceType] | None] = {}
        with store.lock:
            for obj in objs:
                kind_key = (str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
                if kind_key in types:
                    found = types[kind_key]
                else:
                    rt = registry.by_kind(*kind_key)
                    found = types[kind_key] = (rt, registry.storage_type(*rt.key) or rt) if rt else None
                if found is None:
                    self.deferred.append(obj)
                    continue
                rt, storage = found
                entry = self._entry(rt, storage, obj)
                if entry is None:
                    continue
                if rt.key == _CRD_KEY:
                    self._flush(batches)
                    store.bulk_load(rt.key, [entry])
                    after_commit(self.state, rt, obj)
                    types.clear()  # the CRD may have introduced or changed types
                    self.loaded += 1
                else:
                    batch = batches.get(rt.key)
                    if batch is None:
                        batch = batches[rt.key] = []
                    batch.append(entry)
            self._flush(batches)

    def _flush(self, batches: dict[tuple[str, str], list[Entry]]) -> None:
        for key, entries in batches.items():
            self.loaded += self.state.store.bulk_load(key, entries)
        batches.clear()

    def _entry(self, rt: ResourceType, storage: ResourceType, obj: dict[str, Any]) -> Entry | None:
        meta = obj.get("metadata")
        if type(meta) is not dict or not meta.get("name"):
            self.unknown[f"{obj.get('apiVersion')}/{obj.get('kind')} (no metadata.name)"] += 1
            return None
        if rt.namespaced:
            ns = meta.get("namespace")
            if not ns:
                ns = meta["namespace"] = "default"
            self.namespaces.add(ns)
        elif "namespace" in meta:
            del meta["namespace"]
        if not meta.get("uid"):
            meta["uid"] = ob.new_uid()
        if not meta.get("creationTimestamp"):
            meta["creationTimestamp"] = ob.now_rfc3339()
        if rt.key == _CRD_KEY and "status" not in obj:
            prepare_special(rt, obj)
        rv = ob.int_rv(meta.get("resourceVersion"))
        return ob.make_entry(storage, obj, rv if rv is not None else self.state.store.next_rv())

    def finish(self) -> int:
        """Retry deferred objects, count the still-unknown ones, create implied namespaces."""
        deferred, self.deferred = self.deferred, []
        if deferred:
            self.add(deferred)
            for obj in self.deferred:
                self.unknown[f"{obj.get('apiVersion')}/{obj.get('kind')}"] += 1
            self.deferred = []
        self._implied_namespaces()
        return self.loaded

    def _implied_namespaces(self) -> None:
        store = self.state.store
        ns_rt = self.state.registry.storage_type("", "namespaces")
        if ns_rt is None:
            return
        with store.lock:
            missing = [n for n in sorted(self.namespaces) if store.get(ns_rt.key, "", n) is None]
            entries = [ob.make_entry(ns_rt, namespace_object(n), store.next_rv()) for n in missing]
            if entries:
                store.bulk_load(ns_rt.key, entries)
        self.namespaces.clear()


def namespace_object(name: str) -> dict[str, Any]:
    """A fresh Active namespace as the apiserver would store it."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": ob.new_uid(),
            "creationTimestamp": ob.now_rfc3339(),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
