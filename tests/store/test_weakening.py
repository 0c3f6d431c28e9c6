"""GOV-002: each weakening, seen by two scans recorded in a store; unrelated changes raise nothing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests import factories as f
from tests.store.scans import DAY, backup, cluster, gov002, scan

S = f.schedule
T0, T1 = f.AS_OF - DAY, f.AS_OF


def scaled(replicas: int) -> dict[str, Any]:
    d = f.velero_deployment(ready=replicas)
    d["spec"]["replicas"] = replicas
    d["status"] = {"replicas": replicas, "readyReplicas": replicas}
    return d


def agent_on_no_node() -> list[dict[str, Any]]:
    ds, *_pods = f.node_agent()
    ds = copy.deepcopy(ds)
    ds["status"] = {"desiredNumberScheduled": 0, "numberReady": 0}
    return [ds]


def policy(action: str) -> dict[str, Any]:
    return f.config_map("volume-policy", {"policy.yaml": (
        "version: v1\nvolumePolicies:\n- conditions:\n    storageClass: [ceph-rbd]\n"
        f"  action:\n    type: {action}\n")})


POLICY_REF: dict[str, Any] = {"resourcePolicy": {"kind": "configmap", "name": "volume-policy"}}
TWO_BSLS = [f.bsl(), f.bsl("other", default=False, objectStorage={"bucket": "other", "prefix": "c"})]
OLD = backup("daily-0", hours_ago=48)
NEW = backup("daily-1", hours_ago=25)

# (case, first scan, second scan, the findings expected: {(kind, name): {change codes}})
WEAKENINGS: list[tuple[str, list[Any], list[Any], dict[tuple[str, str], set[str]]]] = [
    ("schedule deleted", cluster(schedule=S("daily")), cluster(),
     {("Schedule", "daily"): {"schedule_deleted"}}),
    ("schedule paused", cluster(schedule=S("daily")), cluster(schedule=S("daily", paused=True)),
     {("Schedule", "daily"): {"schedule_paused"}}),
    ("ttl cut from 30d to 1d", cluster(schedule=S("daily")), cluster(schedule=S("daily", ttl="24h0m0s")),
     {("Schedule", "daily"): {"ttl_reduced"}}),
    ("hourly to daily", cluster(schedule=S("daily", cron="0 * * * *")), cluster(schedule=S("daily")),
     {("Schedule", "daily"): {"cron_widened"}}),
    ("daily to weekdays only", cluster(schedule=S("daily")), cluster(schedule=S("daily", cron="0 2 * * 1-5")),
     {("Schedule", "daily"): {"cron_widened"}}),
    ("@every 6h to @every 24h", cluster(schedule=S("daily", cron="@every 6h")),
     cluster(schedule=S("daily", cron="@every 24h")), {("Schedule", "daily"): {"cron_widened"}}),
    ("cron made invalid", cluster(schedule=S("daily")),
     cluster(schedule=S("daily", cron="61 * * * *", phase="FailedValidation")),
     {("Schedule", "daily"): {"cron_widened"}}),
    ("namespaces narrowed", cluster(schedule=S("daily")), cluster(schedule=S("daily", includedNamespaces=["web"])),
     {("Schedule", "daily"): {"namespaces_narrowed"}}),
    ("namespace excluded", cluster(schedule=S("daily", includedNamespaces=["*"])),
     cluster(schedule=S("daily", includedNamespaces=["*"], excludedNamespaces=["shop"])),
     {("Schedule", "daily"): {"namespaces_narrowed"}}),
    ("selector added", cluster(schedule=S("daily")),
     cluster(schedule=S("daily", labelSelector={"matchLabels": {"app": "db"}})),
     {("Schedule", "daily"): {"selectors_narrowed"}}),
    ("selector values narrowed",
     cluster(schedule=S("daily", labelSelector={"matchExpressions": [
         {"key": "tier", "operator": "In", "values": ["gold", "silver"]}]})),
     cluster(schedule=S("daily", labelSelector={"matchExpressions": [
         {"key": "tier", "operator": "In", "values": ["gold"]}]})),
     {("Schedule", "daily"): {"selectors_narrowed"}}),
    ("PVCs excluded", cluster(schedule=S("daily")),
     cluster(schedule=S("daily", excludedResources=["persistentvolumeclaims"])),
     {("Schedule", "daily"): {"resources_narrowed"}}),
    ("snapshots switched off", cluster(schedule=S("daily")), cluster(schedule=S("daily", snapshotVolumes=False)),
     {("Schedule", "daily"): {"snapshots_disabled"}}),
    ("volume policy now skips", cluster(schedule=S("daily", **POLICY_REF), extra=[policy("snapshot")]),
     cluster(schedule=S("daily", **POLICY_REF), extra=[policy("skip")]),
     {("Schedule", "daily"): {"volume_policy_skips"}}),
    ("volume policy ConfigMap deleted", cluster(schedule=S("daily", **POLICY_REF), extra=[policy("snapshot")]),
     cluster(schedule=S("daily", **POLICY_REF)), {("Schedule", "daily"): {"volume_policy_skips"}}),
    ("schedule writes elsewhere", cluster(schedule=S("daily"), bsls=TWO_BSLS),
     cluster(schedule=S("daily", storageLocation="other"), bsls=TWO_BSLS),
     {("Schedule", "daily"): {"storage_location_changed"}}),
    ("bucket changed", cluster(), cluster(bsls=[f.bsl(objectStorage={"bucket": "attacker", "prefix": "cluster"})]),
     {("BackupStorageLocation", "default"): {"storage_location_changed"}}),
    ("prefix changed", cluster(), cluster(bsls=[f.bsl(objectStorage={"bucket": "backups", "prefix": "x"})]),
     {("BackupStorageLocation", "default"): {"storage_location_changed"}}),
    ("provider changed", cluster(), cluster(bsls=[f.bsl(provider="velero.io/gcp")]),
     {("BackupStorageLocation", "default"): {"storage_location_changed"}}),
    ("endpoint changed", cluster(bsls=[f.bsl(config={"s3Url": "https://minio.a"})]),
     cluster(bsls=[f.bsl(config={"s3Url": "https://minio.b"})]),
     {("BackupStorageLocation", "default"): {"storage_location_changed"}}),
    ("switched to ReadOnly", cluster(), cluster(bsls=[f.bsl(accessMode="ReadOnly")]),
     {("BackupStorageLocation", "default"): {"bsl_read_only"}}),
    ("default location changed", cluster(bsls=TWO_BSLS),
     cluster(bsls=[f.bsl(default=False), f.bsl("other", objectStorage={"bucket": "other", "prefix": "c"})]),
     {("BackupStorageLocation", "default"): {"default_bsl_changed"}}),
    ("location deleted", cluster(bsls=TWO_BSLS), cluster(),
     {("BackupStorageLocation", "other"): {"storage_location_changed"}}),
    ("velero scaled to zero", cluster(), cluster(deployment=scaled(0)),
     {("Deployment", "velero"): {"velero_scaled_down"}}),
    ("velero deleted", cluster(), cluster(deployment=None), {("Deployment", "velero"): {"velero_scaled_down"}}),
    ("node-agent removed", cluster(), cluster(node_agent=None), {("DaemonSet", "node-agent"): {"node_agent_removed"}}),
    ("node-agent on no node", cluster(), cluster(node_agent=agent_on_no_node()),
     {("DaemonSet", "node-agent"): {"node_agent_removed"}}),
    ("backup deleted before expiry", cluster(backups=[OLD, NEW]), cluster(backups=[NEW]),
     {("Backup", "daily-0"): {"backup_deleted_early"}}),
]

# (case, first scan, second scan): nothing weakened
UNRELATED: list[tuple[str, list[Any], list[Any]]] = [
    ("same cluster", cluster(schedule=S("daily")), cluster(schedule=S("daily"))),
    ("new backup, PVC, namespace and schedule", cluster(schedule=S("daily")),
     cluster(schedule=S("daily"), backups=[NEW, backup("daily-2", hours_ago=1)],
             extra=[f.namespace("web"), f.pvc("cache", "web", volume="pv-web"), f.pv("pv-web", "web", "cache"),
                    S("weekly", cron="0 3 * * 0")])),
    ("expired backup collected", cluster(backups=[backup("daily-0", hours_ago=721), NEW]), cluster(backups=[NEW])),
    ("failed backup deleted", cluster(backups=[backup("daily-0", hours_ago=48, phase="Failed"), NEW]),
     cluster(backups=[NEW])),
    ("ttl extended", cluster(schedule=S("daily")), cluster(schedule=S("daily", ttl="2160h0m0s"))),
    ("runs more often", cluster(schedule=S("daily")), cluster(schedule=S("daily", cron="0 */6 * * *"))),
    ("other time of day", cluster(schedule=S("daily")), cluster(schedule=S("daily", cron="30 4 * * *"))),
    ("same cron in a time zone", cluster(schedule=S("daily")),
     cluster(schedule=S("daily", cron="CRON_TZ=Europe/Berlin 0 3 * * *"))),
    ("selector removed", cluster(schedule=S("daily", labelSelector={"matchLabels": {"app": "db"}})),
     cluster(schedule=S("daily"))),
    ("selector values widened",
     cluster(schedule=S("daily", labelSelector={"matchLabels": {"tier": "gold"}})),
     cluster(schedule=S("daily", labelSelector={"matchExpressions": [
         {"key": "tier", "operator": "In", "values": ["gold", "silver"]}]}))),
    ("namespaces widened", cluster(schedule=S("daily", includedNamespaces=["shop"])),
     cluster(schedule=S("daily", includedNamespaces=["shop", "web"]))),
    ("explicit default location", cluster(schedule=S("daily")),
     cluster(schedule=S("daily", storageLocation="default"))),
    ("unpaused", cluster(schedule=S("daily", paused=True)), cluster(schedule=S("daily"))),
    ("velero scaled up", cluster(), cluster(deployment=scaled(2))),
]


def codes(finding: Any) -> set[str]:
    return {c["change"] for c in finding.evidence["changes"]}


#: One case per kind of object also runs on PostgreSQL (the state goes through JSONB there).
ON_POSTGRES = {"ttl cut from 30d to 1d", "selector values narrowed", "bucket changed", "velero scaled to zero",
               "node-agent removed", "backup deleted before expiry"}
CASES = [pytest.param("sqlite", *c[1:], id=f"sqlite-{c[0]}") for c in WEAKENINGS] + [
    pytest.param("postgresql", *c[1:], id=f"postgresql-{c[0]}") for c in WEAKENINGS if c[0] in ON_POSTGRES]


@pytest.mark.parametrize(("backend", "before", "after", "expected"), CASES)
def test_weakening_is_found_by_the_next_scan(request: pytest.FixtureRequest, tmp_path: Path, backend: str,
                                            before: list[Any], after: list[Any],
                                            expected: dict[tuple[str, str], set[str]]) -> None:
    url = str(tmp_path / "store.db") if backend == "sqlite" else request.getfixturevalue("postgres").create_database()
    first = scan(url, before, T0, tmp_path)
    assert not gov002(first), "the first scan has nothing to compare with"
    found = gov002(scan(url, after, T1, tmp_path))
    assert {(x.kind, x.name): codes(x) for x in found} == expected
    for x in found:
        assert x.namespace == f.VELERO_NS
        assert x.evidence["first_seen"] == "2026-11-20T12:00:00Z"
        assert x.evidence["previous_scan"] == "2026-11-19T12:00:00Z"
        assert x.evidence["before"], "the baseline is in the evidence"
        assert x.rule_id == "GOV-002" and x.severity == "high"


@pytest.mark.parametrize(("before", "after"), [c[1:] for c in UNRELATED], ids=[c[0] for c in UNRELATED])
def test_unrelated_change_raises_nothing(sqlite_url: str, tmp_path: Path, before: list[Any],
                                         after: list[Any]) -> None:
    scan(sqlite_url, before, T0, tmp_path)
    second = scan(sqlite_url, after, T1, tmp_path)
    assert not gov002(second), [x.message for x in gov002(second)]
    assert gov002(second, "pass"), "the objects were compared"


def test_backup_gone_from_the_bucket_while_its_object_remains(sqlite_url: str, tmp_path: Path) -> None:
    """With the bucket catalog read, data that vanished is seen before Velero's sync deletes the object."""
    scan(sqlite_url, cluster(backups=[OLD, NEW]), T0, tmp_path, catalog=[OLD, NEW])
    found = gov002(scan(sqlite_url, cluster(backups=[OLD, NEW]), T1, tmp_path, catalog=[NEW]))
    assert [(x.kind, x.name) for x in found] == [("Backup", "daily-0")]
    assert "disappeared from the bucket" in found[0].message


def test_backup_still_in_the_bucket_is_not_lost(sqlite_url: str, tmp_path: Path) -> None:
    scan(sqlite_url, cluster(backups=[OLD, NEW]), T0, tmp_path, catalog=[OLD, NEW])
    assert not gov002(scan(sqlite_url, cluster(backups=[NEW]), T1, tmp_path, catalog=[OLD, NEW]))


def test_each_weakening_can_be_switched_off(sqlite_url: str, tmp_path: Path) -> None:
    from auditor.config import AuditConfig

    config = AuditConfig.model_validate({"history": {"weakening": {"ttl_reduced": False}}})
    scan(sqlite_url, cluster(schedule=S("daily")), T0, tmp_path, config=config)
    second = scan(sqlite_url, cluster(schedule=S("daily", ttl="24h0m0s", paused=True)), T1, tmp_path, config=config)
    assert [codes(x) for x in gov002(second)] == [{"schedule_paused"}]


def test_other_clusters_do_not_count(sqlite_url: str, tmp_path: Path) -> None:
    scan(sqlite_url, cluster(schedule=S("daily")), T0, tmp_path, name="prod")
    second = scan(sqlite_url, cluster(), T1, tmp_path, name="staging")
    assert not gov002(second)
    assert [x.status for x in second.results if x.rule_id == "GOV-002"] == ["not-evaluated"]
