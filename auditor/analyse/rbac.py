"""Who can read the backup credentials: Roles/ClusterRoles and their bindings, evaluated like the API server.

Read access to a Secret is any of ``get``, ``list``, ``watch`` on ``secrets`` in the core group, with
wildcards in verbs, resources and apiGroups; a rule with ``resourceNames`` grants nothing on other
Secrets (the authorizer matches names, and a list only matches by name with a metadata.name field
selector); aggregated ClusterRoles (rules of every ClusterRole their selectors match), and
RoleBindings that reference a ClusterRole (granting it in the binding's namespace only).
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.analyse.tools import TOOLS
from auditor.model import records as r
from auditor.model.inventory import Inventory

READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class Access:
    """A subject that can read a Secret, and the binding/role that grants it."""

    subject: r.Subject
    binding: r.RoleBinding
    role_kind: str
    role_name: str
    verbs: tuple[str, ...]


def _grants(rule: r.PolicyRule, secret_name: str) -> tuple[str, ...]:
    if not any(g in ("", "*") for g in rule.api_groups):
        return ()
    if not any(res in ("secrets", "*") for res in rule.resources):
        return ()
    if rule.resource_names and secret_name not in rule.resource_names:
        return ()
    return tuple(v for v in READ_VERBS if v in rule.verbs or "*" in rule.verbs)


def effective_rules(inv: Inventory, role: r.Role) -> tuple[r.PolicyRule, ...]:
    """A role's rules, plus those of the ClusterRoles its aggregationRule selects."""
    if role.kind != "ClusterRole" or not role.aggregation_selectors:
        return role.rules
    rules = list(role.rules)
    for other in inv.roles:
        if other.kind == "ClusterRole" and other is not role and any(
                all(other.meta.labels.get(k) == v for k, v in sel.items()) for sel in role.aggregation_selectors):
            rules.extend(other.rules)
    return tuple(rules)


def readers(inv: Inventory, namespace: str, secret_name: str) -> list[Access]:
    """Every (subject, binding) that can read Secret ``namespace/secret_name``."""
    roles = {(ro.kind, ro.meta.namespace or "", ro.meta.name): ro for ro in inv.roles}
    out: list[Access] = []
    for binding in inv.role_bindings:
        if binding.kind == "RoleBinding" and binding.meta.namespace != namespace:
            continue
        role_ns = binding.meta.namespace or "" if binding.role_kind == "Role" else ""
        role = roles.get((binding.role_kind, role_ns, binding.role_name))
        if role is None:
            continue
        verbs = sorted({v for rule in effective_rules(inv, role) for v in _grants(rule, secret_name)})
        if verbs:
            out.extend(Access(s, binding, role.kind, role.meta.name, tuple(verbs)) for s in binding.subjects)
    return out


def is_platform_subject(subject: r.Subject) -> bool:
    """Kubernetes' own components (system: users and groups, kube-system service accounts)."""
    if subject.kind in ("User", "Group") and subject.name.startswith("system:"):
        return True
    return subject.kind == "ServiceAccount" and subject.namespace == "kube-system"


def backup_service_accounts(inv: Inventory) -> set[tuple[str, str]]:
    """(namespace, name) of the backup tools' own service accounts: those their Deployments/DaemonSets run as."""
    namespaces = set(inv.backup_namespaces)
    accounts = set()
    for w in inv.workloads:
        ns = w.meta.namespace or ""
        images = " ".join(w.images)
        is_backup_tool = ns in namespaces or any(image in images for tool in TOOLS for image in tool.images)
        if is_backup_tool:
            accounts.add((ns, w.service_account or "default"))
    for ns in namespaces:
        accounts.add((ns, "velero"))
    return accounts
