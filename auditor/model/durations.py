"""Durations, read by one parser in two named dialects.

- ``go_duration_seconds``: Go's ``time.ParseDuration`` as Velero reads a Backup's or Schedule's ``ttl``,
  ``@every`` crons and server flags (``720h0m0s``; units ns, us, µs, ms, s, m, h; None when Go refuses it).
- ``parse_duration``: what users write in our own settings, Go's units plus days and weeks (``30m``,
  ``1h30m``, ``7d``, ``2w``); raises ValueError naming what is wrong.
"""

from __future__ import annotations

import re

#: Go's units, in seconds.
GO_UNITS: dict[str, float] = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
#: Ours: Go's, plus days and weeks.
USER_UNITS: dict[str, float] = {**GO_UNITS, "d": 86400.0, "w": 604800.0}

#: Go's time.Duration is int64 nanoseconds: ParseDuration rejects anything longer (about 292 years).
GO_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9


def _pattern(units: dict[str, float]) -> re.Pattern[str]:
    names = "|".join(sorted(units, key=len, reverse=True))  # "ms" before "m", "ns" before "s"
    return re.compile(rf"(\d+(?:\.\d+)?)({names})")


_GO = _pattern(GO_UNITS)
_USER = _pattern(USER_UNITS)


def _seconds(text: str, pattern: re.Pattern[str], units: dict[str, float]) -> float | None:
    """The sum of ``text``'s number-unit parts; None unless the parts cover the whole text."""
    pos, total = 0, 0.0
    for match in pattern.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * units[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos else None


def go_duration_seconds(text: str) -> float | None:
    """Seconds in a Go duration string (``720h0m0s``); None when it is not one, as Go's ParseDuration
    says (also when it overflows int64 nanoseconds)."""
    text = text.strip()
    if text in ("0", ""):
        return 0.0
    if len(text) > 100:
        return None
    total = _seconds(text, _GO, GO_UNITS)
    return None if total is None or total > GO_MAX_DURATION_SECONDS else total


def parse_duration(text: str) -> float:
    """Seconds in a duration of our settings (``30m``, ``1h30m``, ``7d``); raises ValueError naming what is
    wrong."""
    text = str(text).strip()
    if not text:
        raise ValueError("empty duration")
    total = _seconds(text, _USER, USER_UNITS)
    if total is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 1h30m, 7d)")
    return total


def format_duration(seconds: float) -> str:
    """A compact human form: ``2d4h``, ``45m``, ``30s``."""
    seconds = round(seconds)
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return "".join(parts)
