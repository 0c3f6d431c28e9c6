"""Typed, path-aware reads of raw Kubernetes objects.

Every record in the inventory is built through :class:`FieldReader`, so a malformed object
(a string where a list belongs, a missing name) becomes an :class:`InputError` that names the
file, the object and the field, never a ``KeyError`` traceback.
"""

from __future__ import annotations

import builtins
import sys
from datetime import datetime
from functools import lru_cache
from typing import Any

from auditor.errors import InputError
from auditor.model.time import parse_time

JSON = dict[str, Any]
_intern = sys.intern


@lru_cache(maxsize=512)
def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


class FieldReader:
    """Reads fields of one raw object by dotted path, checking types as it goes."""

    __slots__ = ("file", "raw")

    def __init__(self, raw: Any, file: builtins.str | None = None) -> None:
        self.file = file
        if not isinstance(raw, dict):
            raise InputError(f"expected an object, got {type(raw).__name__}", file=file)
        self.raw: JSON = raw
        meta = raw.get("metadata")
        if not isinstance(meta, dict):
            raise InputError("object has no metadata", file=file, obj=_describe(raw), field="metadata")
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise InputError("object has no name", file=file, obj=_describe(raw), field="metadata.name")

    @property
    def obj(self) -> builtins.str:
        """How errors name the object (``Kind namespace/name``); built only when an error is raised."""
        return _describe(self.raw)

    def error(self, path: builtins.str, message: builtins.str) -> InputError:
        return InputError(message, file=self.file, obj=self.obj, field=path)

    def get(self, path: builtins.str) -> Any:
        node: Any = self.raw
        for key in _split(path):
            if type(node) is not dict:  # the hot path: every field of every object comes through here
                if node is None:
                    return None
                if not isinstance(node, dict):
                    raise self._not_an_object(path)
            node = node.get(key)
        return node

    def _not_an_object(self, path: builtins.str) -> InputError:
        node: Any = self.raw
        walked: list[builtins.str] = []
        for key in _split(path):
            if node is not None and not isinstance(node, dict):
                break
            node = None if node is None else node.get(key)
            walked.append(key)
        return self.error(".".join(walked) if walked else path,  # the field that is not an object
                          f"expected an object, got {type(node).__name__}")

    def str(self, path: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        value = self.get(path)
        if value is None:
            return default
        if type(value) is str:
            return _intern(value)  # shared: most strings repeat across objects, and none then pins its page
        if isinstance(value, str):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(path, f"expected a string, got {type(value).__name__}")
        return str(value)

    def req_str(self, path: builtins.str) -> builtins.str:
        value = self.str(path)
        if value is None:
            raise self.error(path, "required field is missing")
        return value

    def bool(self, path: builtins.str) -> builtins.bool | None:
        value = self.get(path)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.error(path, f"expected a boolean, got {value!r:.40}")

    def int(self, path: builtins.str, default: builtins.int | None = None) -> builtins.int | None:
        value = self.get(path)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.lstrip("-").isdigit():
                return int(value)
            raise self.error(path, f"expected an integer, got {value!r:.40}")
        return value

    def list(self, path: builtins.str) -> builtins.list[Any]:
        value = self.get(path)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(path, f"expected a list, got {type(value).__name__}")
        return value

    def dict(self, path: builtins.str) -> JSON:
        value = self.get(path)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(path, f"expected an object, got {type(value).__name__}")
        return value

    def strs(self, path: builtins.str) -> tuple[builtins.str, ...]:
        items = self.list(path)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.error(f"{path}[{i}]", f"expected a string, got {type(item).__name__}")
        return tuple(items)

    def str_map(self, path: builtins.str) -> builtins.dict[builtins.str, builtins.str]:
        value = self.dict(path)
        for key, item in value.items():
            if not isinstance(item, str):
                if isinstance(item, bool | builtins.int | float):
                    return {k: _scalar(v) for k, v in value.items()}
                raise self.error(f"{path}.{key}", f"expected a string, got {type(item).__name__}")
        return value

    def time(self, path: builtins.str) -> datetime | None:
        value = self.get(path)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.error(path, f"expected an RFC 3339 timestamp, got {type(value).__name__}")
        try:
            return parse_time(value)
        except ValueError:
            raise self.error(path, f"not an RFC 3339 timestamp: {value!r:.40}") from None

    def sub(self, value: Any, path: builtins.str) -> SubReader:
        """A reader over a nested object (a list item), reporting errors with the full path."""
        if not isinstance(value, dict):
            raise self.error(path, f"expected an object, got {type(value).__name__}")
        return SubReader(self, value, path)

    # common metadata
    @property
    def name(self) -> builtins.str:
        return self.raw["metadata"]["name"]  # type: ignore[no-any-return]

    @property
    def namespace(self) -> builtins.str | None:
        return self.str("metadata.namespace")


class SubReader(FieldReader):
    """A reader over a nested object that reports the parent's object and the full field path."""

    __slots__ = ("parent", "prefix")

    def __init__(self, parent: FieldReader, raw: JSON, prefix: str) -> None:
        self.file = parent.file
        self.parent = parent
        self.raw = raw
        self.prefix = prefix

    @property
    def obj(self) -> str:
        return self.parent.obj

    def error(self, path: str, message: str) -> InputError:
        return InputError(message, file=self.file, obj=self.obj, field=f"{self.prefix}.{path}" if path else self.prefix)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(raw: JSON) -> str:
    kind = raw.get("kind") if isinstance(raw.get("kind"), str) else "object"
    meta: JSON = raw["metadata"] if isinstance(raw.get("metadata"), dict) else {}
    name = meta.get("name") if isinstance(meta.get("name"), str) else "<no name>"
    ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
    return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"
