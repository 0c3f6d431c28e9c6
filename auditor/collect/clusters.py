"""Which clusters to scan: kubeconfig contexts or the in-cluster service account, each with its API client
(:class:`~auditor.collect.kubeclient.KubeClient`; the Kubernetes package's only for legacy auth-provider users)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from auditor.collect.kubeclient import KubeClient
from auditor.collect.kubeconfig import in_cluster_connection, load_kubeconfig
from auditor.collect.live import LiveSource, RetryPolicy
from auditor.errors import ApiStatusError, ClusterAccessError, ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterTarget:
    name: str
    api_client: Any


def kubeconfig_targets(kubeconfig: str | None, contexts: tuple[str, ...], all_contexts: bool) -> list[ClusterTarget]:
    """One API client per requested context (the current context when none is named)."""
    config = load_kubeconfig(kubeconfig)
    names = list(config.contexts)
    if all_contexts:
        wanted = names
    elif contexts:
        missing = [c for c in contexts if c not in names]
        if missing:
            raise ConfigError(f"kubeconfig has no context {', '.join(missing)} (it has: {', '.join(names)})")
        wanted = list(contexts)
    else:
        current = config.current_context
        if not current:
            raise ConfigError("kubeconfig has no current context; pass --context or --all-contexts")
        if current not in config.contexts:
            raise ConfigError(f"kubeconfig {config.label}: current-context {current} is not one of its contexts "
                              f"(it has: {', '.join(names)})")
        wanted = [current]
    targets = []
    for name in wanted:
        try:
            connection = config.connection(name)
            client: Any = _provider_client(kubeconfig, name) if connection.auth_provider else KubeClient(connection)
        except ClusterAccessError as exc:
            raise ClusterAccessError(f"context {name}: {exc}") from None
        targets.append(ClusterTarget(name, client))
    return targets


def _provider_client(kubeconfig: str | None, context: str) -> Any:
    """A legacy ``auth-provider`` user (oidc, gcp, azure): the Kubernetes package's client, which knows them."""
    # deferred: kubernetes (0.5 s) only for the legacy auth-provider users; the rest never load it
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except (ConfigException, OSError) as exc:
        raise ClusterAccessError(str(exc)) from None


def in_cluster_target(name: str | None) -> ClusterTarget:
    """The pod's own cluster, named ``name``, else by its kube-system namespace uid (stable, never shared)."""
    api_client = KubeClient(in_cluster_connection())
    return ClusterTarget(name or kube_system_uid(api_client) or IN_CLUSTER, api_client)


IN_CLUSTER = "in-cluster"  # the name when neither --cluster-name nor the kube-system uid is known


def kube_system_uid(api_client: Any, timeout: float = 10.0) -> str | None:
    """The uid of the cluster's kube-system namespace: given once when the cluster is created, it names the
    cluster for good (a listing by field selector: the auditor may list namespaces, not get one)."""
    source = LiveSource(api_client, "identity", retry=RetryPolicy(attempts=1), request_timeout=timeout,
                        deadline=None)
    try:
        found = source.get_json("/api/v1/namespaces", [("fieldSelector", "metadata.name=kube-system")])
    except (ApiStatusError, ClusterAccessError) as exc:  # unreachable, forbidden: the caller uses a fixed name
        log.warning("cannot read the kube-system namespace's uid: %.200s", exc)
        return None
    items = found.get("items") if isinstance(found, dict) else None
    for ns in items if isinstance(items, list) else ():
        meta = ns.get("metadata") if isinstance(ns, dict) else None
        uid = meta.get("uid") if isinstance(meta, dict) else None
        if uid and isinstance(uid, str):
            return uid
    return None
