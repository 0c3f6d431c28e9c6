"""Finding subjects are indexed only when an exception rule needs them, and then as before."""

from __future__ import annotations

from auditor.analyse.coverage import analyse_cluster
from auditor.analyse.exceptions import apply
from auditor.analyse.subjects import subjects
from auditor.checks import evaluate
from auditor.collect.dump import read_dump
from auditor.config import AuditConfig
from auditor.config.waivers import ExceptionRule, Selector
from auditor.demo import CLUSTER_DIR, demo_as_of
from auditor.load.rules import load_catalog


def test_subjects_are_not_built_without_exception_rules() -> None:
    inv = read_dump(CLUSTER_DIR)
    analysis = analyse_cluster(inv, AuditConfig(), demo_as_of())
    results = evaluate(analysis, load_catalog())
    index = subjects(inv)
    out, report = apply(results, [], index, demo_as_of())
    assert out == results and not report.matched
    assert index._index is None  # never needed
    pvc = inv.pvcs[0]
    assert index[(inv.cluster, "PersistentVolumeClaim", pvc.meta.namespace, pvc.meta.name)].labels == \
        pvc.meta.labels


def test_a_label_selector_exception_builds_the_index_and_matches_by_labels() -> None:
    inv = read_dump(CLUSTER_DIR)
    analysis = analyse_cluster(inv, AuditConfig(), demo_as_of())
    results = evaluate(analysis, load_catalog())
    open_pvc = next(r for r in results if r.status == "open" and r.kind == "PersistentVolumeClaim")
    pvc = next(p for p in inv.pvcs if (p.meta.namespace, p.meta.name) == (open_pvc.namespace, open_pvc.name))
    assert pvc.meta.labels, "the demo PVC needs a label to select it by"
    key, value = next(iter(pvc.meta.labels.items()))
    rule = ExceptionRule(rules=(open_pvc.rule_id,), reason="test", owner="team",
                         selector=Selector(kind="PersistentVolumeClaim", labels={key: value}))
    index = subjects(inv)
    out, report = apply(results, [rule], index, demo_as_of())
    assert index._index is not None
    excepted = [r for r in out if r.status == "excepted"]
    assert any((r.namespace, r.name) == (open_pvc.namespace, open_pvc.name) for r in excepted)
    labelled = {(p.meta.namespace, p.meta.name) for p in inv.pvcs if p.meta.labels.get(key) == value}
    assert all((r.namespace, r.name) in labelled for r in excepted)
    assert report.matched[0][1] == len(excepted)
