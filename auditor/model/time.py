"""Timestamps as Kubernetes writes them (RFC 3339), read as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=4096)
def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp as Kubernetes writes it (``2026-11-20T12:00:00Z``).

    Cached: the backups of a schedule and their PodVolumeBackups repeat the same few timestamps, so a
    hit saves the parse and shares one (immutable) datetime between records."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
