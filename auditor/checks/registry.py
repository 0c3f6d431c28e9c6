"""The rule catalog (data, in ``rules/``) and the registry of checks that evaluate it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.analyse.coverage import ClusterAnalysis
from auditor.config.waivers import ExceptionRule
from auditor.errors import RuleLoadError
from auditor.model.rules import NO_EVIDENCE, Finding, Rule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """What spans the clusters of one run: credential fingerprints per cluster, and the exceptions."""

    fingerprint_clusters: dict[str, frozenset[str]] = field(default_factory=dict)
    exceptions: tuple[ExceptionRule, ...] = ()
    #: set for the rules that judge the other rules' results (GOV-005), once those ran and the waivers were
    #: applied on every cluster: findings each waiver excepted across the run, by key (None: not known yet)
    exception_use: Mapping[str, int] | None = None
    exception_unknown: frozenset[str] = frozenset()  # waivers that match results the scan could not judge
    evaluated_rules: frozenset[str] | None = None  # the rules this run evaluated (None: the whole catalog)
    unreadable_clusters: tuple[str, ...] = ()  # clusters of the run that could not be read at all
    preflights: tuple[Any, ...] = ()  # auditor serve's restore preflight outcomes (PRE-001; server/preflight.py)
    catalog: tuple[Rule, ...] = ()  # the whole rule catalog: GOV-005 evaluates the rules the waivers name
    #: the clusters the history store knows (``auditor.analyse.fleet.AgentState``: GOV-006, GOV-007); None when
    #: the scan has no store, so nothing is known about other agents
    fleet: tuple[Any, ...] | None = None
    #: why a configured store could not show the fleet (GOV-006/007 are then "not evaluated", never passed)
    fleet_unknown: str | None = None


@dataclass(frozen=True)
class CheckContext:
    """What a check sees: one cluster's analysis, its rule and the rule's parameters."""

    analysis: ClusterAnalysis
    rule: Rule
    params: dict[str, Any]
    run: RunContext = field(default_factory=RunContext)

    def finding(self, kind: str, namespace: str | None, name: str, message: str, **evidence: Any) -> Finding:
        return Finding(self.rule.id, self.rule.severity, self.analysis.inventory.cluster, kind, namespace, name,
                       message, evidence)

    def passed(self, kind: str, namespace: str | None, name: str) -> Finding:
        """A subject the rule evaluated and found compliant (counted for scores and JUnit)."""
        return Finding(self.rule.id, self.rule.severity, self.analysis.inventory.cluster, kind, namespace, name,
                       "", NO_EVIDENCE, "pass")

    def result(self, failed: bool, kind: str, namespace: str | None, name: str, message: str,
               **evidence: Any) -> Finding:
        return self.finding(kind, namespace, name, message, **evidence) if failed else \
            self.passed(kind, namespace, name)

    def not_evaluated(self, kind: str, namespace: str | None, name: str, reason: str) -> Finding:
        """The rule could not be evaluated for this subject (missing data): never a pass."""
        return Finding(self.rule.id, self.rule.severity, self.analysis.inventory.cluster, kind, namespace, name,
                       reason, NO_EVIDENCE, "not-evaluated")


CheckFn = Callable[[CheckContext], Iterable[Finding]]
CHECKS: dict[str, CheckFn] = {}


def register(rule_id: str) -> Callable[[CheckFn], CheckFn]:
    def wrap(fn: CheckFn) -> CheckFn:
        if rule_id in CHECKS:
            raise RuleLoadError(f"two checks registered for {rule_id}")
        CHECKS[rule_id] = fn
        return fn
    return wrap


def evaluate(analysis: ClusterAnalysis, rules: Iterable[Rule],
             overrides: dict[str, dict[str, Any]] | None = None, run: RunContext | None = None) -> list[Finding]:
    """Every rule on one cluster. A check that crashes yields an error finding, never silence."""
    findings: list[Finding] = []
    for rule in rules:
        params = {**rule.parameters, **(overrides or {}).get(rule.id, {})}
        ctx = CheckContext(analysis, rule, params, run or RunContext())
        try:
            findings.extend(_sorted(CHECKS[rule.id](ctx)))
        except Exception as exc:  # any crash of one check becomes its error result
            log.warning("check %s failed on cluster %s: %s: %.200s", rule.id, analysis.inventory.cluster,
                        type(exc).__name__, exc)
            log.debug("check %s traceback", rule.id, exc_info=True)  # --debug only
            findings.append(Finding(rule.id, "info", analysis.inventory.cluster, "Check", None, rule.id,
                                    f"the check failed and could not be evaluated: {type(exc).__name__}: "
                                    f"{str(exc)[:300]}", {}, "error"))
    return findings


def _sorted(findings: Iterable[Finding]) -> Iterator[Finding]:
    return iter(sorted(findings, key=lambda f: (f.namespace or "", f.kind, f.name, f.message)))
