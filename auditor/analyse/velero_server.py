"""What the Velero server itself is configured to do: flags from its Deployment, and where node-agent runs.

Server flags change what a Backup does when its spec leaves a field unset: ``--features=EnableCSI``
(without it every CSI action is skipped), ``--default-volumes-to-fs-backup``,
``--default-snapshot-move-data``, ``--uploader-type`` and ``--default-backup-ttl``
(``pkg/cmd/server/config/config.go``).
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.analyse.credential_refs import is_velero_deployment
from auditor.model import records as r
from auditor.model.durations import go_duration_seconds
from auditor.model.inventory import Inventory

DEFAULT_TTL = 720 * 3600.0


@dataclass(frozen=True)
class VeleroServer:
    namespace: str
    deployment: r.Workload | None
    node_agent: r.Workload | None
    features: frozenset[str]
    default_fs_backup: bool
    default_snapshot_move_data: bool
    uploader_type: str
    default_ttl: float
    node_agent_nodes: frozenset[str]  # nodes with a Running, ready node-agent pod

    @property
    def csi_enabled(self) -> bool:
        return "EnableCSI" in self.features

    @property
    def running(self) -> bool:
        d = self.deployment
        return d is not None and (d.ready or 0) >= 1 and (d.replicas or 0) >= 1


def _flag(args: tuple[str, ...], name: str) -> str | None:
    """The value of ``--name=value``, ``--name value`` or bare ``--name`` (``"true"``)."""
    for i, arg in enumerate(args):
        if arg == f"--{name}":
            nxt = args[i + 1] if i + 1 < len(args) else ""
            return nxt if nxt and not nxt.startswith("-") and nxt in ("true", "false") else "true"
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def is_node_agent(w: r.Workload) -> bool:
    return w.kind == "DaemonSet" and (
        w.meta.name in ("node-agent", "restic") or w.meta.labels.get("name") == "node-agent")


def velero_servers(inv: Inventory) -> dict[str, VeleroServer]:
    """One entry per namespace where Velero objects or its Deployment live."""
    namespaces = set(inv.backup_namespaces)
    deployments = {w.meta.namespace: w for w in inv.workloads if is_velero_deployment(w)}
    agents = {w.meta.namespace: w for w in inv.workloads if is_node_agent(w)}
    namespaces.update(ns for ns in deployments if ns)
    servers = {}
    for ns in sorted(namespaces):
        dep = deployments.get(ns)
        args = dep.args if dep else ()
        features = frozenset(f for f in (_flag(args, "features") or "").split(",") if f)
        ttl = go_duration_seconds(_flag(args, "default-backup-ttl") or "") or DEFAULT_TTL
        agent_nodes = frozenset(
            p.node_name for p in inv.pods_by_namespace.get(ns, ())
            if p.node_name and p.phase == "Running" and p.ready and (
                p.meta.labels.get("name") == "node-agent" or any(o.name == "node-agent" for o in p.meta.owners))
        )
        servers[ns] = VeleroServer(
            namespace=ns, deployment=dep, node_agent=agents.get(ns), features=features,
            default_fs_backup=(_flag(args, "default-volumes-to-fs-backup") or "false") == "true",
            default_snapshot_move_data=(_flag(args, "default-snapshot-move-data") or "false") == "true",
            uploader_type=_flag(args, "uploader-type") or "kopia", default_ttl=ttl, node_agent_nodes=agent_nodes,
        )
    return servers
