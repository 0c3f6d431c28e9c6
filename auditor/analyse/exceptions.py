"""Exceptions (waivers): a finding they match stays in the output with status ``excepted``.

Sources: the waivers of the audit config (``exceptions:``) or an ``--exceptions FILE``, and, only when the
config opts in (``exceptions.from_annotations: true``), object annotations ``backup-auditor.io/exempt:
"RULE,RULE"`` with ``-reason``, ``-owner`` and ``-expires`` companions: whoever may annotate an object must
not silence its findings unless the auditor's owner allows it. Every waiver is time-bound (``expires`` at
most ``exceptions.max_days`` ahead, :func:`check_terms`). An expired exception stops applying and raises
GOV-004; one that matches nothing raises GOV-005. A config waiver that breaks those terms is a configuration
error; an annotation waiver that does is cluster data, so it is rejected (it never applies: its findings stay
open) and GOV-004 reports it, while the scan of that cluster and the others goes on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from auditor.config.waivers import ExceptionRule, Selector
from auditor.errors import ConfigError
from auditor.model.globs import config_glob

ANNOTATION = "backup-auditor.io/exempt"


@dataclass(frozen=True)
class Subject:
    cluster: str
    kind: str
    namespace: str | None
    name: str
    labels: dict[str, str]


def matches(rule: ExceptionRule, rule_id: str, subject: Subject) -> bool:
    if rule.invalid:
        return False
    if "*" not in rule.rules and rule_id not in rule.rules:
        return False
    sel = rule.selector
    if not config_glob(subject.cluster, sel.cluster):
        return False
    namespace = subject.name if subject.kind == "Namespace" else subject.namespace
    if not config_glob(namespace or "", sel.namespace) and not (namespace is None and sel.namespace == "*"):
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
    #: unused waivers that match results the scan could not evaluate: whether they are used is unknown
    undetermined: tuple[ExceptionRule, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"matched": [{**e.as_dict(), "findings": n} for e, n in self.matched],
                "unused": [e.as_dict() for e in self.unused], "expired": [e.as_dict() for e in self.expired]}


def from_annotations(cluster: str, kind: str, namespace: str | None, name: str,
                     annotations: dict[str, str]) -> ExceptionRule | None:
    """An exception declared on the object itself (None without the annotation). An incomplete one (no rule,
    reason, owner or expiry date) is returned rejected (``invalid`` says which annotation): a waiver the scan
    silently dropped would reopen findings nobody expects, one it guessed would silence them, and one bad
    annotation must not stop the audit of everything else."""
    rules = annotations.get(ANNOTATION)
    if rules is None:
        return None
    parsed = tuple(r.strip() for r in rules.split(",") if r.strip())
    problem = None if parsed else f"annotation {ANNOTATION} names no rule"
    for suffix in ("-reason", "-owner", "-expires"):
        if problem is None and not annotations.get(f"{ANNOTATION}{suffix}", "").strip():
            problem = f"annotation {ANNOTATION}{suffix} is missing: every waiver needs a reason, an owner and an " \
                      "expiry date"
    day = None
    if problem is None:
        expires = annotations[f"{ANNOTATION}-expires"].strip()
        try:
            day = date.fromisoformat(expires)
        except ValueError:
            problem = f"annotation {ANNOTATION}-expires: not a date (YYYY-MM-DD): {expires!r}"
    return ExceptionRule(
        id=f"annotation:{cluster}/{kind}/{namespace + '/' if namespace else ''}{name}", rules=parsed or ("-",),
        selector=Selector(cluster=cluster, namespace=namespace or "*", kind=kind, name=re.escape(name)),
        reason=annotations.get(f"{ANNOTATION}-reason", "").strip() or "-",
        owner=annotations.get(f"{ANNOTATION}-owner", "").strip() or "-",
        expires=day, source="annotation", invalid=problem)


def check_terms(rules: list[ExceptionRule], as_of: datetime, max_days: int) -> list[ExceptionRule]:
    """Every waiver is time-bound: an ``expires`` date at most ``max_days`` after the scan's day. The first
    config waiver that is not is a configuration error naming it; an annotation waiver that is not comes back
    rejected (see the module's docstring). Returns the waivers, the rejected ones marked."""
    out = []
    for rule in rules:
        problem = rule.invalid or _term_problem(rule, as_of, max_days)
        if problem and rule.source != "annotation":
            raise ConfigError(f"waiver {rule.key} ({rule.source}): {problem}")
        out.append(rule.model_copy(update={"invalid": problem}) if problem != rule.invalid else rule)
    return out


def _term_problem(rule: ExceptionRule, as_of: datetime, max_days: int) -> str | None:
    if rule.expires is None:
        return f"no expires: every waiver needs an expiry date at most exceptions.max_days ({max_days}) days ahead"
    ahead = (rule.expires - as_of.date()).days
    if ahead > max_days:
        return (f"expires {rule.expires} is {ahead} days after the scan ({as_of.date()}), beyond "
                f"exceptions.max_days ({max_days})")
    return None


def apply(findings: list[Any], rules: list[ExceptionRule],
          subjects: Mapping[tuple[str, str, str | None, str], Subject],
          as_of: datetime) -> tuple[list[Any], ExceptionsReport]:
    """Mark matched findings ``excepted``; returns the new list and the register."""
    active = [r for r in rules if not r.expired(as_of) and not r.invalid]
    expired = [r for r in rules if r.expired(as_of) and not r.invalid]
    counts: dict[str, int] = {}
    unknown: set[str] = set()
    out = []
    for f in findings:
        # no active rule: the subjects are never looked up (nor built)
        if f.status not in ("open", *UNKNOWN_STATUSES) or not active:
            out.append(f)
            continue
        subject = subjects.get((f.cluster, f.kind, f.namespace, f.name)) or Subject(
            f.cluster, f.kind, f.namespace, f.name, {})
        if f.status != "open":  # a result the scan could not judge: a waiver it matches may be in use
            unknown.update(r.key for r in active if matches(r, f.rule_id, subject))
            out.append(f)
            continue
        hit = next((r for r in active if matches(r, f.rule_id, subject)), None)
        if hit is None:
            out.append(f)
            continue
        counts[hit.key] = counts.get(hit.key, 0) + 1
        out.append(msgspec.structs.replace(f, status="excepted", exception=hit.as_dict()))
    matched = tuple((r, counts[r.key]) for r in active if r.key in counts)
    unused = tuple(r for r in active if r.key not in counts)
    return out, ExceptionsReport(matched, unused, tuple(expired), tuple(r for r in unused if r.key in unknown))


UNKNOWN_STATUSES = ("not-evaluated", "error")
