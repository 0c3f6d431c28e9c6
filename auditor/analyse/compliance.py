"""Compliance frameworks as data (``rules/frameworks/*.yaml``): controls mapped to rules, and scores.

Score: the share of evaluated rule × subject checks that pass. Coverage score: the share of checks that
could be evaluated at all. "Not evaluated" never counts as a pass; excepted checks are reported apart.
"""

from __future__ import annotations

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
    """Score one cluster's rule × subject results against a framework's controls."""
    by_rule: dict[str, list[str]] = {}
    for r in results:
        by_rule.setdefault(r.rule_id, []).append(r.status)
    controls = []
    seen: dict[tuple[str, int], str] = {}  # each rule's checks count once per framework
    for control in framework.controls:
        statuses = [s for rule in control.rules for s in by_rule.get(rule, [])]
        for rule in control.rules:
            for i, s in enumerate(by_rule.get(rule, [])):
                seen[(rule, i)] = s
        passed, failed = statuses.count("pass"), statuses.count("open")
        excepted, not_evaluated = statuses.count("excepted"), statuses.count("not-evaluated") + statuses.count("error")
        status = ("fail" if failed else "pass" if passed else "excepted" if excepted else "not-evaluated")
        controls.append(ControlResult(framework.id, control.id, control.title, control.rules, status, passed, failed,
                                      not_evaluated, excepted))
    all_statuses = list(seen.values())
    passed, failed = all_statuses.count("pass"), all_statuses.count("open")
    evaluated = passed + failed + all_statuses.count("excepted")
    return FrameworkScore(
        framework=framework.id, name=framework.name,
        score=round(passed / (passed + failed), 4) if passed + failed else None,
        coverage=round(evaluated / len(all_statuses), 4) if all_statuses else None,
        controls=tuple(controls), passed=passed, failed=failed, checks=len(all_statuses))
