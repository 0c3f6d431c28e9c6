"""Compliance frameworks as data (``rules/frameworks/*.yaml``): controls mapped to rules, and scores.

Score: the share of evaluated rule × subject checks that pass. Coverage score: the share of checks that
could be evaluated at all. "Not evaluated" never counts as a pass; excepted checks are reported apart.
"""

from __future__ import annotations

from dataclasses import dataclass


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
