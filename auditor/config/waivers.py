"""Waivers (``exceptions:`` in the config, or an ``--exceptions FILE``): who may silence which finding, why,
and until when. How they are applied to findings is :mod:`auditor.analyse.exceptions`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import Field, field_validator, model_validator

from auditor.config.base import Strict

DEFAULT_MAX_DAYS = 365


class Selector(Strict):
    """Which subjects a waiver covers; every given part must match."""

    cluster: str = "*"  # glob
    namespace: str = "*"  # glob; cluster-scoped subjects match "*" only
    kind: str | None = None
    name: str = ".*"  # regular expression, matched in full
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value


class ExceptionRule(Strict):
    """One waiver. ``expires`` is a date (the exception holds through that day, UTC)."""

    id: str | None = None
    rules: tuple[str, ...] = Field(min_length=1)
    selector: Selector = Selector()
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires: date | None = None
    source: str = "config"
    #: why an annotation waiver was rejected (it then matches nothing and GOV-004 reports it)
    invalid: str | None = None

    @property
    def key(self) -> str:
        return self.id or f"{','.join(self.rules)}@{self.selector.cluster}/{self.selector.namespace}/" \
                          f"{self.selector.kind or '*'}/{self.selector.name}"

    def expired(self, as_of: datetime) -> bool:
        return self.expires is not None and as_of > datetime.combine(self.expires, time.max, tzinfo=UTC)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.key, "rules": list(self.rules), "selector": self.selector.model_dump(),
                "reason": self.reason, "owner": self.owner,
                "expires": self.expires.isoformat() if self.expires else None, "source": self.source,
                "scope": self.scope, **({"invalid": self.invalid} if self.invalid else {})}

    @property
    def scope(self) -> str:
        """The selector as the user wrote it: an annotation waiver names its own object (no regex escapes)."""
        sel = self.selector
        name = self.id.rsplit("/", 1)[-1] if self.source == "annotation" and self.id else sel.name
        return "/".join((sel.cluster, sel.namespace, sel.kind or "*", name))


class ExceptionsConfig(Strict):
    """``exceptions:`` — the waivers and how they are governed. A plain list is read as the waivers."""

    waivers: tuple[ExceptionRule, ...] = ()
    #: waivers from object annotations: off unless the auditor's owner opts in (an annotator must not be able
    #: to silence the findings about their own objects)
    from_annotations: bool = False
    max_days: int = Field(default=DEFAULT_MAX_DAYS, ge=1)  # how far ahead any waiver may expire

    @model_validator(mode="before")
    @classmethod
    def _list_is_waivers(cls, value: Any) -> Any:
        return {"waivers": value} if isinstance(value, list | tuple) else value


class ExceptionsFile(Strict):
    """An ``--exceptions FILE``: ``exceptions: [{rules, selector, reason, owner, expires}]``."""

    exceptions: tuple[ExceptionRule, ...]
