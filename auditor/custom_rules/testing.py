"""``auditor rules test DIR``: each custom rule's inline ``tests:`` (subject entries and expected outcomes)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from auditor.custom_rules.evaluate import judge
from auditor.custom_rules.loader import CustomRule, RuleTest
from auditor.errors import ConfigError
from auditor.model.time import parse_time


@dataclass(frozen=True)
class TestResult:
    rule_id: str
    name: str
    ok: bool
    detail: str  # what happened (and what was expected, when it differs)


def run_tests(rules: Sequence[CustomRule], now: datetime | None = None) -> Iterator[TestResult]:
    """Every test of every rule; a test without ``as_of`` is judged at ``now``."""
    clock = now or datetime.now(UTC).replace(microsecond=0)
    for rule in rules:
        for index, test in enumerate(rule.tests, 1):
            yield run_test(rule, test, index, clock)


def run_test(rule: CustomRule, test: RuleTest, index: int, now: datetime) -> TestResult:
    name = test.name or f"test {index}"
    as_of = now
    if test.as_of is not None:
        try:
            as_of = parse_time(test.as_of)
        except ValueError:
            raise ConfigError(f"{rule.path}: key tests.{index - 1}.as_of: not an RFC 3339 time: "
                              f"{test.as_of!r}") from None
    entry = getattr(test, rule.subject) or {}
    _, outcome = judge([rule], rule.subject, entry, as_of)[0]
    got = outcome.status + (f": {outcome.message}" if outcome.message else "")
    if outcome.status != test.expect:
        return TestResult(rule.id, name, False, f"expected {test.expect}, got {got}")
    if test.message is not None and outcome.message != test.message:
        return TestResult(rule.id, name, False, f"expected the message {test.message!r}, got {outcome.message!r}")
    return TestResult(rule.id, name, True, got)
