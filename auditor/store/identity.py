"""A finding's identity across scans (rule, cluster, kind, namespace, name): how the store tells a finding
that is still open from a new one."""

from __future__ import annotations

from auditor.model.rules import Finding


def identity(rule_id: str, cluster: str, kind: str, namespace: str | None, name: str) -> str:
    """A finding's stable identity across scans: the same rule on the same object."""
    return "|".join((rule_id, cluster, kind, namespace or "", name))


def finding_identity(f: Finding) -> str:
    return identity(f.rule_id, f.cluster, f.kind, f.namespace, f.name)
