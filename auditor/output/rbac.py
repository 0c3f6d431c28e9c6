"""``auditor rbac``: the Roles that let the auditor read exactly the credential Secrets a cluster names.

The deploy manifests grant no Secret access beyond Velero's two default Secrets (by name). Every other
credential Secret lives where the backup configuration says (a BSL's ``spec.credential``, the other backup tools'
objects in application namespaces), so the grant is computed from the cluster: one Role per namespace with
``get`` on exactly those ``resourceNames``, bound to the auditor's service account. Ready for
``kubectl apply -f -``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import yaml

from auditor.analyse.credential_refs import credential_refs
from auditor.model.inventory import Inventory

ROLE_NAME = "backup-auditor-credentials"
REASONS_ANNOTATION = "backup-auditor.io/credential-secrets"
LABELS = {"app.kubernetes.io/name": "backup-auditor", "app.kubernetes.io/component": "credentials"}


@dataclass(frozen=True)
class CredentialGrant:
    """The credential Secrets of one namespace, each with what uses it."""

    namespace: str
    secrets: dict[str, tuple[str, ...]]  # name -> users, e.g. "BackupStorageLocation velero/default"


def credential_grants(inv: Inventory) -> list[CredentialGrant]:
    """Per namespace, the Secrets a scan of this cluster reads (the same list the live source GETs)."""
    refs = credential_refs(inv.all_records())
    by_namespace: dict[str, dict[str, tuple[str, ...]]] = defaultdict(dict)
    for (ns, name), used_by in sorted(refs.items()):
        by_namespace[ns][name] = tuple(sorted(used_by))
    return [CredentialGrant(ns, secrets) for ns, secrets in sorted(by_namespace.items())]


def _comment(text: str) -> str:
    """Cluster names are untrusted: one printable line in a YAML comment."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _users(users: tuple[str, ...], shown: int = 3) -> str:
    """What uses a Secret, briefly (one repository can serve hundreds of backups)."""
    more = f" and {len(users) - shown} more" if len(users) > shown else ""
    return ", ".join(users[:shown]) + more


def rbac_manifests(cluster: str, grants: list[CredentialGrant], service_account: tuple[str, str]) -> str:
    """YAML documents: a Role and a RoleBinding per namespace (``get`` with ``resourceNames`` only)."""
    sa_namespace, sa_name = service_account
    docs: list[dict[str, object]] = []
    for grant in grants:
        reasons = "; ".join(f"{name}: {_users(users)}" for name, users in grant.secrets.items())
        metadata = {"name": ROLE_NAME, "namespace": grant.namespace, "labels": dict(LABELS)}
        docs.append({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {**metadata, "annotations": {REASONS_ANNOTATION: reasons}},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": sorted(grant.secrets),
                       "verbs": ["get"]}],
        })
        docs.append({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": dict(metadata),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAME},
            "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_namespace}],
        })
    header = (f"# cluster {_comment(cluster)}: get on exactly the credential Secrets its backup configuration "
              f"names ({sum(len(g.secrets) for g in grants)} in {len(grants)} namespace(s))\n")
    if not docs:
        return header + "# (no credential Secrets are named: nothing to grant)\n"
    return header + yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True)
