"""Custom rules on one cluster: each subject's scan-document entry, judged by every rule of its subject.

A rule that fails on one subject (a missing key, a conversion, its cost bound) gives that subject a result
with status ``error``; the other subjects and rules go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.analyse.coverage import ClusterAnalysis
from auditor.checks.registry import Finding
from auditor.custom_rules.cost import longest_list
from auditor.custom_rules.expressions import EvaluationError, activation, environment
from auditor.custom_rules.loader import SUBJECT_KINDS, CustomRule


@dataclass(frozen=True)
class Subject:
    """One scan-document entry and what a finding about it names."""

    entry: dict[str, Any]
    kind: str
    namespace: str | None
    name: str


@dataclass(frozen=True)
class Outcome:
    """One rule on one subject: ``pass``, ``fail``, ``skip`` (not matched) or ``error``, with its message."""

    status: str
    message: str = ""


def evaluate_custom(analysis: ClusterAnalysis, rules: Sequence[CustomRule]) -> list[Finding]:
    """Every custom rule on one cluster's subjects; results sorted as the built-in checks' are."""
    results: list[Finding] = []
    cluster = analysis.inventory.cluster
    for subject in ("volume", "schedule", "storage_location", "cluster"):
        chosen = [r for r in rules if r.subject == subject]
        if not chosen:
            continue
        per_rule: dict[str, list[Finding]] = {r.id: [] for r in chosen}
        for item in subjects(analysis, subject):
            for rule, outcome in judge(chosen, subject, item.entry, analysis.as_of):
                if outcome.status == "skip":
                    continue
                status = {"fail": "open", "pass": "pass", "error": "error"}[outcome.status]
                per_rule[rule.id].append(Finding(rule.id, rule.rule.severity, cluster, item.kind, item.namespace,
                                                 item.name, outcome.message, {}, status))
        for rule in chosen:
            results.extend(sorted(per_rule[rule.id], key=lambda f: (f.namespace or "", f.kind, f.name, f.message)))
    return results


def judge(rules: Sequence[CustomRule], subject: str, entry: dict[str, Any], as_of: datetime,
          ) -> Iterator[tuple[CustomRule, Outcome]]:
    """Each rule's outcome on one entry (the variables are converted once for all the rules)."""
    env = environment(subject)
    variables = activation(env, subject, entry, as_of)
    deep = [r for r in rules if max(_depths(r)) > 0]
    size = longest_list(entry, strings=any(_splits(r) for r in deep)) if deep else 0
    for rule in rules:
        yield rule, _outcome(rule, variables, size)


def _outcome(rule: CustomRule, variables: Any, size: int) -> Outcome:
    try:
        if rule.match is not None:
            matched = rule.match.evaluate(variables, size)
            if not isinstance(matched, bool):
                raise EvaluationError(f"match returned {type(matched).__name__}, expected bool")
            if not matched:
                return Outcome("skip")
        held = rule.assertion.evaluate(variables, size)
        if not isinstance(held, bool):
            raise EvaluationError(f"assert returned {type(held).__name__}, expected bool")
    except EvaluationError as exc:
        return Outcome("error", f"{rule.id} could not be evaluated: {exc}")
    if held:
        return Outcome("pass")
    try:
        message = rule.message.evaluate(variables, size)
    except EvaluationError as exc:
        return Outcome("fail", f"{rule.rule.title} (the message could not be evaluated: {exc})")
    return Outcome("fail", message if isinstance(message, str) else str(message))


def subjects(analysis: ClusterAnalysis, subject: str) -> Iterable[Subject]:
    """The subject's entries exactly as the scan document prints them (volumes of audited namespaces only:
    excluded namespaces raise no findings)."""
    from auditor.output.document import cluster_entry, schedule_entries, storage_entries, volume_entry
    from auditor.pipeline import ClusterScan

    if subject == "volume":
        return (Subject(volume_entry(v), SUBJECT_KINDS["volume"], v.namespace, v.pvc)
                for v in analysis.volumes if v.audited)
    if subject == "schedule":
        return (Subject(e, SUBJECT_KINDS["schedule"], e["namespace"], e["name"]) for e in schedule_entries(analysis))
    if subject == "storage_location":
        return (Subject(e, e["kind"], e["namespace"], e["name"]) for e in storage_entries(analysis))
    entry = cluster_entry(ClusterScan(analysis.inventory.cluster, analysis))
    return (Subject(entry, SUBJECT_KINDS["cluster"], None, analysis.inventory.cluster),)


def _depths(rule: CustomRule) -> list[int]:
    return [e.cost.depth for e in (rule.match, rule.assertion, rule.message) if e is not None]


def _splits(rule: CustomRule) -> bool:
    return any(e.cost.splits for e in (rule.match, rule.assertion, rule.message) if e is not None)
