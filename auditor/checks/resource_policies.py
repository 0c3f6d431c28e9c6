"""COV-006: a schedule whose resource-policy ConfigMap Velero rejects captures nothing."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks.registry import CheckContext, register
from auditor.model.rules import Finding


@register("COV-006")
def invalid_resource_policy(ctx: CheckContext) -> Iterator[Finding]:
    analysis = ctx.analysis
    for s in analysis.schedules.values():
        meta = s.schedule.meta
        problem = analysis.planner.policy_problem(s.ctx)
        if problem is None:
            yield ctx.passed("Schedule", meta.namespace, meta.name)
            continue
        unread = [g for g in analysis.inventory.gaps if g.resource == "configmaps" and g.hides_data
                  and g.namespace in (None, s.ctx.velero_namespace)]
        if unread and problem.key is None and problem.field is None:
            # a ConfigMap we could not read is not a missing one
            yield ctx.not_evaluated("Schedule", meta.namespace, meta.name,
                                    f"could not read ConfigMaps: {unread[0].message}")
            continue
        state = "paused, and when resumed " if s.paused else "" if s.enabled else "not valid itself, and once fixed "
        yield ctx.finding(
            "Schedule", meta.namespace, meta.name,
            f"schedule {s.key}: {problem.message}; {state}every backup of the schedule ends "
            f"FailedValidation and captures nothing", configmap=problem.configmap, key=problem.key,
            field=problem.field, paused=s.paused)
