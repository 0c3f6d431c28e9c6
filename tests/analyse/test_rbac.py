"""Who can read backup credentials: RBAC evaluated like the API server (edge cases)."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.analyse.rbac import readers
from tests import factories as f

SECRET = ("velero", "cloud-credentials")
SECRETS_RULE = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
ALICE = [{"kind": "User", "name": "alice"}]

CASES = [
    # (id, objects, expected subjects)
    ("cluster role binding", [f.cluster_role("r", [SECRETS_RULE]), f.binding("b", "r", ALICE)], {"alice"}),
    ("role binding to cluster role in the secret's namespace", [
        f.cluster_role("r", [SECRETS_RULE]), f.binding("b", "r", ALICE, ns="velero")], {"alice"}),
    ("role binding to cluster role in another namespace", [
        f.cluster_role("r", [SECRETS_RULE]), f.binding("b", "r", ALICE, ns="shop")], set()),
    ("namespaced role", [f.role("r", "velero", [SECRETS_RULE]),
                         f.binding("b", "r", ALICE, ns="velero", role_kind="Role")], {"alice"}),
    ("star verbs", [f.cluster_role("r", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}]),
                    f.binding("b", "r", ALICE)], {"alice"}),
    ("star resources and groups", [f.cluster_role("r", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["list"]}]),
                                   f.binding("b", "r", ALICE)], {"alice"}),
    ("other api group only", [f.cluster_role("r", [{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]}]),
                              f.binding("b", "r", ALICE)], set()),
    ("write-only verbs", [f.cluster_role("r", [{"apiGroups": [""], "resources": ["secrets"],
                                                "verbs": ["create", "update"]}]), f.binding("b", "r", ALICE)], set()),
    ("resourceNames that exclude the secret", [
        f.cluster_role("r", [{**SECRETS_RULE, "verbs": ["get", "list", "watch"], "resourceNames": ["other"]}]),
        f.binding("b", "r", ALICE)], set()),
    ("resourceNames that include it", [
        f.cluster_role("r", [{**SECRETS_RULE, "resourceNames": ["cloud-credentials"]}]), f.binding("b", "r", ALICE)],
     {"alice"}),
    ("aggregated cluster role", [
        f.cluster_role("agg", [], aggregate=[{"rbac.example.com/aggregate-to-ops": "true"}]),
        f.cluster_role("part", [SECRETS_RULE], labels={"rbac.example.com/aggregate-to-ops": "true"}),
        f.binding("b", "agg", ALICE)], {"alice"}),
    ("aggregation selector that matches nothing", [
        f.cluster_role("agg", [], aggregate=[{"x": "y"}]), f.cluster_role("part", [SECRETS_RULE]),
        f.binding("b", "agg", ALICE)], set()),
    ("binding to a missing role", [f.binding("b", "ghost", ALICE)], set()),
]


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_readers(objects: list[Any], expected: set[str]) -> None:
    inv = f.inventory(*objects)
    assert {a.subject.name for a in readers(inv, *SECRET)} == expected
