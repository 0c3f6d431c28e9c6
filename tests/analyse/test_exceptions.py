"""Exceptions: matching, expiry, annotation sources, and the register of matched, unused and expired ones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from auditor.analyse.exceptions import ExceptionRule, Selector, Subject, from_annotations, matches
from auditor.config import AuditConfig, load_exceptions
from auditor.errors import ConfigError
from auditor.pipeline import ScanOptions, run_scan
from tests import factories as f
from tests.checks.rule_fixtures import app

PVC = Subject("prod", "PersistentVolumeClaim", "legacy", "crm-files", {"app": "crm"})


@pytest.mark.parametrize(("selector", "rules", "hit"), [
    (Selector(), ("COV-001",), True),
    (Selector(), ("*",), True),
    (Selector(), ("COV-002",), False),
    (Selector(cluster="prod*", namespace="leg*"), ("COV-001",), True),
    (Selector(cluster="stag*"), ("COV-001",), False),
    (Selector(kind="Namespace"), ("COV-001",), False),
    (Selector(name="crm-.*"), ("COV-001",), True),
    (Selector(name="crm"), ("COV-001",), False),  # regex must match in full
    (Selector(labels={"app": "crm"}), ("COV-001",), True),
    (Selector(labels={"app": "web"}), ("COV-001",), False),
])
def test_matching(selector: Selector, rules: tuple[str, ...], hit: bool) -> None:
    rule = ExceptionRule(rules=rules, selector=selector, reason="r", owner="o")
    assert matches(rule, "COV-001", PVC) is hit


def test_expiry_is_inclusive_of_the_day() -> None:
    rule = ExceptionRule(rules=("*",), reason="r", owner="o", expires=date(2026, 11, 20))
    assert not rule.expired(f.AS_OF)
    assert ExceptionRule(rules=("*",), reason="r", owner="o", expires=date(2026, 11, 19)).expired(f.AS_OF)


def test_annotations_need_reason_and_owner() -> None:
    ok = from_annotations("prod", "Namespace", None, "legacy", {
        "backup-auditor.io/exempt": "COV-003, COV-001", "backup-auditor.io/exempt-reason": "retired",
        "backup-auditor.io/exempt-owner": "ops", "backup-auditor.io/exempt-expires": "2027-01-31"})
    assert ok is not None and ok.rules == ("COV-003", "COV-001") and ok.expires == date(2027, 1, 31)
    assert from_annotations("prod", "Namespace", None, "legacy", {"backup-auditor.io/exempt": "COV-003"}) is None


def test_file_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "ex.yaml"
    bad.write_text("exceptions:\n- rules: [COV-001]\n  reason: r\n")
    with pytest.raises(ConfigError, match=r"key exceptions\.0\.owner"):
        load_exceptions(bad)
    bad.write_text("exceptions:\n- rules: [COV-001]\n  reason: r\n  owner: o\n  selector: {name: '('}\n")
    with pytest.raises(ConfigError, match="invalid regular expression"):
        load_exceptions(bad)


def test_register_matched_unused_expired(tmp_path: Path) -> None:
    import json

    objs = [*f.base_cluster(), *app("legacy"), f.schedule("daily", includedNamespaces=["shop"])]
    d = tmp_path / "dump"
    d.mkdir()
    (d / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    exceptions = (
        ExceptionRule(id="crm", rules=("COV-001",), selector=Selector(namespace="legacy"), reason="retiring",
                      owner="team-crm", expires=date(2027, 1, 1)),
        ExceptionRule(id="nothing", rules=("FRS-004",), reason="r", owner="o"),
        ExceptionRule(id="old", rules=("COV-003",), selector=Selector(name="legacy"), reason="r", owner="o",
                      expires=date(2026, 1, 1)),
    )
    result = run_scan(ScanOptions(snapshots=(d,), as_of=f.AS_OF, config=AuditConfig(exceptions=exceptions)))
    cov1 = [x for x in result.findings if x.rule_id == "COV-001"]
    assert cov1 and all(x.status == "excepted" and x.exception["owner"] == "team-crm" for x in cov1)
    assert [x.status for x in result.findings if x.rule_id == "COV-003" and x.name == "legacy"] == ["open"]
    reg = result.exceptions
    assert reg is not None
    assert [(e.key, n) for e, n in reg.matched] == [("crm", len(cov1))]
    assert [e.key for e in reg.unused] == ["nothing"] and [e.key for e in reg.expired] == ["old"]
    assert any(x.rule_id == "GOV-004" and x.name == "old" and x.status == "open" for x in result.findings)
