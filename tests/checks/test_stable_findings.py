"""Findings keep their identity across runs and do not cry wolf (issue 12, item 6)."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.analyse.coverage import analyse_cluster
from auditor.analyse.exceptions import apply as apply_exceptions
from auditor.analyse.subjects import subjects
from auditor.checks import evaluate
from auditor.config import AuditConfig
from auditor.config.waivers import ExceptionRule, Selector
from auditor.load.rules import load_catalog
from auditor.model.rules import Finding
from auditor.store.identity import identity
from tests import factories as f
from tests.checks.rule_fixtures import app, csi_backup
from tests.velero_install import velero_install


def results(objects: list[Any], rule_id: str) -> list[Finding]:
    analysis = analyse_cluster(f.inventory(*objects), AuditConfig(), f.AS_OF)
    return [r for r in evaluate(analysis, [r for r in load_catalog() if r.id == rule_id]) if r.rule_id == rule_id]


def open_(found: list[Finding]) -> list[Finding]:
    return [r for r in found if r.status == "open"]


def hourly(latest: str, phase: str, hours_ago: float) -> list[Any]:
    return [*f.base_cluster(), *app("billing", "ledger"),
            f.schedule("billing-hourly", cron="0 * * * *", includedNamespaces=["billing"]),
            csi_backup("billing-hourly-20261120060041", "billing-hourly", hours_ago=6),
            f.backup(latest, schedule_name="billing-hourly", phase=phase, hours_ago=hours_ago,
                     status={"failureReason": "rpc error: code = Unknown"} if phase == "Failed" else {"errors": 2})]


@pytest.mark.parametrize(("rule_id", "phase"), [("FRS-002", "Failed"), ("FRS-003", "PartiallyFailed")])
def test_schedule_failure_findings_keep_their_identity_from_one_backup_to_the_next(rule_id: str, phase: str) -> None:
    first = open_(results(hourly("billing-hourly-20261120100034", phase, 2), rule_id))
    second = open_(results(hourly("billing-hourly-20261120110034", phase, 1), rule_id))
    assert len(first) == len(second) == 1
    a, b = first[0], second[0]
    assert (a.kind, a.namespace, a.name) == ("Schedule", "velero", "billing-hourly")
    assert identity(a.rule_id, a.cluster, a.kind, a.namespace, a.name) == \
        identity(b.rule_id, b.cluster, b.kind, b.namespace, b.name), "the same finding in the history store"
    assert "billing-hourly-20261120100034" in a.message and "billing-hourly-20261120110034" in b.message
    assert b.evidence["backup"] == "billing-hourly-20261120110034" and b.evidence["phase"] == phase


def test_an_exception_can_name_the_failing_schedule() -> None:
    objects = hourly("billing-hourly-20261120110034", "Failed", 1)
    analysis = analyse_cluster(f.inventory(*objects), AuditConfig(), f.AS_OF)
    found = [r for r in evaluate(analysis, load_catalog()) if r.rule_id == "FRS-002"]
    waiver = ExceptionRule(id="billing-maintenance", rules=("FRS-002",),
                           selector=Selector(kind="Schedule", name="billing-hourly"), reason="bucket migration",
                           owner="platform", expires=f.AS_OF.date().replace(year=2027))
    applied, _ = apply_exceptions(found, [waiver], subjects(analysis.inventory), f.AS_OF)
    assert [r.status for r in applied if r.name == "billing-hourly"] == ["excepted"]


def paused_only(hours_ago: float) -> list[Any]:
    """The volume's only schedule (file-system backup) was paused after its last backup, ``hours_ago`` hours
    ago; the PodVolumeBackup still proves that copy."""
    pvb = f.pod_volume_backup("shop-daily-1-x7k2p", "shop-daily-1", "shop", "data-0", "data", "data")
    pvb["status"].update(startTimestamp=f.ts(hours_ago), completionTimestamp=f.ts(hours_ago - 0.05))
    return [*f.base_cluster(), *app("shop"),
            f.schedule("shop-daily", paused=True, includedNamespaces=["shop"], defaultVolumesToFsBackup=True),
            f.backup("shop-daily-1", schedule_name="shop-daily", hours_ago=hours_ago, defaultVolumesToFsBackup=True),
            pvb]


def test_a_volume_whose_only_schedule_is_paused_gets_cov001_at_once_saying_when_it_lapses() -> None:
    found = open_(results(paused_only(3), "COV-001"))
    assert [(x.namespace, x.name) for x in found] == [("shop", "data")]
    # newest point 3h ago + the default 24h RPO
    assert "until 2026-11-21T09:00:00Z" in found[0].message and found[0].evidence["status"] == "protected"
    assert found[0].evidence["protected_until"] == "2026-11-21T09:00:00Z"


def test_a_covered_protected_volume_gets_no_cov001() -> None:
    objects = [*f.base_cluster(), *app("shop"), f.schedule("shop-daily", includedNamespaces=["shop"]),
               csi_backup("shop-daily-1", "shop-daily", hours_ago=3)]
    found = results(objects, "COV-001")
    assert not open_(found) and [x.status for x in found] == ["pass"]


def test_frs001_fires_whatever_the_status_once_the_newest_point_is_beyond_the_rpo() -> None:
    found = open_(results(paused_only(30), "FRS-001"))  # unprotected now: the schedule is paused
    assert [(x.name, x.evidence["status"]) for x in found] == [("data", "unprotected")]
    assert "1d6h old" in found[0].message and "no enabled schedule captures it" in found[0].message
    assert not open_(results(paused_only(3), "FRS-001")), "within the RPO: no FRS-001"


def test_a_recovery_point_dated_after_the_scan_proves_nothing() -> None:
    objects = [*f.base_cluster(), *app("shop"), f.schedule("shop-daily", includedNamespaces=["shop"]),
               csi_backup("shop-daily-1", "shop-daily", hours_ago=-24 * 365)]
    analysis = analyse_cluster(f.inventory(*objects), AuditConfig(), f.AS_OF)
    (volume,) = analysis.volumes
    assert volume.status == "unknown" and "after the scan time" in volume.reasons[0]


# --- CRD-006: values, not names ------------------------------------------------------------------


def test_velero_install_raises_no_crd006() -> None:
    objects = velero_install()
    found = results(objects, "CRD-006")
    pods = [o for o in objects if o["kind"] == "Pod"]
    assert not open_(found), [x.message for x in found]
    assert len([x for x in found if x.status == "pass"]) == len(pods) == 3, "every pod was judged"


@pytest.mark.parametrize(("env", "variable"), [
    ({"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, "AWS_SECRET_ACCESS_KEY"),
    ({"name": "GOOGLE_APPLICATION_CREDENTIALS",
      "value": '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE"}'},
     "GOOGLE_APPLICATION_CREDENTIALS"),
    ({"name": "S3_SETTINGS", "value": "AKIAIOSFODNN7EXAMPLE"}, "S3_SETTINGS"),
    ({"name": "REPO_URL", "value": "s3://minio:minio123@minio.example:9000/velero"}, "REPO_URL"),
])
def test_a_literal_credential_is_found_whatever_the_variable_is_called(env: dict[str, str], variable: str) -> None:
    found = open_(results(velero_install(extra_env=[env]), "CRD-006"))
    assert len(found) == 3 and all(f"/{variable}" in x.message for x in found)


@pytest.mark.parametrize("env", [
    {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "cloud-credentials", "key": "secret"}}},
    {"name": "VELERO_SECRET_DIR", "value": "/credentials"},
    {"name": "TOKEN_ENDPOINT", "value": "https://sts.amazonaws.com"},
    {"name": "USE_CREDENTIALS", "value": "true"},
    {"name": "PASSWORD_FILE", "value": "$(VELERO_SCRATCH_DIR)/pw"},
])
def test_references_are_not_credentials(env: dict[str, Any]) -> None:
    assert not open_(results(velero_install(extra_env=[env]), "CRD-006"))


@pytest.mark.parametrize(("text", "fires"), [
    ("password: hunter2", True), ('password: "hunter2"', True), ("password: /etc/restic/password", False),
    ("password: ${RESTIC_PASSWORD}", False), ("password: {{ .Values.password }}", False),
    ("client_secret = 3w8Q~abc", True), ("aws_secret_access_key = $AWS_SECRET", False),
])
def test_configmap_text_is_judged_on_its_value(text: str, fires: bool) -> None:
    objects = [*velero_install(), f.config_map("tooling", {"config": text})]
    found = [x for x in open_(results(objects, "CRD-006")) if x.kind == "ConfigMap"]
    assert bool(found) is fires, text
