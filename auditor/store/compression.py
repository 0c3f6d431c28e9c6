"""How a scan document is stored: zlib-compressed JSON (a medium cluster's 5 MB document is ~0.3 MB)."""

from __future__ import annotations

import zlib
from typing import Any

import orjson


def compress(document: dict[str, Any]) -> bytes:
    return zlib.compress(orjson.dumps(document), 6)


def decompress(blob: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(decompress_json(blob))
    return doc


def decompress_json(blob: bytes) -> bytes:
    """The document's JSON, not parsed (the fleet report parses only the parts it reads)."""
    return zlib.decompress(blob)
