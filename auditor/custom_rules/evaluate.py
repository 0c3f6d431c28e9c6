"""Custom rules on one cluster: each subject's scan-document entry, judged by every rule of its subject.

A rule that fails on one subject (a missing key, a conversion, its cost bound) gives that subject a result
with status ``error``; the other subjects and rules go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.analyse.coverage import ClusterAnalysis
from auditor.analyse.scan import ClusterScan
from auditor.custom_rules.cost import longest_list
from auditor.custom_rules.expressions import EvaluationError, activation, environment
from auditor.custom_rules.loader import SUBJECT_KINDS, CustomRule
from auditor.model.rules import Finding
from auditor.output.document import cluster_entry, schedule_entries, storage_entries, volume_entry


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
        ordered = sorted(subjects(analysis, subject, needed_keys(chosen)),
                         key=lambda i: (i.namespace or "", i.kind, i.name))  # one result a rule and subject
        plan = Plan.of(chosen, subject)
        for item in ordered:
            for rule, outcome in judge(chosen, subject, item.entry, analysis.as_of, plan):
                if outcome is SKIP:
                    continue
                per_rule[rule.id].append(Finding(rule.id, rule.rule.severity, cluster, item.kind, item.namespace,
                                                 item.name, outcome.message, {}, STATUSES[outcome.status]))
        for rule in chosen:
            results.extend(per_rule[rule.id])
    return results


STATUSES = {"fail": "open", "pass": "pass", "error": "error"}  # an outcome → the result's status
PASS, SKIP = Outcome("pass"), Outcome("skip")


@dataclass(frozen=True)
class Plan:
    """How a set of rules runs on each subject: their batch program, whether the cost depends on the
    subject's lists (and on its strings), and the longest list the whole batch stays within its bounds for."""

    program: Any
    deep: bool
    splits: bool
    within: int  # the batch runs on subjects whose longest list is at most this

    @classmethod
    def of(cls, rules: Sequence[CustomRule], subject: str) -> Plan:
        deep = [r for r in rules if r.deep]
        within = min((r.within for r in deep), default=1 << 62)
        return cls(batch(rules, subject), bool(deep), any(r.splits for r in deep), within)


def judge(rules: Sequence[CustomRule], subject: str, entry: dict[str, Any], as_of: datetime,
          plan: Plan | None = None) -> list[tuple[CustomRule, Outcome]]:
    """Each rule's outcome on one entry. The variables are converted once for all the rules, and the rules'
    match and assert run as one CEL program (:func:`batch`); a subject on which that fails (an evaluation
    error, a cost bound) is judged rule by rule, so only the failing rule reports an error."""
    plan = plan or Plan.of(rules, subject)
    variables = activation(environment(subject), subject, entry, as_of)
    size = longest_list(entry, strings=plan.splits) if plan.deep else 0
    if plan.program is not None and size <= plan.within:
        try:
            verdicts = plan.program.eval(variables).plain_value()
        except RuntimeError:
            verdicts = None
        if isinstance(verdicts, list) and len(verdicts) == len(rules):
            return [(rule, _verdict(rule, verdict, variables, size))
                    for rule, verdict in zip(rules, verdicts, strict=True)]
    return [(rule, _outcome(rule, variables, size)) for rule in rules]


_BATCHES: dict[tuple[Any, ...], Any] = {}


def batch(rules: Sequence[CustomRule], subject: str) -> Any:
    """One program for the rules: ``[match ? (assert ? 1 : 0) : 2, ...]`` (a call into CEL costs more than
    most rules do). Compiled once per set of rules; None when it does not compile (then rule by rule)."""
    key = (subject, *((r.id, str(r.path), r.match.source if r.match else None, r.assertion.source) for r in rules))
    if key not in _BATCHES:
        parts = [f"(({r.assertion.source}) ? 1 : 0)" if r.match is None else
                 f"(({r.match.source}) ? (({r.assertion.source}) ? 1 : 0) : 2)" for r in rules]
        try:
            _BATCHES[key] = environment(subject).compile("[" + ",\n".join(parts) + "]")
        except RuntimeError:
            _BATCHES[key] = None
    return _BATCHES[key]


def _verdict(rule: CustomRule, verdict: Any, variables: Any, size: int) -> Outcome:
    if verdict == 1:
        return PASS
    if verdict == 2:
        return SKIP
    return _failed(rule, variables, size)


def _outcome(rule: CustomRule, variables: Any, size: int) -> Outcome:
    try:
        if rule.match is not None:
            matched = rule.match.evaluate(variables, size)
            if matched is False:
                return SKIP
            if matched is not True:
                raise EvaluationError(f"match returned {type(matched).__name__}, expected bool")
        held = rule.assertion.evaluate(variables, size)
        if held is True:
            return PASS
        if held is not False:
            raise EvaluationError(f"assert returned {type(held).__name__}, expected bool")
    except EvaluationError as exc:
        return Outcome("error", f"{rule.id} could not be evaluated: {exc}")
    return _failed(rule, variables, size)


def _failed(rule: CustomRule, variables: Any, size: int) -> Outcome:
    try:
        message = rule.message.evaluate(variables, size)
    except EvaluationError as exc:
        return Outcome("fail", f"{rule.rule.title} (the message could not be evaluated: {exc})")
    return Outcome("fail", message if isinstance(message, str) else str(message))


def subjects(analysis: ClusterAnalysis, subject: str, keys: frozenset[str] | None = None) -> Iterable[Subject]:
    """The subject's entries exactly as the scan document prints them (volumes of audited namespaces only:
    excluded namespaces raise no findings). ``keys``: only these keys of a volume's entry are needed."""
    if subject == "volume":
        if keys is not None and keys <= VOLUME_FIELDS.keys():
            return (Subject({k: VOLUME_FIELDS[k](v) for k in keys}, SUBJECT_KINDS["volume"], v.namespace, v.pvc)
                    for v in analysis.volumes if v.audited)
        return (Subject(volume_entry(v), SUBJECT_KINDS["volume"], v.namespace, v.pvc)
                for v in analysis.volumes if v.audited)
    if subject == "schedule":
        return (Subject(e, SUBJECT_KINDS["schedule"], e["namespace"], e["name"]) for e in schedule_entries(analysis))
    if subject == "storage_location":
        return (Subject(e, e["kind"], e["namespace"], e["name"]) for e in storage_entries(analysis))
    entry = cluster_entry(ClusterScan(analysis.inventory.cluster, analysis))
    return (Subject(entry, SUBJECT_KINDS["cluster"], None, analysis.inventory.cluster),)


def needed_keys(rules: Sequence[CustomRule]) -> frozenset[str] | None:
    """The entry keys the rules select on their subject's variable; None when one uses it whole."""
    keys: set[str] = set()
    for rule in rules:
        for expression in rule.expressions:
            used = expression.cost.fields.get(rule.subject, frozenset())
            if used is None:
                return None
            keys |= used
    return frozenset(keys)


def _iso(t: Any) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


#: a volume entry's keys, each as ``output.document.volume_entry`` prints it, so that a scan builds only
#: the keys its rules read (tests/custom_rules compare every key with volume_entry)
VOLUME_FIELDS: dict[str, Callable[[Any], Any]] = {
    "cluster": lambda v: v.cluster, "namespace": lambda v: v.namespace, "pvc": lambda v: v.pvc,
    "pv": lambda v: v.pv, "storage_class": lambda v: v.storage_class, "status": lambda v: v.status,
    "audited": lambda v: v.audited, "last_success": lambda v: _iso(v.last_success),
    "methods": lambda v: list(v.methods), "covered_by": lambda v: list(v.covered_by),
    "policy": lambda v: v.policy.name, "rpo_seconds": lambda v: v.policy.rpo,
    "retention_seconds": lambda v: v.policy.retention, "reasons": lambda v: list(v.reasons),
    "recovery_points": lambda v: [p.as_dict() for p in v.recovery_points[:3]],
}
