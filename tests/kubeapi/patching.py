"""Patch mechanics: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and an approximate
strategic merge patch.

Strategic merge is approximated: lists are merged by key only for the well-known Kubernetes list
fields in `MERGE_KEYS` (containers by name, ports by containerPort/port, ...), `metadata.finalizers`
is merged as a set, and the directives kubectl sends (`$patch`, `$setElementOrder/…`,
`$deleteFromPrimitiveList/…`, `$retainKeys`) are honoured; every other list is replaced, as in a
merge patch. The apiserver derives this from Go struct tags; this table covers what kubectl apply
and the Python client send for the built-in types this server serves.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError

MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "imagePullSecrets": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "ports": ("containerPort", "port"),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey",),
    "resourceClaims": ("name",),
}
PRIMITIVE_MERGE_LISTS = frozenset({"finalizers"})

_DELETE = object()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces. Mutates target."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def _strip(value: Any) -> Any:
    """Remove SMP directives from a value that is being set wholesale."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Approximate strategic merge patch (see module docstring). Mutates target."""
    out = _smp(target, patch)
    return {} if out is _DELETE else out


def _smp(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return _strip(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"})
    if not isinstance(target, dict):
        target = {}
    orders: dict[str, list[Any]] = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v if isinstance(v, list) else []
        elif k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(target.get(field), list) and isinstance(v, list):
                target[field] = [x for x in target[field] if x not in v]
        elif k.startswith("$"):
            continue
        elif v is None:
            target.pop(k, None)
        elif isinstance(v, list) and isinstance(target.get(k), list):
            target[k] = _merge_list(k, target[k], v)
        else:
            merged = _smp(target.get(k), v)
            if merged is _DELETE:
                target.pop(k, None)
            else:
                target[k] = merged
    for field, order in orders.items():
        if isinstance(target.get(field), list):
            target[field] = _reorder(field, target[field], order)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for k in list(target):
            if k not in retain and k not in patch:
                del target[k]
    return target


def _merge_key(field: str, items: list[Any]) -> str | None:
    dicts = [i for i in items if isinstance(i, dict)]
    if not dicts or len(dicts) != len(items):
        return None
    for key in MERGE_KEYS.get(field, ()):
        if all(key in i for i in dicts):
            return key
    return None


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if field in PRIMITIVE_MERGE_LISTS and all(not isinstance(x, dict | list) for x in patch):
        return current + [x for x in patch if x not in current]
    key = _merge_key(field, patch)
    if key is None or not all(isinstance(c, dict) for c in current):
        return [_strip(x) for x in patch if not (isinstance(x, dict) and x.get("$patch") == "delete")]
    result = list(current)
    for item in patch:
        idx = next((i for i, c in enumerate(result) if c.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del result[idx]
        elif idx is None:
            result.append(_strip(item))
        else:
            merged = _smp(result[idx], item)
            if merged is _DELETE:
                del result[idx]
            else:
                result[idx] = merged
    return result


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = _merge_key(field, order) if order and isinstance(order[0], dict) else None

    def ident(x: Any) -> Any:
        return x.get(key) if key and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]
    pos = {w: i for i, w in enumerate(wanted) if isinstance(w, str | int | float | bool)}
    return sorted(items, key=lambda x: pos.get(ident(x), len(pos)))


# --- RFC 6902 -------------------------------------------------------------------------------------


class PatchError(Exception):
    """A JSON patch operation that does not apply (the apiserver answers 422)."""


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f'invalid JSON pointer "{pointer}"')
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, op: str, path: str, allow_end: bool = False) -> int:
    if allow_end and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": invalid index')
    i = int(token)
    if i > len(container) or (i == len(container) and not allow_end):
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": index out of range')
    return i


def _parent(doc: Any, path: str, op: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise PatchError(f"{op} operation does not apply: cannot operate on the document root")
    return _walk(doc, tokens[:-1], path, op), tokens[-1]


def _get(doc: Any, path: str, op: str) -> Any:
    return _walk(doc, _tokens(path), path, op)


def _walk(doc: Any, tokens: list[str], path: str, op: str) -> Any:
    cur = doc
    for t in tokens:
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, op, path)]
        else:
            raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return cur


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    if path == "":
        return value
    parent, last = _parent(doc, path, op)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, op, path, allow_end=True), value)
    else:
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> Any:
    parent, last = _parent(doc, path, op)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, op, path))
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def json_patch(doc: Any, ops: Any) -> Any:
    """Apply RFC 6902 operations; raises ApiError 400 for a malformed patch, PatchError otherwise."""
    if not isinstance(ops, list):
        raise ApiError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch", "BadRequest")
    for raw in ops:
        if not isinstance(raw, dict) or not isinstance(raw.get("op"), str):
            raise ApiError(400, "json patch operation is missing 'op'", "BadRequest")
        op, path = raw["op"], raw.get("path")
        if not isinstance(path, str):
            raise ApiError(400, f"json patch {op} operation is missing 'path'", "BadRequest")
        if op in ("add", "replace", "test") and "value" not in raw:
            raise ApiError(400, f"json patch {op} operation is missing 'value'", "BadRequest")
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(raw["value"]))
        elif op == "remove":
            _remove(doc, path)
        elif op == "replace":
            if path == "":
                doc = copy.deepcopy(raw["value"])
                continue
            _get(doc, path, "replace")
            parent, last = _parent(doc, path, "replace")
            if isinstance(parent, list):
                parent[_index(parent, last, "replace", path)] = copy.deepcopy(raw["value"])
            else:
                parent[last] = copy.deepcopy(raw["value"])
        elif op in ("move", "copy"):
            src = raw.get("from")
            if not isinstance(src, str):
                raise ApiError(400, f"json patch {op} operation is missing 'from'", "BadRequest")
            value = _remove(doc, src, op) if op == "move" else copy.deepcopy(_get(doc, src, op))
            doc = _add(doc, path, value, op)
        elif op == "test":
            if _get(doc, path, "test") != raw["value"]:
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise ApiError(400, f"Unexpected kind: {op}", "BadRequest")
    return doc
