"""Exceptions (waivers): a finding they match stays in the output with status ``excepted``.

Sources: the ``exceptions:`` list of the audit config or an ``--exceptions FILE``, and (unless switched
off) object annotations ``backup-auditor.io/exempt: "RULE,RULE"`` with ``-reason``, ``-owner`` and
``-expires`` companions. An expired exception stops applying and raises GOV-004.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

ANNOTATION = "backup-auditor.io/exempt"


class Selector(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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


class ExceptionRule(BaseModel):
    """One waiver. ``expires`` is a date (the exception holds through that day, UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = None
    rules: tuple[str, ...] = Field(min_length=1)
    selector: Selector = Selector()
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires: date | None = None
    source: str = "config"

    @property
    def key(self) -> str:
        return self.id or f"{','.join(self.rules)}@{self.selector.cluster}/{self.selector.namespace}/" \
                          f"{self.selector.kind or '*'}/{self.selector.name}"

    def expired(self, as_of: datetime) -> bool:
        return self.expires is not None and as_of > datetime.combine(self.expires, time.max, tzinfo=UTC)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.key, "rules": list(self.rules), "selector": self.selector.model_dump(),
                "reason": self.reason, "owner": self.owner,
                "expires": self.expires.isoformat() if self.expires else None, "source": self.source}


@dataclass(frozen=True)
class Subject:
    cluster: str
    kind: str
    namespace: str | None
    name: str
    labels: dict[str, str]


def matches(rule: ExceptionRule, rule_id: str, subject: Subject) -> bool:
    if "*" not in rule.rules and rule_id not in rule.rules:
        return False
    sel = rule.selector
    if not fnmatch.fnmatchcase(subject.cluster, sel.cluster):
        return False
    namespace = subject.name if subject.kind == "Namespace" else subject.namespace
    if not fnmatch.fnmatchcase(namespace or "", sel.namespace) and not (namespace is None and sel.namespace == "*"):
        return False
    if sel.kind and sel.kind != subject.kind:
        return False
    if not re.fullmatch(sel.name, subject.name):
        return False
    return all(subject.labels.get(k) == v for k, v in sel.labels.items())


@dataclass(frozen=True)
class ExceptionsReport:
    """Which exceptions matched findings, which matched nothing, which expired."""

    matched: tuple[tuple[ExceptionRule, int], ...]  # with the number of findings each excepted
    unused: tuple[ExceptionRule, ...]
    expired: tuple[ExceptionRule, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"matched": [{**e.as_dict(), "findings": n} for e, n in self.matched],
                "unused": [e.as_dict() for e in self.unused], "expired": [e.as_dict() for e in self.expired]}


def from_annotations(cluster: str, kind: str, namespace: str | None, name: str,
                     annotations: dict[str, str]) -> ExceptionRule | None:
    """An exception declared on the object itself; incomplete ones (no reason or owner) are ignored."""
    rules = annotations.get(ANNOTATION)
    if not rules:
        return None
    expires = annotations.get(f"{ANNOTATION}-expires")
    try:
        return ExceptionRule(
            id=f"annotation:{cluster}/{kind}/{namespace + '/' if namespace else ''}{name}",
            rules=tuple(r.strip() for r in rules.split(",") if r.strip()),
            selector=Selector(cluster=cluster, namespace=namespace or "*", kind=kind, name=re.escape(name)),
            reason=annotations.get(f"{ANNOTATION}-reason", ""), owner=annotations.get(f"{ANNOTATION}-owner", ""),
            expires=date.fromisoformat(expires) if expires else None, source="annotation")
    except ValueError:
        return None


def apply(findings: list[Any], rules: list[ExceptionRule],
          subjects: Mapping[tuple[str, str, str | None, str], Subject],
          as_of: datetime) -> tuple[list[Any], ExceptionsReport]:
    """Mark matched findings ``excepted``; returns the new list and the register."""
    active = [r for r in rules if not r.expired(as_of)]
    expired = [r for r in rules if r.expired(as_of)]
    counts: dict[str, int] = {}
    out = []
    for f in findings:
        if f.status != "open" or not active:  # no active rule: the subjects are never looked up (nor built)
            out.append(f)
            continue
        subject = subjects.get((f.cluster, f.kind, f.namespace, f.name)) or Subject(
            f.cluster, f.kind, f.namespace, f.name, {})
        hit = next((r for r in active if matches(r, f.rule_id, subject)), None)
        if hit is None:
            out.append(f)
            continue
        counts[hit.key] = counts.get(hit.key, 0) + 1
        out.append(replace(f, status="excepted", exception=hit.as_dict()))
    matched = tuple((r, counts[r.key]) for r in active if r.key in counts)
    unused = tuple(r for r in active if r.key not in counts)
    return out, ExceptionsReport(matched, unused, tuple(expired))
