"""Minimal decoder for the Kubernetes protobuf envelope, for the few bodies kubectl sends that way.

kubectl's typed clients (`kubectl create namespace|configmap|secret|serviceaccount`,
`kubectl auth can-i|whoami`) POST `application/vnd.kubernetes.protobuf`. This decodes those kinds'
fields (ObjectMeta basics, ConfigMap and Secret data; review specs are skipped); any other protobuf
body is rejected with 415 rather than half-read.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from .errors import ApiError

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) triples; length-delimited values are bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield num, wire, value


def _map_entry(buf: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for num, _w, v in _fields(buf):
        if num == 1:
            key = v.decode()
        elif num == 2:
            value = v
    return key, value


def _object_meta(buf: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    names = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    for num, _w, v in _fields(buf):
        if num in names:
            if v:
                meta[names[num]] = v.decode()
        elif num in (11, 12):
            k, val = _map_entry(v)
            meta.setdefault("labels" if num == 11 else "annotations", {})[k] = val.decode()
        elif num == 14:
            meta.setdefault("finalizers", []).append(v.decode())
    return meta


def _config_map(buf: bytes, obj: dict[str, Any]) -> None:
    for num, _w, v in _fields(buf):
        if num == 2:
            k, val = _map_entry(v)
            obj.setdefault("data", {})[k] = val.decode()
        elif num == 3:
            k, val = _map_entry(v)
            obj.setdefault("binaryData", {})[k] = base64.b64encode(val).decode()
        elif num == 4:
            obj["immutable"] = bool(v)


def _secret(buf: bytes, obj: dict[str, Any]) -> None:
    for num, _w, v in _fields(buf):
        if num == 2:
            k, val = _map_entry(v)
            obj.setdefault("data", {})[k] = base64.b64encode(val).decode()
        elif num == 3 and v:
            obj["type"] = v.decode()
        elif num == 4:
            k, val = _map_entry(v)
            obj.setdefault("stringData", {})[k] = val.decode()
        elif num == 5:
            obj["immutable"] = bool(v)


_KINDS = {
    "Namespace": None,
    "ServiceAccount": None,
    "ConfigMap": _config_map,
    "Secret": _secret,
    # reviews: their spec is not decoded, the server allows everything anyway
    "SelfSubjectAccessReview": None,
    "SelfSubjectRulesReview": None,
    "SelfSubjectReview": None,
}


def decode(raw: bytes) -> dict[str, Any]:
    """Decode an envelope holding a Namespace, ConfigMap or Secret into its JSON form."""
    if not raw.startswith(MAGIC):
        raise ApiError(400, "protobuf body lacks the k8s envelope prefix", "BadRequest")
    api_version = kind = ""
    payload = b""
    try:
        for num, _w, v in _fields(raw[len(MAGIC) :]):
            if num == 1:
                for n2, _w2, v2 in _fields(v):
                    if n2 == 1:
                        api_version = v2.decode()
                    elif n2 == 2:
                        kind = v2.decode()
            elif num == 2:
                payload = v
        if kind not in _KINDS:
            raise ApiError(
                415,
                f"the test server decodes protobuf only for {', '.join(_KINDS)} (got {kind or 'unknown'}); "
                "send application/json",
                "UnsupportedMediaType",
            )
        obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {}}
        for num, _w, v in _fields(payload):
            if num == 1:
                obj["metadata"] = _object_meta(v)
        extra = _KINDS[kind]
        if extra is not None:
            extra(payload, obj)
        return obj
    except (IndexError, UnicodeDecodeError, ValueError) as e:
        raise ApiError(400, f"unable to decode protobuf body: {e}", "BadRequest") from e
