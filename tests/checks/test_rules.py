"""Every rule has a check, a passing and a failing fixture, and each fixture gives the expected verdict."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from auditor.analyse.coverage import analyse_cluster
from auditor.analyse.fleet import AgentState
from auditor.analyse.protection_state import protection_state
from auditor.checks import CHECKS, evaluate
from auditor.checks.registry import RunContext
from auditor.collect.builder import InventoryBuilder
from auditor.collect.dump import add_object
from auditor.collect.secrets import SecretPolicy
from auditor.config import AuditConfig
from auditor.config.waivers import ExceptionRule
from auditor.load.rules import load_catalog
from auditor.model.inventory import Gap
from auditor.model.preflight import PreflightOutcome
from auditor.pipeline import fingerprint_clusters
from tests import factories as f
from tests.checks.rule_fixtures import FIXTURES, OtherCluster, Previous

RULES = {r.id: r for r in load_catalog()}
DAY = timedelta(days=1)


def findings_for(rule_id: str, objects: list[Any]) -> list[Any]:
    """Judge a fixture as one run: its cluster, any OtherCluster, gaps and exceptions it carries."""
    plain = [o for o in objects if isinstance(o, dict | list)]
    gaps = [o for o in objects if isinstance(o, Gap)]
    others = [o for o in objects if isinstance(o, OtherCluster)]
    exceptions = tuple(o for o in objects if isinstance(o, ExceptionRule))
    previous = [protection_state(analyse_cluster(inventory(o.objects, "test", []), AuditConfig(), f.AS_OF - DAY))
                for o in objects if isinstance(o, Previous)]
    analyses = [analyse_cluster(inventory(plain, "test", gaps), AuditConfig(), f.AS_OF,
                                previous=previous[0] if previous else None)]
    analyses += [analyse_cluster(inventory(o.objects, o.name, []), AuditConfig(), f.AS_OF) for o in others]
    preflights = tuple(o for o in objects if isinstance(o, PreflightOutcome))
    fleet = tuple(o for o in objects if isinstance(o, AgentState))
    run = RunContext(fingerprint_clusters=fingerprint_clusters(analyses), exceptions=exceptions,
                     preflights=preflights, catalog=tuple(RULES.values()), fleet=fleet or None)
    return evaluate(analyses[0], [RULES[rule_id]], run=run)


def inventory(objects: list[Any], cluster: str, gaps: list[Gap]) -> Any:
    builder = InventoryBuilder(cluster, "test")
    builder.secret_policy = SecretPolicy(read_values=True, key=b"fixture-key-0123456789")
    for obj in objects:
        for item in obj if isinstance(obj, list) else [obj]:
            add_object(builder, copy.deepcopy(item), "test")
    for gap in gaps:
        builder.gap(gap)
    return builder.build()


def test_catalog_is_complete() -> None:
    """The meta-test: a rule without its check or without both fixtures fails the build."""
    assert set(RULES) == set(CHECKS), "every rule file has exactly one registered check"
    for rule_id in RULES:
        cases = FIXTURES.get(rule_id, {})
        assert cases.get("pass"), f"{rule_id} has no passing fixture"
        assert cases.get("fail"), f"{rule_id} has no failing fixture"


CASES = [(rule, kind, name, objs) for rule, kinds in sorted(FIXTURES.items())
         for kind in ("pass", "fail") for name, objs in kinds[kind]]


@pytest.mark.parametrize(("rule_id", "kind", "objects"), [(c[0], c[1], c[3]) for c in CASES],
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_rule_fixture(rule_id: str, kind: str, objects: list[Any]) -> None:
    results = [x for x in findings_for(rule_id, objects) if x.rule_id == rule_id]
    assert all(x.status != "error" for x in results), results
    found = [x for x in results if x.is_finding]
    if kind == "fail":
        assert found, f"{rule_id} should fire"
        rule = RULES[rule_id]
        assert {x.kind for x in found} >= {rule.subject}, "findings name the rule's natural subject"
        for x in found:
            cluster_scoped = ("Namespace", "Cluster", "PersistentVolume", "ClusterRoleBinding", "Exception")
            assert (x.namespace is None) == (x.kind in cluster_scoped)
    else:
        assert not found, [x.message for x in found]
        assert any(x.status == "pass" for x in results), "a passing fixture evaluates at least one subject"


def test_rules_doc_is_generated_from_the_catalog() -> None:
    from pathlib import Path

    from auditor.output.catalog import render_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
    assert doc.read_text() == render_markdown(load_catalog()), "run: auditor rules -o md > docs/rules.md"


@pytest.mark.parametrize("rule_id", ["GOV-006", "GOV-007"])
def test_fleet_rules_are_not_evaluated_when_the_store_cannot_be_read(rule_id: str) -> None:
    """A configured store that does not answer leaves the fleet unknown: "not evaluated" with the reason,
    never a pass; without a store (no fleet, no reason) the rules say nothing."""
    from tests.checks.rule_fixtures import scheduled

    analysis = analyse_cluster(inventory(scheduled(), "test", []), AuditConfig(), f.AS_OF)
    why = "the history store postgresql://auditor@db.example:5432/hub could not be read: connection refused"
    [result] = evaluate(analysis, [RULES[rule_id]], run=RunContext(fleet_unknown=why))
    assert (result.status, result.kind, result.name) == ("not-evaluated", "Cluster", "test")
    assert why in result.message
    assert evaluate(analysis, [RULES[rule_id]], run=RunContext()) == []
