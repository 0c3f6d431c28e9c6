"""Governance rules: tested restores, tools that agree on a point in time, exceptions that expired or are unused."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.analyse.exceptions import apply
from auditor.analyse.gaps import RULE_RESOURCES, describe, rule_blind
from auditor.analyse.subjects import subjects
from auditor.analyse.tools import TOOLS
from auditor.checks.gaps import unevaluated_where_blind
from auditor.checks.registry import CheckContext, evaluate, register
from auditor.config.waivers import ExceptionRule
from auditor.model.durations import format_duration
from auditor.model.globs import config_glob
from auditor.model.inventory import Gap
from auditor.model.rules import Finding


@register("GOV-001")
def no_restore(ctx: CheckContext) -> Iterator[Finding]:
    limit = float(ctx.params["limit_seconds"])
    as_of = ctx.analysis.as_of
    inv = ctx.analysis.inventory
    finished = [r for r in inv.restores if r.phase == "Completed" and r.completed is not None]
    # A drill whose verification failed restored *something*, but not a working application: not a success.
    done = [r for r in finished if r.drill_result != "failed"]
    newest = max(done, key=lambda r: r.completed or as_of, default=None)
    age = (as_of - newest.completed).total_seconds() if newest and newest.completed else None
    failed_drill = max((r for r in finished if r.drill_result == "failed" and
                        (newest is None or (r.completed or as_of) > (newest.completed or as_of))),
                       key=lambda r: r.completed or as_of, default=None)
    what = "last verified restore drill" if newest and newest.drill_result == "passed" else "last successful restore"
    message = (f"the {what} ({newest.meta.key}) completed {format_duration(age)} ago, beyond the limit of "
               f"{format_duration(limit)}" if newest and age is not None else
               "no successful restore is recorded: the backups have not been shown to restore")
    if failed_drill is not None:
        message += f"; the newer restore drill {failed_drill.meta.key} failed verification"
    drills = {k: v for k, v in (("drill", newest.drill_result if newest else None),
                                ("failed_drill", failed_drill.meta.key if failed_drill else None)) if v}
    yield ctx.result(age is None or age > limit, "Cluster", None, inv.cluster, message,
                     last_restore=newest.meta.key if newest else None, age_seconds=age, **drills)


@register("GOV-003")
def tools_disagree(ctx: CheckContext) -> Iterator[Finding]:
    tolerance = float(ctx.params["tolerance_seconds"])
    own_copies = {t.name for t in TOOLS if t.own_copies}
    for v in ctx.analysis.volumes:
        if not v.audited:
            continue
        newest: dict[str, float] = {}
        for p in v.recovery_points:
            newest.setdefault(p.tool, p.time.timestamp())
        tools = {t: ts for t, ts in newest.items() if t in own_copies}
        if len(tools) < 2:
            continue
        spread = max(tools.values()) - min(tools.values())
        yield ctx.result(spread > tolerance, "PersistentVolumeClaim", v.namespace, v.pvc,
                         f"PVC {v.key} is backed up by {', '.join(sorted(tools))}, whose newest recovery points are "
                         f"{format_duration(spread)} apart (tolerance {format_duration(tolerance)})",
                         tools=sorted(tools), spread_seconds=spread)


@register("GOV-004")
def exception_expired(ctx: CheckContext) -> Iterator[Finding]:
    as_of = ctx.analysis.as_of
    cluster = ctx.analysis.inventory.cluster
    for e in ctx.run.exceptions:
        if not config_glob(cluster, e.selector.cluster):
            continue  # the exception is about another cluster (annotation exceptions name their own)
        if e.invalid:  # an annotation waiver that breaks the terms: rejected, so it covers nothing
            yield ctx.finding("Exception", None, e.key,
                              f"exception {e.key} (owner {e.owner}) is rejected: {e.invalid}; it does not cover "
                              f"{', '.join(e.rules)}", owner=e.owner, reason=e.reason, invalid=e.invalid,
                              expires=e.expires.isoformat() if e.expires else None)
            continue
        yield ctx.result(e.expired(as_of), "Exception", None, e.key,
                         f"exception {e.key} (owner {e.owner}) expired on {e.expires}: it no longer covers "
                         f"{', '.join(e.rules)}", owner=e.owner, reason=e.reason,
                         expires=e.expires.isoformat() if e.expires else None)


#: rules that judge the other rules' results: the pipeline evaluates them after the waivers were applied
LATE_RULES = frozenset({"GOV-005"})


@register("GOV-005")
def exception_unused(ctx: CheckContext) -> Iterator[Finding]:
    """A waiver that excepts nothing is a standing permission waiting for a finding to silence."""
    as_of = ctx.analysis.as_of
    cluster = ctx.analysis.inventory.cluster
    use, unknown = ctx.run.exception_use, ctx.run.exception_unknown
    if use is None:  # judged alone, without the run's register: this cluster's own results decide
        use, unknown = _cluster_use(ctx)
    evaluated = ctx.run.evaluated_rules
    for e in ctx.run.exceptions:
        if not config_glob(cluster, e.selector.cluster) or e.expired(as_of) or e.invalid:
            continue  # about another cluster, or expired or rejected (GOV-004's cases)
        if use.get(e.key):
            yield ctx.passed("Exception", None, e.key)
            continue
        skipped = [r for r in e.rules if r != "*" and evaluated is not None and r not in evaluated]
        unread = [c for c in ctx.run.unreadable_clusters if config_glob(c, e.selector.cluster)]
        blind = _blind(ctx, e)
        if skipped and len(skipped) == len(e.rules):
            yield ctx.not_evaluated("Exception", None, e.key,
                                    f"exception {e.key}: its rules ({', '.join(skipped)}) were not evaluated in this "
                                    "run, so whether it is used is unknown")
        elif e.key in unknown or unread or blind:
            why = f"cluster {', '.join(unread)} could not be read" if unread else describe(blind) if blind else \
                "the results it matches could not be evaluated"
            yield ctx.not_evaluated("Exception", None, e.key, f"exception {e.key}: {why}, so whether it is used "
                                                              "is unknown")
        else:
            yield ctx.finding("Exception", None, e.key,
                              f"exception {e.key} (owner {e.owner}) matches no finding of {', '.join(e.rules)}: "
                              f"remove it or correct its scope ({e.scope})", owner=e.owner, reason=e.reason,
                              expires=e.expires.isoformat() if e.expires else None, scope=e.scope,
                              source=e.source)


def _blind(ctx: CheckContext, e: ExceptionRule) -> list[Gap]:
    """The gaps of this cluster that could hide a finding the waiver would except: a subject not read at all
    gives no result to match (a failed PVC list is not "the PVC is gone")."""
    inv = ctx.analysis.inventory
    rules = RULE_RESOURCES if "*" in e.rules else e.rules
    out: list[Gap] = []
    for rule_id in rules:
        out += [g for g in rule_blind(inv, rule_id, list(ctx.analysis.blind)) if g not in out]
    return out


def _cluster_use(ctx: CheckContext) -> tuple[dict[str, int], frozenset[str]]:
    """The waivers' use on this cluster alone: evaluate the rules they name, then apply them."""
    active: list[ExceptionRule] = [e for e in ctx.run.exceptions if not e.expired(ctx.analysis.as_of)]
    named = {r for e in active for r in e.rules}
    rules = [r for r in ctx.run.catalog if r.id not in LATE_RULES and ("*" in named or r.id in named)]
    results = unevaluated_where_blind(ctx.analysis, evaluate(ctx.analysis, rules, ctx.analysis.config.rules, ctx.run))
    _, register = apply(results, active, subjects(ctx.analysis.inventory), ctx.analysis.as_of)
    return {e.key: n for e, n in register.matched}, frozenset(e.key for e in register.undetermined)
