"""Side effects the apiserver's controllers would produce: CRD registration and namespace lifecycle.

Creating or updating a CustomResourceDefinition registers its types (and fills the status the
apiextensions-apiserver reports); deleting it drops the types and their objects. Deleting a namespace
marks it Terminating and, shortly after, empties and removes it (the namespace controller's job).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from . import objects as ob
from .errors import invalid
from .resources import ResourceType, types_from_crd
from .state import State
from .store import Entry

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_KEY = ("", "namespaces")


def prepare_special(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Type-specific defaults the apiserver or its controllers add (CRD status, namespace label)."""
    meta = obj["metadata"]
    if rt.key == CRD_KEY:
        try:
            types = types_from_crd(obj)
        except ValueError as e:
            raise invalid(rt.kind, rt.group, meta.get("name", ""), "spec", str(e)) from e
        expected = f"{types[0].plural}.{types[0].group}" if types else ""
        if meta.get("name") != expected:
            raise invalid(
                rt.kind,
                rt.group,
                meta.get("name", ""),
                "metadata.name",
                f'Invalid value: "{meta.get("name")}": must be spec.names.plural+"."+spec.group',
            )
        names = dict(obj["spec"].get("names") or {})
        names.setdefault("singular", types[0].singular)
        names.setdefault("listKind", types[0].effective_list_kind)
        now = ob.now_rfc3339()
        obj["status"] = {
            "acceptedNames": names,
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": now,
                },
            ],
            "storedVersions": sorted({t_.storage_version for t_ in types}),
        }
    elif rt.key == NS_KEY:
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    elif rt.key == ("", "secrets"):
        obj.setdefault("type", "Opaque")


def after_commit(state: State, rt: ResourceType, obj: dict[str, Any] | None, deleted: bool = False) -> None:
    """Side effects of writes to CRDs (live registration) and namespaces (cascade deletion)."""
    if rt.key == CRD_KEY and obj is not None:
        name = obj.get("metadata", {}).get("name", "")
        if deleted:
            with state.store.lock:
                for key in {rt_.key for rt_ in state.registry.crd_types(name)}:
                    ts = state.store.types.get(key)
                    if ts is not None:
                        for k in list(ts.sorted_keys()):
                            state.store.remove(key, _final_entry(state, key, ts.entries[k]))
                    state.store.types.pop(key, None)
                state.registry.unregister_crd(name)
        else:
            with contextlib.suppress(ValueError):
                state.registry.register_crd(obj)
    elif rt.key == NS_KEY and deleted and obj is not None:
        purge_namespace(state, obj.get("metadata", {}).get("name", ""))


def purge_namespace(state: State, ns: str) -> None:
    """Delete every object in a namespace (what the namespace controller does), emitting DELETED."""
    with state.store.lock:
        for key, ts in list(state.store.types.items()):
            lo, hi = ts.key_range(ns)
            for k in ts.sorted_keys()[lo:hi]:
                state.store.remove(key, _final_entry(state, key, ts.entries[k]))


def _finish_namespace(state: State, name: str) -> None:
    """Namespace controller stand-in: purge contents, then drop the namespace unless finalizers hold it."""
    if state.stopping.is_set():
        return
    with state.store.lock:
        entry = state.store.get(NS_KEY, "", name)
        if entry is None:
            return
        obj = entry.obj()
        if not obj["metadata"].get("deletionTimestamp"):
            return
        purge_namespace(state, name)
        if not obj["metadata"].get("finalizers"):
            rt = state.registry.storage_type(*NS_KEY)
            if rt is not None:
                state.store.remove(NS_KEY, ob.make_entry(rt, obj, state.store.next_rv()))


def terminate_namespace(state: State, rt: ResourceType, obj: dict[str, Any]) -> Entry:
    """Namespaces are deleted asynchronously: Terminating first, emptied shortly after."""
    obj["metadata"]["deletionTimestamp"] = ob.now_rfc3339()
    obj["metadata"]["deletionGracePeriodSeconds"] = 0
    obj.setdefault("status", {})["phase"] = "Terminating"
    entry = ob.make_entry(rt, obj, state.store.next_rv())
    state.store.commit(NS_KEY, entry, "MODIFIED")
    timer = threading.Timer(state.settings.namespace_cleanup_delay, _finish_namespace, (state, obj["metadata"]["name"]))
    timer.daemon = True
    timer.start()
    return entry


def _final_entry(state: State, type_key: tuple[str, str], entry: Entry) -> Entry:
    """The last revision of a deleted object, stamped with the deletion's resourceVersion."""
    rt = state.registry.storage_type(*type_key)
    obj = entry.obj()
    if rt is None:
        return entry
    return ob.make_entry(rt, obj, state.store.next_rv())
