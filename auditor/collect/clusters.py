"""Which clusters to scan: kubeconfig contexts or the in-cluster service account."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from auditor.errors import ClusterAccessError, ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterTarget:
    name: str
    api_client: Any


def kubeconfig_targets(kubeconfig: str | None, contexts: tuple[str, ...], all_contexts: bool) -> list[ClusterTarget]:
    """One API client per requested context (the current context when none is named)."""
    # deferred: kubernetes (0.5 s) only for live clusters; dumps and the demo never load it
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        available, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError) as exc:
        raise ConfigError(f"kubeconfig {kubeconfig or '~/.kube/config'}: {exc}") from None
    names = [c["name"] for c in available]
    if all_contexts:
        wanted = names
    elif contexts:
        missing = [c for c in contexts if c not in names]
        if missing:
            raise ConfigError(f"kubeconfig has no context {', '.join(missing)} (it has: {', '.join(names)})")
        wanted = list(contexts)
    else:
        if not current:
            raise ConfigError("kubeconfig has no current context; pass --context or --all-contexts")
        wanted = [current["name"]]
    targets = []
    for name in wanted:
        try:
            client = config.new_client_from_config(config_file=kubeconfig, context=name)
        except (ConfigException, OSError) as exc:
            raise ClusterAccessError(f"context {name}: {exc}") from None
        targets.append(ClusterTarget(name, client))
    return targets


def in_cluster_target(name: str | None) -> ClusterTarget:
    """The pod's own cluster, named ``name``, else by its kube-system namespace uid (stable, never shared)."""
    # deferred: kubernetes (0.5 s) only for live clusters; dumps and the demo never load it
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        raise ConfigError(f"not running inside a cluster: {exc}") from None
    api_client = client.ApiClient(configuration)
    return ClusterTarget(name or kube_system_uid(api_client) or IN_CLUSTER, api_client)


IN_CLUSTER = "in-cluster"  # the name when neither --cluster-name nor the kube-system uid is known


def kube_system_uid(api_client: Any, timeout: float = 10.0) -> str | None:
    """The uid of the cluster's kube-system namespace: given once when the cluster is created, it names the
    cluster for good (a listing by field selector: the auditor may list namespaces, not get one)."""
    from kubernetes import client  # deferred: kubernetes (0.5 s) only for live clusters

    try:
        found = client.CoreV1Api(api_client).list_namespace(field_selector="metadata.name=kube-system",
                                                            _request_timeout=timeout)
    except Exception as exc:  # unreachable, forbidden: the caller falls back to a fixed name
        log.warning("cannot read the kube-system namespace's uid: %s: %.200s", type(exc).__name__, exc)
        return None
    uids = [ns.metadata.uid for ns in found.items or () if ns.metadata and ns.metadata.uid]
    return str(uids[0]) if uids else None
