"""How a scan document is stored: zlib-compressed JSON (a medium cluster's 5 MB document is ~0.3 MB)."""

from __future__ import annotations

import zlib
from typing import Any

import orjson


def compress(document: dict[str, Any]) -> bytes:
    return zlib.compress(orjson.dumps(document), 6)


def decompress(blob: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(zlib.decompress(blob))
    return doc
