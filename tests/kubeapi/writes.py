"""Write verbs: create, update (PUT), patch, delete, deletecollection — with the apiserver's rules.

Rules kept faithfully: server-owned metadata (uid, creationTimestamp, generation, resourceVersion),
generateName, optimistic concurrency (409 Conflict on a stale resourceVersion; custom resources
require one on PUT), status subresource separation, finalizers (delete only marks the object until
they are gone), no-op writes not bumping resourceVersion, `dryRun=All`, and live CRD registration.
"""

from __future__ import annotations

from typing import Any

import orjson

from . import objects as ob
from .errors import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    resource_not_found,
)
from .lifecycle import CRD_KEY, NS_KEY, after_commit, prepare_special, terminate_namespace
from .listing import selection
from .patching import PatchError, json_patch, merge_patch, strategic_merge_patch
from .resources import ResourceType
from .reviews import REVIEW_KEYS, review
from .state import Response, State, Target
from .store import Entry

_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
_STATUS_ON_CREATE: dict[tuple[str, str], dict[str, Any] | None] = {
    ("", "pods"): {"phase": "Pending"},
    ("", "persistentvolumeclaims"): {"phase": "Pending"},
    ("", "persistentvolumes"): {"phase": "Pending"},
    ("", "namespaces"): {"phase": "Active"},
    ("", "nodes"): None,  # nodes may set status on create (kubelet registration)
}
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def _dry_run(query: dict[str, str]) -> bool:
    return query.get("dryRun", "") == "All"


def _respond(state: State, t: Target, status: int, entry_or_obj: Entry | dict[str, Any]) -> Response:
    if isinstance(entry_or_obj, Entry):
        return Response(status, ob.served_bytes(entry_or_obj, t.rt))
    obj = dict(entry_or_obj)
    obj["apiVersion"] = t.rt.api_version
    return Response(status, orjson.dumps(obj))


def _storage_rt(state: State, t: Target) -> ResourceType:
    return state.registry.storage_type(*t.rt.key) or t.rt


def _check_identity(t: Target, body: dict[str, Any]) -> None:
    """apiVersion/kind in the body must match the endpoint (the apiserver answers 400)."""
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if api_version and api_version != t.rt.api_version:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({t.rt.api_version})"
        )
    if kind and kind != t.rt.kind:
        raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({t.rt.kind})")


def _check_namespace(t: Target, meta: dict[str, Any]) -> None:
    if t.rt.namespaced:
        ns = meta.get("namespace")
        if ns and ns != t.namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = t.namespace
    else:
        meta.pop("namespace", None)


def _namespace_must_exist(state: State, t: Target) -> None:
    if not t.rt.namespaced or not state.settings.enforce_namespaces:
        return
    ns = state.store.get(NS_KEY, "", t.namespace)
    if ns is None:
        raise not_found("namespaces", "", "Namespace", t.namespace)
    if ns.obj().get("metadata", {}).get("deletionTimestamp"):
        raise ApiError(
            403,
            f'{t.rt.plural} "" is forbidden: unable to create new content in namespace {t.namespace} '
            "because it is being terminated",
            "Forbidden",
            {"name": "", "group": t.rt.group, "kind": t.rt.plural},
        )


def _tracked(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    part = ob.spec_part(obj)
    if not rt.status_subresource and "status" in obj:
        part["status"] = obj["status"]
    return part


def create(state: State, t: Target, body: Any, query: dict[str, str]) -> Response:
    """POST: 201 with the stored object (or 409 AlreadyExists, 400/404/422 for bad input)."""
    obj = ob.require_object(body)
    _check_identity(t, obj)
    if t.rt.key in REVIEW_KEYS:
        return review(state, t.rt, obj)
    meta = obj["metadata"]
    _check_namespace(t, meta)
    if not meta.get("name") and not meta.get("generateName"):
        raise invalid(t.rt.kind, t.rt.group, "", "metadata.name", "Required value: name or generateName is required")
    rt = _storage_rt(state, t)
    for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"):
        meta.pop(field, None)
    meta["uid"] = ob.new_uid()
    meta["creationTimestamp"] = ob.now_rfc3339()
    meta["generation"] = 1
    if t.rt.status_subresource and t.rt.key in _STATUS_ON_CREATE:
        reset = _STATUS_ON_CREATE[t.rt.key]
        if reset is not None:
            obj["status"] = dict(reset)
    elif t.rt.status_subresource and t.rt.is_crd:
        obj.pop("status", None)
    elif t.rt.status_subresource:
        obj["status"] = {}
    with state.store.lock:
        _namespace_must_exist(state, t)
        if not meta.get("name"):
            for _ in range(8):
                candidate = meta["generateName"] + ob.random_suffix()
                if state.store.get(t.rt.key, t.namespace, candidate) is None:
                    meta["name"] = candidate
                    break
            else:
                raise already_exists(t.rt.plural, t.rt.group, meta["generateName"])
        ob.validate_name(t.rt, meta["name"])
        if state.store.get(t.rt.key, t.namespace, meta["name"]) is not None:
            raise already_exists(t.rt.plural, t.rt.group, meta["name"])
        prepare_special(t.rt, obj)
        if _dry_run(query):
            meta.pop("resourceVersion", None)
            obj["apiVersion"], obj["kind"] = t.rt.api_version, t.rt.kind
            return _respond(state, t, 201, obj)
        entry = ob.make_entry(rt, obj, state.store.next_rv())
        state.store.commit(t.rt.key, entry, "ADDED")
    after_commit(state, t.rt, obj)
    return _respond(state, t, 201, entry)


def _current(state: State, t: Target) -> Entry:
    entry = state.store.get(t.rt.key, t.namespace, t.name)
    if entry is None:
        raise not_found(t.rt.plural, t.rt.group, t.rt.kind, t.name)
    return entry


def _finish_update(state: State, t: Target, old: Entry, new: dict[str, Any], query: dict[str, str]) -> Response:
    """Common tail of PUT and PATCH: subresource rules, generation, finalizers, no-op detection."""
    rt = _storage_rt(state, t)
    old_obj = old.obj()
    old_meta = old_obj.get("metadata", {})
    if t.subresource == "status":
        status = new.get("status")
        new = old.obj()
        if status is None:
            new.pop("status", None)
        else:
            new["status"] = status
    else:
        if t.rt.status_subresource:
            if "status" in old_obj:
                new["status"] = old_obj["status"]
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        for field in _SERVER_META:
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise invalid(
                    t.rt.kind,
                    t.rt.group,
                    t.name,
                    "metadata.finalizers",
                    "Forbidden: no new finalizers can be added if the object is being deleted",
                )
        if _tracked(t.rt, new) != _tracked(t.rt, old_obj):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
    new["metadata"]["resourceVersion"] = old_meta.get("resourceVersion")
    new["metadata"]["name"], new["metadata"]["namespace"] = t.name, t.namespace
    if not t.rt.namespaced:
        new["metadata"].pop("namespace", None)
    new["apiVersion"], new["kind"] = rt.storage_api_version, rt.kind
    if t.subresource != "status" and t.rt.key == CRD_KEY:
        prepare_special(t.rt, new)
        old_conditions = (old_obj.get("status") or {}).get("conditions")
        if old_conditions:
            new["status"]["conditions"] = old_conditions
    if new == old_obj:
        return _respond(state, t, 200, old)
    if _dry_run(query):
        return _respond(state, t, 200, new)
    meta = new["metadata"]
    if meta.get("deletionTimestamp") and not meta.get("finalizers"):
        final = ob.make_entry(rt, new, state.store.next_rv())
        state.store.remove(t.rt.key, final)
        after_commit(state, t.rt, new, deleted=True)
        return _respond(state, t, 200, final)
    entry = ob.make_entry(rt, new, state.store.next_rv())
    state.store.commit(t.rt.key, entry, "MODIFIED")
    after_commit(state, t.rt, new)
    return _respond(state, t, 200, entry)


def update(state: State, t: Target, body: Any, query: dict[str, str]) -> Response:
    """PUT of an object or its /status: 200, 404, or 409 Conflict on a stale resourceVersion."""
    new = ob.require_object(body)
    _check_identity(t, new)
    meta = new["metadata"]
    if meta.get("name") and meta["name"] != t.name:
        raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({t.name})")
    _check_namespace(t, meta)
    with state.store.lock:
        old = _current(state, t)
        rv = meta.get("resourceVersion")
        if rv:
            if ob.int_rv(rv) is None:
                raise bad_request(f'invalid resourceVersion "{rv}"')
            if ob.int_rv(rv) != old.rv:
                raise conflict(t.rt.plural, t.rt.group, t.name)
        elif t.rt.is_crd:
            raise invalid(
                t.rt.kind,
                t.rt.group,
                t.name,
                "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update",
            )
        uid, current_uid = meta.get("uid"), old.obj()["metadata"].get("uid")
        if uid and uid != current_uid:
            raise conflict(
                t.rt.plural,
                t.rt.group,
                t.name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {current_uid}",
            )
        return _finish_update(state, t, old, new, query)


def patch(state: State, t: Target, raw: bytes, content_type: str, query: dict[str, str]) -> Response:
    """PATCH with JSON patch, merge patch, (approximate) strategic merge patch or apply."""
    ct = content_type.split(";", 1)[0].strip().lower()
    allowed = [p for p in PATCH_TYPES if not (t.rt.is_crd and p.startswith("application/strategic"))]
    if ct not in allowed:
        raise ApiError(
            415,
            "the body of the request was in an unknown format - accepted media types include: " + ", ".join(allowed),
            "UnsupportedMediaType",
        )
    body = ob.decode_body(raw, "application/yaml" if ct.endswith("yaml") else "application/json")
    if ct == "application/apply-patch+yaml":
        if not query.get("fieldManager"):
            raise invalid(
                "PatchOptions", "meta.k8s.io", "", "fieldManager", "Required value: is required for apply patch"
            )
        if not isinstance(body, dict):
            raise bad_request("error decoding YAML: apply patch must be an object")
        with state.store.lock:
            if state.store.get(t.rt.key, t.namespace, t.name) is None:
                if t.subresource:
                    raise not_found(t.rt.plural, t.rt.group, t.rt.kind, t.name)
                body.setdefault("metadata", {}).setdefault("name", t.name)
                return create(state, Target(t.rt, t.namespace), body, query)
    elif ct != "application/json-patch+json" and not isinstance(body, dict):
        raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    with state.store.lock:
        old = _current(state, t)
        current = old.obj()
        current["apiVersion"] = t.rt.api_version
        try:
            if ct == "application/json-patch+json":
                new = json_patch(current, body)
            elif ct == "application/strategic-merge-patch+json":
                new = strategic_merge_patch(current, body)
            else:
                new = merge_patch(current, body)
        except PatchError as e:
            raise ApiError(
                422,
                "the server rejected our request due to an error in our request",
                "Invalid",
                {"causes": [{"reason": "FieldValueInvalid", "message": str(e)}]},
            ) from e
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
            raise bad_request("the patched object must be an object with metadata")
        rv = new["metadata"].get("resourceVersion")
        if rv and ob.int_rv(rv) != old.rv:
            raise conflict(t.rt.plural, t.rt.group, t.name)
        new_name = new["metadata"].get("name")
        if new_name and new_name != t.name:
            raise bad_request(f"the name of the object ({new_name}) does not match the name on the URL ({t.name})")
        return _finish_update(state, t, old, new, query)


def _delete_options(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}


def delete(state: State, t: Target, body: Any, query: dict[str, str]) -> Response:
    """DELETE: 200 with the final object; objects with finalizers only get a deletionTimestamp."""
    opts = _delete_options(body)
    with state.store.lock:
        old = _current(state, t)
        obj = old.obj()
        meta = obj["metadata"]
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise conflict(
                t.rt.plural,
                t.rt.group,
                t.name,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}",
            )
        if pre.get("resourceVersion") and ob.int_rv(pre["resourceVersion"]) != old.rv:
            raise conflict(
                t.rt.plural,
                t.rt.group,
                t.name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {old.rv}",
            )
        if _dry_run(query) or "All" in (opts.get("dryRun") or []):
            return _respond(state, t, 200, old)
        rt = _storage_rt(state, t)
        if t.rt.key == NS_KEY:
            if meta.get("deletionTimestamp"):
                return _respond(state, t, 200, old)
            return _respond(state, t, 200, terminate_namespace(state, rt, obj))
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return _respond(state, t, 200, old)
            meta["deletionTimestamp"] = ob.now_rfc3339()
            meta["deletionGracePeriodSeconds"] = 0
            meta["generation"] = int(meta.get("generation") or 0) + 1
            entry = ob.make_entry(rt, obj, state.store.next_rv())
            state.store.commit(t.rt.key, entry, "MODIFIED")
            return _respond(state, t, 200, entry)
        final = ob.make_entry(rt, obj, state.store.next_rv())
        state.store.remove(t.rt.key, final)
    after_commit(state, t.rt, obj, deleted=True)
    return _respond(state, t, 200, final)


def delete_collection(state: State, t: Target, body: Any, query: dict[str, str]) -> Response:
    """DELETE on a collection: deletes what the selectors match; returns them as a list."""
    if t.rt.namespaced and not t.namespace:
        raise resource_not_found()
    sel = selection(t, query)
    entries, _, _, _ = state.store.page(t.rt.key, sel.namespace, None, 0, sel.match)
    items = []
    for e in entries:
        try:
            resp = delete(state, Target(t.rt, e.namespace, e.name), body, query)
        except ApiError as err:
            if err.code == 404:
                continue
            raise
        items.append(orjson.Fragment(resp.body))
    with state.store.lock:
        rv = state.store.rv
    out = {
        "kind": t.rt.effective_list_kind,
        "apiVersion": t.rt.api_version,
        "metadata": {"resourceVersion": str(rv)},
        "items": items,
    }
    return Response(200, orjson.dumps(out))
