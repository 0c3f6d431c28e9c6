"""Compliance frameworks as data (``rules/frameworks/*.yaml``): controls mapped to rules, and scores.

Score: the share of evaluated rule × subject checks that pass. Coverage score: the share of checks that
could be evaluated at all. "Not evaluated" never counts as a pass; excepted checks are reported apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class ResultLike(Protocol):
    """A rule × subject result (``auditor.model.rules.Finding``)."""

    @property
    def rule_id(self) -> str: ...

    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class ControlResult:
    framework: str
    control_id: str
    title: str
    rules: tuple[str, ...]
    status: str  # pass | fail | not-evaluated | excepted
    passed: int
    failed: int
    not_evaluated: int
    excepted: int


@dataclass(frozen=True)
class FrameworkScore:
    framework: str  # iso27001 | nist-800-53 | soc2 | hipaa | pci-dss | dora
    name: str
    score: float | None  # passed / (passed + failed), None when nothing could be evaluated
    coverage: float | None  # evaluated / all checks
    controls: tuple[ControlResult, ...]
    passed: int = 0  # distinct rule × subject checks (a rule shared by controls counts once)
    failed: int = 0
    checks: int = 0


class Control(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    description: str
    rules: tuple[str, ...]


class Framework(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    controls: tuple[Control, ...]


def score(framework: Framework, results: Iterable[ResultLike]) -> FrameworkScore:
    """Score one cluster's rule × subject results against a framework's controls (counts per rule and status:
    a large cluster has ~80,000 results and six frameworks score them)."""
    return score_counts(framework, status_counts(results))


StatusCounts = dict[str, Counter[str]]  # rule id -> status -> results


def status_counts(results: Iterable[ResultLike]) -> StatusCounts:
    """How many results each rule has in each status: all that scoring needs, counted once per cluster."""
    by_rule: StatusCounts = {}
    for r in results:
        counts = by_rule.get(r.rule_id)
        if counts is None:
            counts = by_rule[r.rule_id] = Counter()
        counts[r.status] += 1
    return by_rule


def score_counts(framework: Framework, by_rule: StatusCounts) -> FrameworkScore:
    """:func:`score` from :func:`status_counts`."""
    none: Counter[str] = Counter()
    controls = []
    for control in framework.controls:
        statuses: Counter[str] = Counter()
        for rule in control.rules:
            statuses.update(by_rule.get(rule, none))
        passed, failed = statuses["pass"], statuses["open"]
        excepted, not_evaluated = statuses["excepted"], statuses["not-evaluated"] + statuses["error"]
        status = ("fail" if failed else "pass" if passed else "excepted" if excepted else "not-evaluated")
        controls.append(ControlResult(framework.id, control.id, control.title, control.rules, status, passed, failed,
                                      not_evaluated, excepted))
    counted: Counter[str] = Counter()  # each rule's checks count once per framework
    for rule in dict.fromkeys(rule for control in framework.controls for rule in control.rules):
        counted.update(by_rule.get(rule, none))
    passed, failed = counted["pass"], counted["open"]
    evaluated = passed + failed + counted["excepted"]
    checks = sum(counted.values())
    return FrameworkScore(
        framework=framework.id, name=framework.name,
        score=round(passed / (passed + failed), 4) if passed + failed else None,
        coverage=round(evaluated / checks, 4) if checks else None,
        controls=tuple(controls), passed=passed, failed=failed, checks=checks)
