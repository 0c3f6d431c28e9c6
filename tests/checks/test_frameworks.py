"""Framework files: every control names existing rules, and every rule's mapping appears in its framework."""

from __future__ import annotations

from auditor.analyse.compliance import ControlResult, score
from auditor.load.frameworks import frameworks_dir, load_frameworks
from auditor.load.rules import load_catalog
from auditor.model.rules import Finding

EXPECTED = {
    "iso27001": {"A.8.13", "A.5.29", "A.5.30", "A.8.14"},
    "nist-800-53": {"CP-9", "CP-9(1)", "CP-9(8)", "CP-10", "CP-4", "CP-6"},
    "soc2": {"A1.2", "A1.3", "CC7.2"},
    "hipaa": {"164.308(a)(7)(ii)(A)", "164.308(a)(7)(ii)(B)", "164.308(a)(7)(ii)(D)", "164.312"},
    "pci-dss": {"9.4.1.1", "12.10.1", "3.5.1", "8.6.2"},
    "dora": {"Art. 12(1)", "Art. 12(2)", "Art. 12(3)", "Art. 12(4)", "Art. 12(6)", "Art. 12(7)"},
}


def test_frameworks_and_rules_agree() -> None:
    rules = {r.id: r for r in load_catalog()}
    frameworks = {fw.id: fw for fw in load_frameworks(frameworks_dir())}
    assert {k: {c.id for c in fw.controls} for k, fw in frameworks.items()} == EXPECTED
    for fw in frameworks.values():
        for control in fw.controls:
            assert control.rules, f"{fw.id} {control.id} is evidenced by no rule"
            for rule_id in control.rules:
                assert rule_id in rules, f"{fw.id} {control.id} names unknown rule {rule_id}"
                assert control.id in rules[rule_id].frameworks.get(fw.id, []), f"{rule_id} lacks {fw.id} {control.id}"
    for rule in rules.values():
        for fw_id, controls in rule.frameworks.items():
            assert fw_id in frameworks, f"{rule.id} maps unknown framework {fw_id}"
            for cid in controls:
                control = next((c for c in frameworks[fw_id].controls if c.id == cid), None)
                assert control is not None and rule.id in control.rules, f"{rule.id} → {fw_id} {cid} missing"


def result(rule: str, status: str) -> Finding:
    return Finding(rule, "high", "c", "Cluster", None, "c", "", {}, status)


def test_score_counts_not_evaluated_as_nothing_but_coverage() -> None:
    fw = next(f for f in load_frameworks(frameworks_dir()) if f.id == "pci-dss")
    results = [result("CRD-001", "pass"), result("CRD-001", "open"), result("CRD-002", "not-evaluated"),
               result("CRD-006", "excepted"), result("LOC-003", "pass")]
    s = score(fw, results)
    assert s.score == round(2 / 3, 4)  # 2 pass, 1 fail; not-evaluated and excepted are not passes
    assert s.coverage == round(4 / 5, 4)
    by_id: dict[str, ControlResult] = {c.control_id: c for c in s.controls}
    assert by_id["3.5.1"].status == "fail"  # CRD-001 failed once
    assert by_id["12.10.1"].status == "not-evaluated"
    assert score(fw, []).score is None


def test_rollup_of_one_cluster_equals_its_score() -> None:
    from auditor.analyse.scan import ClusterScan, ScanResult
    from auditor.output.document import compliance_rollup
    from tests.factories import AS_OF

    fw = next(f for f in load_frameworks(frameworks_dir()) if f.id == "iso27001")
    results = [result("COV-001", "pass"), result("COV-001", "open"), result("COV-005", "pass")]
    s = score(fw, results)
    rollup = compliance_rollup(ScanResult(AS_OF, (ClusterScan("c", None, (), None, (s,)),), ()))
    assert [r["score"] for r in rollup] == [s.score]
