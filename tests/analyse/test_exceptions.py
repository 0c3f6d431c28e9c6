"""Exceptions: matching, expiry, annotation sources, and the register of matched, unused and expired ones."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from auditor.analyse.exceptions import Subject, from_annotations, matches
from auditor.config import AuditConfig, load_exceptions
from auditor.config.waivers import ExceptionRule, Selector
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


COMPLETE = {"backup-auditor.io/exempt": "COV-003, COV-001", "backup-auditor.io/exempt-reason": "retired",
            "backup-auditor.io/exempt-owner": "ops", "backup-auditor.io/exempt-expires": "2027-01-31"}


def test_annotations_need_reason_owner_and_expiry() -> None:
    ok = from_annotations("prod", "Namespace", None, "legacy", COMPLETE)
    assert ok is not None and ok.rules == ("COV-003", "COV-001") and ok.expires == date(2027, 1, 31)
    assert ok.scope == "prod/*/Namespace/legacy" and ok.invalid is None
    assert from_annotations("prod", "Namespace", None, "legacy", {}) is None
    subject = Subject("prod", "Namespace", None, "legacy", {})
    assert matches(ok, "COV-003", subject)
    # an incomplete annotation is cluster data, not configuration: rejected (it matches nothing), never fatal
    for suffix in ("-reason", "-owner", "-expires"):
        notes = {k: v for k, v in COMPLETE.items() if k != f"backup-auditor.io/exempt{suffix}"}
        rejected = from_annotations("prod", "Namespace", None, "legacy", notes)
        assert rejected is not None and rejected.invalid is not None
        assert rejected.invalid.startswith(f"annotation backup-auditor.io/exempt{suffix} is missing")
        assert not matches(rejected, "COV-003", subject)
    bad_date = from_annotations("prod", "PersistentVolumeClaim", "ci", "build-cache",
                                {**COMPLETE, "backup-auditor.io/exempt-expires": "next year"})
    assert bad_date is not None and "not a date" in (bad_date.invalid or "")
    no_rule = from_annotations("prod", "Namespace", None, "legacy", {**COMPLETE, "backup-auditor.io/exempt": " , "})
    assert no_rule is not None and "names no rule" in (no_rule.invalid or "")


def test_annotation_scope_shows_the_name_not_its_regex() -> None:
    rule = from_annotations("staging", "PersistentVolumeClaim", "ci", "build-cache", COMPLETE)
    assert rule is not None and rule.selector.name == r"build\-cache"
    assert rule.scope == "staging/ci/PersistentVolumeClaim/build-cache"


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
        ExceptionRule(id="nothing", rules=("FRS-004",), reason="r", owner="o", expires=date(2027, 1, 1)),
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


def write_dump(directory: Path, objs: list[Any], cluster: str | None = None) -> Path:
    import json

    directory.mkdir()
    (directory / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    return directory


def legacy_dump(tmp_path: Path, name: str = "dump", annotate: bool = False) -> Path:
    objs = [*f.base_cluster(), *app("legacy"), f.schedule("daily", includedNamespaces=["shop"])]
    if annotate:
        ns = next(o for o in objs if o["kind"] == "Namespace" and o["metadata"]["name"] == "legacy")
        ns["metadata"]["annotations"] = {**COMPLETE, "backup-auditor.io/exempt": "COV-003"}
    return write_dump(tmp_path / name, objs)


def waiver(key: str, expires: date | None, rules: tuple[str, ...] = ("COV-001",), **selector: str) -> ExceptionRule:
    return ExceptionRule(id=key, rules=rules, selector=Selector(**selector), reason="r", owner="o", expires=expires)


@pytest.mark.parametrize(("expires", "message"), [
    (None, r"waiver w1 \(config\): no expires: every waiver needs an expiry date at most exceptions.max_days \(30\)"),
    (date(2027, 1, 1), r"waiver w1 \(config\): expires 2027-01-01 is 42 days after the scan \(2026-11-20\), "
                       r"beyond exceptions.max_days \(30\)"),
])
def test_every_waiver_is_time_bound(tmp_path: Path, expires: date | None, message: str) -> None:
    config = AuditConfig.model_validate({"exceptions": {"max_days": 30, "waivers": [
        waiver("w1", expires).model_dump()]}})
    with pytest.raises(ConfigError, match=message):
        run_scan(ScanOptions(snapshots=(legacy_dump(tmp_path),), as_of=f.AS_OF, config=config))
    ok = AuditConfig.model_validate({"exceptions": {"max_days": 30, "waivers": [
        waiver("w1", date(2026, 12, 20)).model_dump()]}})
    assert run_scan(ScanOptions(snapshots=(legacy_dump(tmp_path, "dump2"),), as_of=f.AS_OF, config=ok)).exceptions


def test_annotation_waivers_are_off_unless_the_config_opts_in(tmp_path: Path) -> None:
    dump = legacy_dump(tmp_path, annotate=True)

    def cov3(config: AuditConfig) -> list[str]:
        result = run_scan(ScanOptions(snapshots=(dump,), as_of=f.AS_OF, config=config))
        return [x.status for x in result.results if x.rule_id == "COV-003" and x.name == "legacy"]

    assert cov3(AuditConfig()) == ["open"]
    assert cov3(AuditConfig.model_validate({"exceptions": {"from_annotations": True}})) == ["excepted"]
    # an opted-in annotation must be complete and time-bound like any waiver; one that is not is rejected and
    # reported (GOV-004), and the scan goes on: cluster data never aborts the run
    far = AuditConfig.model_validate({"exceptions": {"from_annotations": True, "max_days": 30}})
    assert cov3(far) == ["open"]
    result = run_scan(ScanOptions(snapshots=(dump,), as_of=f.AS_OF, config=far))
    gov4 = [x for x in result.findings if x.rule_id == "GOV-004" and x.name == "annotation:dump/Namespace/legacy"]
    assert [x.status for x in gov4] == ["open"]
    assert "is rejected: expires 2027-01-31 is 72 days after the scan" in gov4[0].message
    assert not any(x.rule_id == "GOV-005" and x.name == "annotation:dump/Namespace/legacy" for x in result.results)


def test_a_list_is_still_read_as_the_waivers() -> None:
    config = AuditConfig.model_validate({"exceptions": [waiver("w1", date(2027, 1, 1)).model_dump()]})
    assert [w.key for w in config.exceptions.waivers] == ["w1"] and not config.exceptions.from_annotations


def test_gov005_counts_use_across_the_clusters_of_a_run(tmp_path: Path) -> None:
    """A waiver for every cluster that excepts a finding in one of them is in use; one that matches nothing in
    any is a GOV-005 finding in each cluster it names; one whose rules were not evaluated is not judged."""
    prod = legacy_dump(tmp_path, "prod")
    staging = write_dump(tmp_path / "staging", [*f.base_cluster(), f.schedule("daily")])
    waivers = (waiver("crm", date(2027, 1, 1), namespace="legacy"),
               waiver("gone", date(2027, 1, 1), namespace="shop", name="uploads-legacy"),
               waiver("creds", date(2027, 1, 1), rules=("CRD-001",), namespace="nowhere"))
    config = AuditConfig(exceptions=waivers)
    result = run_scan(ScanOptions(snapshots=(prod, staging), as_of=f.AS_OF, config=config))
    gov5 = {(x.cluster, x.name): x.status for x in result.results if x.rule_id == "GOV-005"}
    clusters = sorted({c for c, _ in gov5})
    assert len(clusters) == 2
    for c in clusters:
        assert gov5[(c, "crm")] == "pass" and gov5[(c, "gone")] == "open" and gov5[(c, "creds")] == "open"
    focused = run_scan(ScanOptions(snapshots=(prod, staging), as_of=f.AS_OF, config=config, framework="soc2"))
    gov5 = {(x.cluster, x.name): x.status for x in focused.results if x.rule_id == "GOV-005"}
    # CRD-001 is not a SOC 2 rule: with --framework soc2 nobody knows whether "creds" would except anything
    assert {s for (_, n), s in gov5.items() if n == "creds"} == {"not-evaluated"}
    assert {s for (_, n), s in gov5.items() if n == "gone"} == {"open"}


def test_cli_refuses_a_waiver_beyond_max_days_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditor.cli import main
    from auditor.demo import CONFIG_FILE

    config = tmp_path / "policy.yaml"
    config.write_text(CONFIG_FILE.read_text().replace("max_days: 365", "max_days: 30"))
    result = CliRunner().invoke(main, ["scan", "--demo", "--config", str(config)])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: waiver legacy-crm-decommission (config): expires 2027-01-31 is 72 days "
                                     "after the scan (2026-11-20), beyond exceptions.max_days (30)")


def test_gov005_is_not_evaluated_when_a_gap_could_hide_the_waived_finding() -> None:
    """A failed PVC list is not "the PVC is gone": the waiver's use is unknown, never an unused-waiver finding."""
    from auditor.model.inventory import Gap
    from tests.checks.rule_fixtures import exception, scheduled
    from tests.checks.test_rules import findings_for

    gap = Gap("persistentvolumeclaims", "forbidden", "persistentvolumeclaims is forbidden")
    waiver = exception(date(2027, 6, 30))
    results = [x for x in findings_for("GOV-005", [*scheduled(includedNamespaces=["shop"]), waiver, gap])
               if x.rule_id == "GOV-005"]
    assert [x.status for x in results] == ["not-evaluated"]
    assert "could not read persistentvolumeclaims" in results[0].message
    results = [x for x in findings_for("GOV-005", [*scheduled(includedNamespaces=["shop"]),
                                                    exception(date(2027, 6, 30))]) if x.rule_id == "GOV-005"]
    assert [x.status for x in results] == ["open"]
