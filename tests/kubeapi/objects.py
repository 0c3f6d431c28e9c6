"""Object helpers shared by the API verbs, seeding and the test-helper methods.

Turning a dict into a stored `Entry` (serialising once), server-owned metadata, timestamps, name
validation and YAML/JSON body decoding live here so every write path applies the same rules.
"""

from __future__ import annotations

import re
import secrets
import string
import time
import uuid
from typing import Any

import orjson
import yaml

from . import protobuf
from .errors import ApiError, bad_request, invalid
from .resources import ResourceType
from .selectors import extract_fields
from .store import Entry


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML loader that keeps timestamps as strings (the apiserver's sigs.k8s.io/yaml does)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ALNUM = string.ascii_lowercase + string.digits


def yaml_docs(data: bytes | str) -> list[Any]:
    """All documents of a (multi-document) YAML text, timestamps kept as strings."""
    return [d for d in yaml.load_all(data, Loader=_Loader) if d is not None]


def now_rfc3339() -> str:
    """Server timestamps: RFC3339, UTC, seconds precision, `Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def random_suffix(n: int = 5) -> str:
    """generateName suffix (the apiserver uses 5 lowercase alphanumerics)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def new_uid() -> str:
    """metadata.uid for a created object."""
    return str(uuid.uuid4())


def decode_body(raw: bytes, content_type: str) -> Any:
    """Parse a request body as JSON or YAML; malformed input is a 400 like the apiserver's."""
    ct = content_type.split(";", 1)[0].strip().lower()
    if ct == protobuf.CONTENT_TYPE:
        return protobuf.decode(raw)
    if "yaml" in ct:
        try:
            docs = yaml_docs(raw)
        except yaml.YAMLError as e:
            raise bad_request(f"error decoding YAML: {e}") from e
        return docs[0] if docs else None
    if ct and "json" not in ct and ct != "*/*":
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types "
            f'include: application/json, application/yaml (got "{ct}")',
            "UnsupportedMediaType",
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise bad_request(f"couldn't get version/kind; json parse error: {e}") from e


def validate_name(rt: ResourceType, name: str) -> None:
    """Names must be DNS subdomains (the rule most types use)."""
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise invalid(
            rt.kind,
            rt.group,
            name,
            "metadata.name",
            f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
            "characters, '-' or '.', and must start and end with an alphanumeric character",
        )


def make_entry(rt: ResourceType, obj: dict[str, Any], rv: int) -> Entry:
    """Serialise a stored revision (apiVersion/kind of the storage version, resourceVersion set)."""
    obj["apiVersion"] = rt.storage_api_version
    obj["kind"] = rt.kind
    meta = obj.setdefault("metadata", {})
    meta["resourceVersion"] = str(rv)
    labels = meta.get("labels")
    return Entry(
        meta.get("namespace") or "",
        meta.get("name") or "",
        orjson.dumps(obj),
        labels if isinstance(labels, dict) else {},
        extract_fields(obj, rt.field_selectors) if rt.field_selectors else None,
        rv,
    )


def served_bytes(entry: Entry, rt: ResourceType) -> bytes:
    """The object's JSON as served under `rt`'s version (no schema conversion, apiVersion only)."""
    if rt.version == (rt.storage_version or rt.version):
        return entry.data
    obj = entry.obj()
    obj["apiVersion"] = rt.api_version
    return orjson.dumps(obj)


def served_obj(entry: Entry, rt: ResourceType) -> dict[str, Any]:
    """The object's dict as served under `rt`'s version."""
    obj = entry.obj()
    obj["apiVersion"] = rt.api_version
    return obj


def spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything generation tracks: the object minus metadata, status, kind and apiVersion."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def int_rv(value: Any) -> int | None:
    """A resourceVersion as int, or None if it is not a non-negative integer string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def require_object(body: Any) -> dict[str, Any]:
    """Request bodies for create/update must be JSON objects."""
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be an object")
    meta = body.get("metadata")
    if meta is None:
        body["metadata"] = {}
    elif not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    return body
