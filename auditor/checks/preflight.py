"""PRE-001: a configured DR target drifted from restorable (the outcomes come from ``auditor serve``)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks.registry import CheckContext, register
from auditor.model.rules import Finding


@register("PRE-001")
def dr_target_not_ready(ctx: CheckContext) -> Iterator[Finding]:
    """One result per configured pair whose source is this cluster: failed when not ready, not evaluated when
    the pair could not be evaluated (no good backup, target unreachable), never a pass then."""
    cluster = ctx.analysis.inventory.cluster
    for outcome in ctx.run.preflights:
        if outcome.cluster != cluster:
            continue
        namespace, _, name = outcome.schedule.partition("/")
        if outcome.ready is None:
            yield ctx.not_evaluated("Schedule", namespace, name,
                                    f"the restore preflight into {outcome.target} was not evaluated: {outcome.error}")
            continue
        codes = sorted({f"{i.get('code')} {i.get('kind')} {i.get('name') or ''}".strip()
                        for i in (*outcome.document.get("blockers", ()), *outcome.document.get("unknown", ()))})
        yield ctx.result(outcome.ready is False, "Schedule", namespace, name,
                         f"backup {outcome.backup} would not restore into {outcome.target}: {outcome.blockers} "
                         f"blocker(s), {outcome.unknown} check(s) unknown ({'; '.join(codes[:5])})",
                         target=outcome.target, backup=outcome.backup, blockers=outcome.blockers,
                         unknown=outcome.unknown)
