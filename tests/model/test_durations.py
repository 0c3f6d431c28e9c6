"""One duration parser, two dialects: Go's (Velero's fields) and ours (settings, with days and weeks)."""

from __future__ import annotations

import pytest

from auditor.model.durations import GO_MAX_DURATION_SECONDS, format_duration, go_duration_seconds, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("720h0m0s", 720 * 3600.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("250ms", 0.25), ("1500us", 0.0015),
    ("3µs", 3e-6), ("10ns", 1e-8), ("0", 0.0), ("", 0.0), (" 45s ", 45.0),
])
def test_go_dialect_reads_velero_durations(text: str, seconds: float) -> None:
    assert go_duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["7d", "2w", "1h 30m", "h", "-1h", "1y", "9" * 101, "2562048h"])
def test_go_dialect_refuses_what_go_refuses(text: str) -> None:
    assert go_duration_seconds(text) is None


def test_go_dialect_cap_is_int64_nanoseconds() -> None:
    assert go_duration_seconds("2562047h") is not None
    assert pytest.approx(2562047.788 * 3600, rel=1e-6) == GO_MAX_DURATION_SECONDS


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800.0), ("1h30m", 5400.0), ("7d", 604800.0), ("2w", 1209600.0), ("1d12h", 129600.0),
    ("500ms", 0.5), ("720h0m0s", 720 * 3600.0), ("10ns", 1e-8),
])
def test_user_dialect_has_go_units_plus_days_and_weeks(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty duration"), ("  ", "empty duration"), ("7 days", "not a duration: '7 days'"),
    ("1y", "not a duration: '1y'"), ("d", "not a duration: 'd'"), ("0", "not a duration: '0'"),
])
def test_user_dialect_names_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_format_is_compact() -> None:
    assert [format_duration(s) for s in (0, 30, 2700, 187200, 90061)] == ["0s", "30s", "45m", "2d4h", "1d1h"]
