"""``history:`` — where scans are recorded, how long they are kept, and what GOV-002 reports."""

from __future__ import annotations

from pydantic import Field, field_validator

from auditor.config.base import Strict, optional_duration


class Retention(Strict):
    """How much history the store keeps, per cluster; ``None`` switches a limit off (docs/history.md).

    The newest ``full_scans`` scans stay whole; older ones are reduced to one summary row per UTC day
    (``daily_summaries``), and nothing beyond ``max_scans`` rows or ``max_age`` is kept."""

    max_scans: int | None = Field(default=1000, ge=1)
    max_age: float | None = 400 * 86400.0
    full_scans: int | None = Field(default=100, ge=1)
    daily_summaries: bool = True

    _parse = field_validator("max_age", mode="before")(classmethod(lambda cls, v: optional_duration(v)))


class Weakening(Strict):
    """Which changes since the previous scan GOV-002 reports (all on by default)."""

    schedule_deleted: bool = True
    schedule_paused: bool = True
    ttl_reduced: bool = True
    cron_widened: bool = True
    namespaces_narrowed: bool = True
    selectors_narrowed: bool = True
    resources_narrowed: bool = True
    snapshots_disabled: bool = True
    volume_policy_skips: bool = True
    storage_location_changed: bool = True
    bsl_read_only: bool = True
    default_bsl_changed: bool = True
    velero_scaled_down: bool = True
    node_agent_removed: bool = True
    backup_deleted_early: bool = True


class HistoryConfig(Strict):
    """The history store (``history:``): where scans are recorded, how long they are kept, what GOV-002 reports."""

    store: str | None = None  # SQLAlchemy URL or SQLite file path; set, ``auditor scan`` records every scan
    retention: Retention = Retention()
    keep_open: float | None = 30 * 86400.0  # a weakening stays open until restored, at most this long
    pending_writes: int = Field(
        default=50, ge=1,
        description="Scans `auditor serve` keeps in memory while the history store cannot be reached, written in "
                    "order when it is back; beyond this the oldest is dropped, logged and counted "
                    "(backup_auditor_store_dropped_writes_total).")
    weakening: Weakening = Weakening()

    _parse = field_validator("keep_open", mode="before")(classmethod(lambda cls, v: optional_duration(v)))
