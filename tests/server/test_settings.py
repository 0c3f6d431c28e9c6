"""The serve flags: listen addresses and intervals, with one-line errors."""

from __future__ import annotations

import pytest

from auditor.errors import ConfigError
from auditor.server.settings import ServeSettings, parse_interval, parse_listen, settings_from_flags


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9750", ("127.0.0.1", 9750)), ("0.0.0.0:0", ("0.0.0.0", 0)), ("[::]:9750", ("::", 9750)),
    ("localhost:80", ("localhost", 80)),
])
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9750", ":9750", "host:", "host:port", "host:70000", "[::]"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ConfigError, match="expected HOST:PORT"):
        parse_listen(text)


def test_intervals() -> None:
    assert parse_interval("5m") == 300.0
    assert parse_interval("1h30m") == 5400.0
    with pytest.raises(ConfigError, match="at least 1s"):
        parse_interval("500ms")
    with pytest.raises(ConfigError, match="not a duration"):
        parse_interval("often")


def test_settings_from_flags() -> None:
    settings = settings_from_flags("[::1]:9750", "10m", False, True)
    assert settings == ServeSettings(host="::1", port=9750, interval=600.0, per_volume_metrics=False, watch=True)
    assert settings.listen == "[::1]:9750"
