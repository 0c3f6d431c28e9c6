"""etcd snapshot evidence per cluster (pure): the newest verified snapshot, and whether the cluster runs its own etcd.

A managed control plane (EKS, GKE, AKS...) keeps etcd out of sight and out of the customer's hands, so no snapshot
is expected; a cluster whose etcd is visible (kubeadm's static ``etcd-*`` pods, k3s/RKE2 etcd nodes) has to be
snapshotted by someone. Telling those apart is what keeps "no evidence" from reading as "protected".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.config import AuditConfig
from auditor.model.inventory import Gap, Inventory
from auditor.model.tools import etcd

ETCD_NODE_ROLE = "node-role.kubernetes.io/etcd"  # set by k3s and RKE2 on their etcd servers
#: Resources whose gaps can hide etcd snapshot evidence or the etcd pods.
EVIDENCE_RESOURCES = ("etcdsnapshotfiles.k3s.cattle.io", "etcd snapshot manifests", "pods", "nodes")


@dataclass(frozen=True)
class EtcdEvidence:
    newest: etcd.EtcdSnapshot | None  # the newest ready snapshot without an error
    failed: tuple[etcd.EtcdSnapshot, ...]  # snapshots that are not ready or carry an error, newest first
    self_managed: str | None  # why the cluster runs its own etcd ("etcd pods kube-system/etcd-cp1"), or None
    blind: tuple[Gap, ...]  # what the scan could not read that could hold evidence

    def age(self, at: datetime) -> float | None:
        if self.newest is None or self.newest.created is None:
            return None
        return (at - self.newest.created).total_seconds()


def _usable(s: etcd.EtcdSnapshot) -> bool:
    return bool(s.ready) and not s.error and s.created is not None


def _self_managed(inv: Inventory) -> str | None:
    pods = sorted(p.meta.name for p in inv.pods_by_namespace.get("kube-system", ())
                  if p.meta.name.startswith("etcd-") or p.meta.labels.get("component") == "etcd")
    if pods:
        return f"etcd pod(s) in kube-system: {', '.join(pods[:3])}{' ...' if len(pods) > 3 else ''}"
    nodes = sorted(n.meta.name for n in inv.nodes if n.meta.labels.get(ETCD_NODE_ROLE) == "true")
    if nodes:
        return f"k3s/RKE2 etcd node(s): {', '.join(nodes[:3])}{' ...' if len(nodes) > 3 else ''}"
    if inv.etcd_snapshots and any(s.source == "k3s" for s in inv.etcd_snapshots):
        return "k3s/RKE2 ETCDSnapshotFile objects exist"
    return None


def etcd_evidence(inv: Inventory) -> EtcdEvidence:
    usable = [s for s in inv.etcd_snapshots if _usable(s)]
    newest = max(usable, key=lambda s: (s.created, s.snapshot_name), default=None)
    failed = sorted((s for s in inv.etcd_snapshots if not _usable(s)),
                    key=lambda s: (s.created is not None, s.created or datetime.min, s.snapshot_name), reverse=True)
    blind = tuple(g for g in inv.gaps if g.hides_data and g.resource in EVIDENCE_RESOURCES)
    return EtcdEvidence(newest, tuple(failed), _self_managed(inv), blind)


def etcd_rpo(config: AuditConfig, params: Mapping[str, Any] | None = None) -> float:
    """The etcd RPO rule SYS-002 judges by, resolved once for the check and the metrics: its ``rpo_seconds``
    parameter (``params``: the rule's, as the check receives them; default: the ``rules:`` override of the
    config), else ``etcd.rpo``."""
    if params is None:
        params = config.rules.get("SYS-002", {})
    return float(params.get("rpo_seconds") or config.etcd.rpo)
