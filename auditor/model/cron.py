"""Velero's cron dialect (robfig/cron ``ParseStandard``): 5 fields, ``@daily``-style descriptors,
``@every <duration>`` and a ``CRON_TZ=<zone>`` (or ``TZ=``) prefix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError

from auditor.model.durations import go_duration_seconds

DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
               "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Cron:
    expression: str  # the 5-field form ("" for @every)
    every: float | None  # seconds, for @every
    zone: ZoneInfo | None

    def next_after(self, t: datetime) -> datetime:
        """The first fire time after ``t``; CronError when there is none a datetime can hold (a cron that
        matches no date, or a time near the ends of the calendar)."""
        try:
            if self.every is not None:
                # robfig's ConstantDelaySchedule: next = t + delay, rounded down to the second
                return (t + timedelta(seconds=self.every)).replace(microsecond=0)
            return _next_fire(self.expression, self.zone or UTC, t)
        except (CroniterError, OverflowError, ValueError) as exc:
            raise CronError(f"no fire time after {t:%Y-%m-%dT%H:%M:%SZ}: {exc}") from None

    def interval_at(self, t: datetime) -> float:
        """Seconds between the two fire times that follow ``t`` (Velero's expected interval)."""
        first = self.next_after(t)
        return (self.next_after(first) - first).total_seconds()

    def fires_between(self, start: datetime, end: datetime, cap: int = 3) -> int:
        """Fire times in (start, end], counted up to ``cap``."""
        if self.every is not None:
            return min(cap, int((end - start).total_seconds() // self.every)) if self.every > 0 else 0
        count, t = 0, start
        while count < cap:
            t = self.next_after(t)
            if t > end:
                break
            count += 1
        return count


@lru_cache(maxsize=4096)
def _next_fire(expression: str, zone: tzinfo, t: datetime) -> datetime:
    """The fire time after the instant ``t``. Cached: schedules share a few expressions, and the scan asks each
    for the same fire times (its interval at the scan time, its missed runs) from the rules and the document;
    a croniter costs ~1 ms to build."""
    it = croniter(expression, t.astimezone(zone))
    return it.get_next(datetime).astimezone(UTC)  # type: ignore[no-any-return]


def parse_cron(text: str) -> Cron:
    spec = text.strip()
    zone = None
    if spec.startswith(("CRON_TZ=", "TZ=")):
        head, _, spec = spec.partition(" ")
        name = head.split("=", 1)[1]
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise CronError(f"unknown time zone {name!r}") from None
        spec = spec.strip()
    if spec.startswith("@every"):
        seconds = go_duration_seconds(spec.removeprefix("@every").strip())
        if not seconds or seconds < 0:  # Go's ParseDuration also refuses what overflows int64 nanoseconds
            raise CronError(f"invalid @every duration in {text!r}")
        return Cron("", seconds, zone)
    spec = DESCRIPTORS.get(spec, spec)
    if len(spec.split()) != 5:
        raise CronError(f"expected 5 fields in {text!r}")
    try:
        croniter(spec)
    except (CroniterError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise CronError(f"invalid schedule {text!r}: {exc}") from None
    cron = Cron(spec, None, zone)
    try:
        cron.next_after(PROBE)
    except CronError:
        raise CronError(f"schedule {text!r} matches no date: it never fires") from None
    return cron


#: Where a cron is tried once: a date that matches no day in the following 50 years never comes.
PROBE = datetime(2001, 1, 1, tzinfo=UTC)
