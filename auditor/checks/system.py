"""System rules: is the backup system running, and did the scan see everything?"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.analyse.etcd import etcd_evidence, etcd_rpo
from auditor.analyse.gaps import NODE_AGENT_RESOURCES, SERVER_RESOURCES, describe, hidden
from auditor.checks.registry import CheckContext, register
from auditor.model.durations import format_duration
from auditor.model.rules import Finding


@register("SYS-001")
def not_running(ctx: CheckContext) -> Iterator[Finding]:
    analysis = ctx.analysis
    inv = analysis.inventory
    blind_server, blind_agent = hidden(inv, SERVER_RESOURCES), hidden(inv, NODE_AGENT_RESOURCES)
    for ns, server in sorted(analysis.servers.items()):
        dep = server.deployment
        if dep is None and blind_server:
            yield ctx.not_evaluated("Deployment", ns, "velero", describe(blind_server))
            continue
        if dep is None:
            yield ctx.finding("Deployment", ns, "velero", f"no Velero server Deployment runs in namespace {ns}, "
                              "where its schedules and backups live")
            continue
        yield ctx.result(not server.running, "Deployment", ns, dep.meta.name,
                         f"Velero Deployment {dep.meta.key} has {dep.ready or 0}/{dep.replicas or 0} ready replicas: "
                         f"no backup runs", ready=dep.ready, replicas=dep.replicas)
        # nodes that run pods whose volumes rely on the node-agent (file-system backup, data movement)
        needed: dict[str, list[str]] = {}
        for v in analysis.volumes:
            if v.audited and any(c.needs_node_agent for key, c in v.captures if key.startswith(f"{ns}/")):
                for pod in inv.pods_by_claim.get((v.namespace, v.pvc), ()):
                    if pod.node_name and pod.phase == "Running":
                        needed.setdefault(pod.node_name, []).append(v.key)
        if not needed:
            continue
        if blind_agent:
            yield ctx.not_evaluated("DaemonSet", ns, server.node_agent.meta.name if server.node_agent else "node-agent",
                                    describe(blind_agent))
            continue
        missing = sorted(n for n in needed if n not in server.node_agent_nodes)
        agent = server.node_agent
        name = agent.meta.name if agent else "node-agent"
        yield ctx.result(bool(missing), "DaemonSet", ns, name,
                         (f"node-agent is not ready on node(s) {', '.join(missing)}, where "
                          f"{', '.join(sorted({k for n in missing for k in needed[n]}))} need it"
                          if agent else f"no node-agent DaemonSet runs, but {len(needed)} node(s) have volumes "
                          "that need file-system backup or data movement"),
                         nodes=missing, volumes=sorted({k for n in missing for k in needed[n]}))


MEANING = {
    "forbidden": "the auditor is not allowed to read it",
    "error": "the API server failed to serve it",
    "not-found": "the API server has no such resource",
}


@register("SYS-003")
def scan_incomplete(ctx: CheckContext) -> Iterator[Finding]:
    inv = ctx.analysis.inventory
    hidden = [g for g in inv.gaps if g.hides_data]
    unknown = sum(1 for v in ctx.analysis.volumes if v.status == "unknown")
    yield ctx.result(bool(hidden), "Cluster", None, inv.cluster,
                     f"the scan of {inv.cluster} is incomplete: could not read "
                     + "; ".join(f"{g.resource}{' in ' + g.namespace if g.namespace else ''} "
                                 f"({MEANING.get(g.reason, g.reason)})" for g in hidden)
                     + f". Verdicts that depend on it are unknown or not evaluated ({unknown} volume(s) unknown).",
                     gaps=[g.as_dict() for g in hidden])


@register("SYS-002")
def etcd_snapshot_stale(ctx: CheckContext) -> Iterator[Finding]:
    inv = ctx.analysis.inventory
    evidence = etcd_evidence(inv)
    rpo = etcd_rpo(ctx.analysis.config, ctx.params)
    age = evidence.age(ctx.analysis.as_of)
    if evidence.newest is not None and age is not None:
        s = evidence.newest
        yield ctx.result(age > rpo, "Cluster", None, inv.cluster,
                         f"the newest verified etcd snapshot of {inv.cluster} ({s.snapshot_name}, {s.source}, "
                         f"{s.location or 'no location'}) is {format_duration(age)} old, older than the etcd RPO "
                         f"of {format_duration(rpo)}", snapshot=s.snapshot_name, source=s.source,
                         location=s.location, taken_at=s.created.isoformat() if s.created else None,
                         age_seconds=round(age), rpo_seconds=rpo)
        return
    if evidence.blind:
        yield ctx.not_evaluated("Cluster", None, inv.cluster, "etcd snapshot evidence could not be read: "
                                + "; ".join(f"{g.resource} ({g.reason})" for g in evidence.blind))
        return
    if evidence.self_managed is None:
        yield ctx.not_evaluated("Cluster", None, inv.cluster, "no etcd is visible (a managed control plane?) and "
                                "no etcd snapshot evidence is configured (etcd.snapshots in the audit config)")
        return
    last = evidence.failed[0] if evidence.failed else None
    yield ctx.finding("Cluster", None, inv.cluster,
                      f"{inv.cluster} runs its own etcd ({evidence.self_managed}) but no verified etcd snapshot "
                      "was found (k3s/RKE2 ETCDSnapshotFiles, the executor's manifests)"
                      + (f"; the latest attempt {last.snapshot_name} failed: {last.error or 'not ready'}"
                         if last else ""),
                      etcd=evidence.self_managed, failed=[s.snapshot_name for s in evidence.failed[:5]],
                      rpo_seconds=rpo)
