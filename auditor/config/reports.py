"""``reports:`` — the reports ``auditor serve`` writes from its newest scan, each on its cron."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from auditor import formats
from auditor.config.base import Strict, cron_expression


class ScheduledReport(Strict):
    """A report ``auditor serve`` writes on a cron (Velero's dialect: 5 fields, @daily, @every, CRON_TZ=)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    cron: str
    formats: tuple[str, ...] = ("html", "pdf")
    out: Path
    framework: str | None = None

    _cron = field_validator("cron")(classmethod(lambda cls, v: cron_expression(v)))

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = formats.file_names()  # the registered report formats (auditor/output/formats/)
        unknown = [f for f in value if f not in known]
        if unknown or not value:
            raise ValueError(f"formats must be among {', '.join(known)} (got {', '.join(unknown) or 'none'})")
        return value
