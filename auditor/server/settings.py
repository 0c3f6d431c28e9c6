"""The serve process's own settings (flags or ``AUDITOR_SERVE_*`` variables); the audit policy stays in --config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.errors import ConfigError
from auditor.model.durations import parse_duration

MIN_INTERVAL = 1.0


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 9750
    interval: float = 300.0  # full rescan, whatever the events
    per_volume_metrics: bool = True
    watch: bool = True  # live clusters only
    quiet: float = 0.2  # an event burst is over once no event came for this long...
    max_delay: float = 1.0  # ...or this long after its first event, whichever comes first
    watch_timeout: int = 300  # server-side timeoutSeconds of one watch request
    shutdown_grace: float = 10.0  # how long SIGTERM waits for a running scan
    api_token_file: Path | None = None  # static bearer token of the data API (outside a cluster)
    api_auth_kubernetes: bool = False  # data API callers reviewed by the API server (TokenReview + SAR)
    tls_cert_file: Path | None = None  # HTTPS with these two
    tls_key_file: Path | None = None
    pending_writes: int = 50  # scans kept in memory while the store is down (history.pending_writes)

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6HOST]:PORT``; port 0 picks a free port."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9750 or 0.0.0.0:9750")
    return host, int(port)


def parse_interval(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"--interval: {exc}") from None
    if seconds < MIN_INTERVAL:
        raise ConfigError(f"--interval {text!r}: must be at least {MIN_INTERVAL:g}s")
    return seconds


def settings_from_flags(listen: str, interval: str, per_volume_metrics: bool, watch: bool, *,
                        api_token_file: Path | None = None, api_auth_kubernetes: bool = False,
                        tls_cert_file: Path | None = None, tls_key_file: Path | None = None) -> ServeSettings:
    host, port = parse_listen(listen)
    return ServeSettings(host=host, port=port, interval=parse_interval(interval),
                         per_volume_metrics=per_volume_metrics, watch=watch, api_token_file=api_token_file,
                         api_auth_kubernetes=api_auth_kubernetes, tls_cert_file=tls_cert_file,
                         tls_key_file=tls_key_file)
