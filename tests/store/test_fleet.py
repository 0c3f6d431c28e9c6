"""The hub's read API: cluster identities (name + kube-system uid), rival claims on a name, the newest scan
per cluster and the fleet rows (silence), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.analyse.scan import ScanResult
from auditor.store import Store
from tests import factories as f
from tests.store.scans import backup, cluster, record, scan

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
MIN = timedelta(minutes=1)


def kube_system(uid: str) -> dict[str, Any]:
    ns = f.namespace("kube-system")
    ns["metadata"]["uid"] = uid
    return ns


def agent_scan(tmp: Path, name: str, uid: str | None, at: datetime, **kw: Any) -> ScanResult:
    extra = [kube_system(uid)] if uid else []
    kw.setdefault("schedule", f.schedule("daily"))
    backups = [backup("daily-1", hours_ago=1)]
    return scan(None, cluster(extra=extra, backups=backups, **kw), at, tmp, name=name)


def test_identities_and_the_newest_scan_per_cluster(store_url: str, tmp_path: Path) -> None:
    with Store(store_url) as store:
        record(store, agent_scan(tmp_path, "prod-eu", "uid-eu", T0), interval=300)
        record(store, agent_scan(tmp_path, "prod-us", "uid-us", T0), interval=60)
        record(store, agent_scan(tmp_path, "prod-eu", "uid-eu", T0 + 5 * MIN), interval=300)
        ids = store.identities()
        assert [(a.name, a.uid, a.first_seen, a.last_seen, a.interval_seconds, a.other_uids) for a in ids] == [
            ("prod-eu", "uid-eu", T0, T0 + 5 * MIN, 300.0, ()), ("prod-us", "uid-us", T0, T0, 60.0, ())]
        latest = store.latest_scans()
        assert [(r.cluster, r.cluster_uid, r.as_of, r.interval_seconds) for r in latest] == [
            ("prod-eu", "uid-eu", T0 + 5 * MIN, 300.0), ("prod-us", "uid-us", T0, 60.0)]
        assert [r.cluster for r in store.latest_scans("prod-us")] == ["prod-us"]
        doc = store.document(latest[0].scan_id)
        assert [c["name"] for c in doc["clusters"]] == ["prod-eu"]


def test_fleet_rows_and_silence(store_url: str, tmp_path: Path) -> None:
    with Store(store_url) as store:
        record(store, agent_scan(tmp_path, "agent", "uid-a", T0), interval=60)
        record(store, agent_scan(tmp_path, "laptop", "uid-l", T0))  # `auditor scan --store`: no interval
        rows = {r.cluster: r for r in store.fleet(T0 + 119 * timedelta(seconds=1))}
        assert not rows["agent"].silent and not rows["laptop"].silent
        row = rows["agent"].as_dict()
        assert row["volumes_by_status"] == {"protected": 1, "stale": 0, "unprotected": 0, "unknown": 0}
        assert row["complete"] is True and row["silent_after_seconds"] == 120.0
        assert row["newest_scan"] == "2026-11-20T12:00:00Z" and row["age_seconds"] == 119.0
        assert set(row["compliance"]) >= {"iso27001", "soc2"} and "high" in row["findings_by_severity"]
        rows = {r.cluster: r for r in store.fleet(T0 + 121 * timedelta(seconds=1))}
        assert rows["agent"].silent, "two intervals without a scan"
        assert not rows["laptop"].silent, "no interval recorded: silent after 2 h"
        rows = {r.cluster: r for r in store.fleet(T0 + timedelta(hours=2, seconds=1))}
        assert rows["laptop"].silent and rows["laptop"].as_dict()["silent_after_seconds"] == 7200.0


def test_a_failed_newest_scan_is_not_complete_and_keeps_the_last_verdicts(store_url: str, tmp_path: Path) -> None:
    from dataclasses import replace

    from auditor.analyse.scan import ClusterScan

    with Store(store_url) as store:
        record(store, agent_scan(tmp_path, "prod", "uid-p", T0), interval=60)
        failed = ScanResult(T0 + MIN, (ClusterScan("prod", None, (), "the API server is unreachable"),), ())
        record(store, replace(failed), interval=60)
        [row] = store.fleet(T0 + 2 * MIN)
    assert row.agent.last_seen == T0 + MIN, "a failed scan still shows the agent alive"
    assert row.agent.uid == "uid-p", "a scan that could not read the cluster counts for its one identity"
    assert not row.complete and row.error == "the API server is unreachable"
    assert row.latest is not None and row.latest.as_of == T0 and row.latest.volumes_protected == 1


def test_two_clusters_claiming_one_name_stay_apart(store_url: str, tmp_path: Path) -> None:
    with Store(store_url) as store:
        record(store, agent_scan(tmp_path, "prod", "uid-1", T0), interval=60)
        record(store, agent_scan(tmp_path, "prod", "uid-2", T0 + MIN, schedule=None), interval=60)
        ids = store.identities()
        assert [(a.uid, a.other_uids) for a in ids] == [("uid-1", ("uid-2",)), ("uid-2", ("uid-1",))]
        rows = store.fleet(T0 + 2 * MIN)
        assert [(r.agent.uid, r.latest and r.latest.as_of) for r in rows] == [("uid-1", T0), ("uid-2", T0 + MIN)]
        assert rows[0].as_dict()["name_claimed_by"] == ["uid-2"]
        latest = store.latest_scans("prod")
        assert [(r.cluster_uid, r.as_of) for r in latest] == [("uid-1", T0), ("uid-2", T0 + MIN)]
        # each keeps its own baseline: the second cluster never compares with the first one's schedule
        assert store.previous_state("prod", T0 + 2 * MIN, "uid-1") is not None
        state = store.previous_state("prod", T0 + 2 * MIN, "uid-2")
        assert state is not None and state.to_dict() != store.previous_state("prod", T0 + 2 * MIN,
                                                                              "uid-1").to_dict()  # type: ignore[union-attr]


def test_scans_recorded_without_a_uid_fold_into_the_one_identity_of_their_name(store_url: str,
                                                                               tmp_path: Path) -> None:
    with Store(store_url) as store:
        record(store, agent_scan(tmp_path, "prod", None, T0))  # a dump without kube-system
        record(store, agent_scan(tmp_path, "prod", "uid-p", T0 + MIN), interval=60)
        [row] = store.fleet(T0 + 2 * MIN)
        assert (row.agent.uid, row.agent.first_seen, row.agent.interval_seconds) == ("uid-p", T0, 60.0)
        assert [r.cluster_uid for r in store.latest_scans()] == ["uid-p"]
