"""Scheduled reports in ``auditor serve``: APScheduler jobs on the config's crons, from the newest scan.

The trigger uses Velero's cron dialect (the same parser as the schedules it audits), so ``@every 1h``,
``@weekly`` and ``CRON_TZ=Europe/Berlin 0 6 * * 1`` mean what they mean everywhere else in the tool.
Jobs coalesce, never overlap, and a run missed during downtime runs once after it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from auditor.config import ScheduledReport
from auditor.errors import AuditorError
from auditor.model.cron import Cron, parse_cron
from auditor.output.report.writer import write_reports
from auditor.server.state import Current

log = logging.getLogger(__name__)


class VeleroCronTrigger(BaseTrigger):  # type: ignore[misc]
    """An APScheduler trigger over :class:`auditor.model.cron.Cron`."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.cron: Cron = parse_cron(expression)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        return self.cron.next_after((previous_fire_time or now).astimezone(UTC))

    def __str__(self) -> str:
        return f"cron[{self.expression}]"


class ReportScheduler:
    """Writes each scheduled report into ``out/<name>/`` from the newest published scan."""

    def __init__(self, reports: tuple[ScheduledReport, ...], current: Current) -> None:
        self.reports = reports
        self.current = current
        self.scheduler = BackgroundScheduler(timezone=UTC)
        for report in reports:
            self.scheduler.add_job(self.write, VeleroCronTrigger(report.cron), args=[report], id=report.name,
                                   name=f"report {report.name}", coalesce=True, max_instances=1,
                                   misfire_grace_time=None, replace_existing=True)

    def start(self) -> None:
        if self.reports:
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def write(self, report: ScheduledReport) -> Any:
        snapshot = self.current.get()
        if not snapshot.ready:
            log.warning("report %s skipped: no scan has finished yet", report.name)
            return None
        try:
            manifest = write_reports(snapshot.data.result, report.formats, report.out / report.name,
                                     frameworks=(report.framework,) if report.framework else (),
                                     generated_by="auditor serve (scheduled report)")
        except AuditorError as exc:
            log.error("report %s failed: %s", report.name, exc)
            return None
        log.info("report %s written to %s", report.name, report.out / report.name)
        return manifest
