"""The jinja2 environment shared by the HTML and PDF reports: autoescape on, strict, explicit filters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from auditor.model.durations import format_duration

T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def templates_dir() -> Path:
    """``reports/templates`` of a source checkout, or the copy shipped inside the wheel."""
    source = Path(__file__).resolve().parents[3] / "reports" / "templates"
    if source.is_dir():
        return source
    return Path(str(resources.files("auditor") / "_catalog" / "templates"))


def clean(value: Any) -> Any:
    """Control characters from the cluster are dropped before escaping (they break XML and some viewers)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _CONTROL.sub("", value)
    return value


def num(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,}"


def pct(value: float | None, empty: str = "not evaluated") -> str:
    return empty if value is None else f"{value:.1%}"


def when(value: datetime | date | None, empty: str = "—") -> str:
    if value is None:
        return empty
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def duration(seconds: float | None, empty: str = "—") -> str:
    return empty if seconds is None else format_duration(seconds)


def take(items: Sequence[T], cap: int | None) -> tuple[Sequence[T], int]:
    """The first ``cap`` items and how many were left out (``cap`` None: all)."""
    if cap is None or len(items) <= cap:
        return items, 0
    return items[:cap], len(items) - cap


@lru_cache(maxsize=4)
def environment(directory: Path | None = None) -> Environment:
    env = Environment(loader=FileSystemLoader(str(directory or templates_dir())), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=clean,
                      extensions=["jinja2.ext.do"])
    env.filters.update(num=num, pct=pct, when=when, duration=duration)
    env.globals.update(take=take)
    return env
