"""GOV-002: protection weakened since the previous scan of the same cluster (needs the history store)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime

from auditor.analyse.history import compare_with_previous
from auditor.analyse.protection import split_ref
from auditor.checks.registry import CheckContext, register
from auditor.model.rules import Finding


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@register("GOV-002")
def protection_weakened(ctx: CheckContext) -> Iterator[Finding]:
    comparison = compare_with_previous(ctx.analysis)
    if comparison is None:
        yield ctx.not_evaluated("Cluster", None, ctx.analysis.inventory.cluster,
                                "no previous scan of this cluster in the history store (auditor scan --store)")
        return
    for ref, reason in comparison.skipped:
        kind, namespace, name = split_ref(ref)
        yield ctx.not_evaluated(kind, namespace, name, reason)
    for v in comparison.verdicts:
        kind, namespace, name = split_ref(v.ref)
        details = "; ".join(c.detail for c in v.changes)
        yield ctx.result(v.weakened, kind, namespace, name,
                         f"{kind} {v.ref.split('/', 1)[1]}: {details} (first seen {_iso(v.first_seen)})",
                         changes=[c.as_dict() for c in v.changes], before=asdict(v.before),
                         after=asdict(v.after) if v.after is not None else None,
                         first_seen=_iso(v.first_seen), previous_scan=_iso(comparison.previous_as_of))
