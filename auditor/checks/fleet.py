"""GOV-006 and GOV-007: what the shared history store (the hub) knows about the other agents.

The fleet comes from the store (``RunContext.fleet``): ``auditor serve`` with a store passes it, and
``auditor fleet`` judges the same identities without a scan (``analyse.fleet.fleet_findings``). Without a store
nothing is known about other agents, and these rules yield nothing (neither pass nor finding). With a store
that could not be read (``RunContext.fleet_unknown``) they yield "not evaluated" with the reason: an
unreadable hub is never reported as a fleet without silent agents or rival names.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from auditor.analyse.fleet import claim_message, cluster_uid, silence_message
from auditor.checks.registry import CheckContext, register
from auditor.model.rules import Finding

#: The rules about the other clusters the store knows, not about the cluster scanned: a fleet report judges them
#: once for the fleet, and leaves them out of each cluster's findings and framework scores.
FLEET_RULES = ("GOV-006", "GOV-007")


@register("GOV-006")
def agent_silent(ctx: CheckContext) -> Iterator[Finding]:
    """One result per other cluster the store knows: failed when its agent went silent."""
    fleet = ctx.run.fleet
    inv = ctx.analysis.inventory
    if fleet is None:
        if ctx.run.fleet_unknown:
            yield ctx.not_evaluated("Cluster", None, inv.cluster, f"whether other clusters' agents went silent is "
                                    f"unknown: {ctx.run.fleet_unknown}")
        return
    uid = cluster_uid(inv.namespaces)
    at = ctx.analysis.as_of
    for agent in fleet:
        if agent.name == inv.cluster and (not uid or not agent.uid or agent.uid == uid):
            continue  # this cluster: it is being scanned now
        yield ctx.result(agent.silent(at), "Cluster", None, agent.name, silence_message(agent, at),
                         uid=agent.uid or None, last_scan=_iso(agent.last_seen), age_seconds=agent.age(at),
                         interval_seconds=agent.interval_seconds, silent_after_seconds=agent.silent_after)


@register("GOV-007")
def name_claimed_twice(ctx: CheckContext) -> Iterator[Finding]:
    """This cluster's name against the identities the store recorded under it."""
    fleet = ctx.run.fleet
    inv = ctx.analysis.inventory
    if fleet is None:
        if ctx.run.fleet_unknown:
            yield ctx.not_evaluated("Cluster", None, inv.cluster, f"whether another cluster claims the name "
                                    f"{inv.cluster} is unknown: {ctx.run.fleet_unknown}")
        return
    uid = cluster_uid(inv.namespaces)
    if uid is None:
        yield ctx.not_evaluated("Cluster", None, inv.cluster,
                                "the kube-system namespace was not read: this cluster's uid is unknown")
        return
    others = sorted({a.uid for a in fleet if a.name == inv.cluster and a.uid and a.uid != uid})
    yield ctx.result(bool(others), "Cluster", None, inv.cluster, claim_message(inv.cluster, uid, others),
                     uid=uid, other_uids=others)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
