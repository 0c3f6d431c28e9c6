"""What every config model shares: strict keys, durations as users write them, ``NAMESPACE/NAME`` keys, and
field descriptions that are also the CLI's help where an option and a key mean the same thing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from auditor.model.cron import CronError, parse_cron
from auditor.model.durations import parse_duration

DEFAULT_RPO = 24 * 3600.0
DEFAULT_RETENTION = 7 * 86400.0


class Strict(BaseModel):
    """Unknown keys are errors (a typo must not silently fall back to a default); values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def duration(value: Any) -> float:
    """Seconds from a number or a duration (``30m``, ``1h30m``, ``7d``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_duration(str(value))


def optional_duration(value: Any) -> float | None:
    return None if value is None else duration(value)


def namespaced_key(value: str) -> str:
    namespace, sep, name = str(value).partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise ValueError(f"expected NAMESPACE/NAME, got {value!r}")
    return value


def help_text(model: type[BaseModel], field: str) -> str:
    """The field's description: one text for the config key and the CLI option that means the same."""
    description = model.model_fields[field].description
    if description is None:
        raise KeyError(f"{model.__name__}.{field} has no description")
    return description


def cron_expression(value: str) -> str:
    """A cron in Velero's dialect (5 fields, @daily, @every, CRON_TZ=), refused here when it cannot fire."""
    try:
        parse_cron(value)
    except CronError as exc:
        raise ValueError(str(exc)) from None
    return value
