"""The state of each Velero schedule: enabled or not, its cron, its backups and how they went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from auditor.analyse.velero_plan import SpecContext
from auditor.analyse.velero_server import VeleroServer
from auditor.model.cron import Cron, CronError, parse_cron
from auditor.model.inventory import Inventory
from auditor.model.tools import velero

TERMINAL = frozenset({"Completed", "PartiallyFailed", "Failed", "FailedValidation"})
USABLE = frozenset({"Completed", "PartiallyFailed"})
IN_FLIGHT = frozenset({"", "New", "Queued", "ReadyToStart", "InProgress", "WaitingForPluginOperations",
                       "WaitingForPluginOperationsPartiallyFailed", "Finalizing", "FinalizingPartiallyFailed"})


def backup_time(b: velero.Backup) -> datetime | None:
    """When a backup's data was captured: its start, else its creation."""
    return b.started or b.meta.created


@dataclass(frozen=True)
class ScheduleState:
    schedule: velero.Schedule
    ctx: SpecContext
    cron: Cron | None
    cron_error: str | None
    backups: tuple[velero.Backup, ...]  # newest first

    @cached_property
    def key(self) -> str:
        """One string per schedule: every volume it covers names it (``covered_by``, ``captures``)."""
        return self.schedule.meta.key

    @property
    def paused(self) -> bool:
        return self.schedule.paused

    @property
    def failed_validation(self) -> bool:
        return self.schedule.phase == "FailedValidation"

    @cached_property
    def enabled(self) -> bool:
        """Running on its cron: not paused, not invalid. Only enabled schedules cover volumes."""
        return not self.paused and not self.failed_validation and self.cron is not None

    @property
    def latest(self) -> velero.Backup | None:
        return self.backups[0] if self.backups else None

    @property
    def latest_terminal(self) -> velero.Backup | None:
        return next((b for b in self.backups if b.phase in TERMINAL), None)

    @property
    def last_success(self) -> velero.Backup | None:
        return next((b for b in self.backups if b.phase == "Completed"), None)

    @property
    def last_usable(self) -> velero.Backup | None:
        return next((b for b in self.backups if b.phase in USABLE), None)

    def interval(self, at: datetime) -> float | None:
        if not self.cron:
            return None
        try:
            return self.cron.interval_at(at)
        except CronError:  # no fire time a datetime can hold: no interval either
            return None

    def missed_runs(self, as_of: datetime) -> int:
        """Fire times since the newest backup was created (or the schedule, if none), capped at 3."""
        if not self.cron:
            return 0
        latest = self.latest
        since = (latest.meta.created if latest else None) or self.schedule.last_backup or self.schedule.meta.created
        if since is None or since >= as_of:
            return 0
        try:
            return self.cron.fires_between(since, as_of)
        except CronError:
            return 0


def schedule_states(inv: Inventory, servers: dict[str, VeleroServer]) -> dict[str, ScheduleState]:
    states = {}
    for s in inv.schedules:
        ns = s.meta.namespace or ""
        try:
            cron, error = parse_cron(s.cron), None
        except CronError as exc:
            cron, error = None, str(exc)
        ctx = SpecContext(spec=s.template, velero_namespace=ns, server=servers.get(ns),
                          subject=f"schedule {s.meta.key}")
        states[s.meta.key] = ScheduleState(s, ctx, cron, error, inv.backups_by_schedule.get((ns, s.meta.name), ()))
    return states
