"""Recording and reading scans: documents, volumes, findings with identities and first-seen times, trends,
diffs, open-finding ages, retention and report manifests, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select, text

from auditor.config import AuditConfig, Retention
from auditor.errors import ScanNotFoundError, StoreError
from auditor.store import Store, identity
from auditor.store import schema as s
from auditor.store.url import default_store_path, resolve_url
from tests import factories as f
from tests.store.scans import DAY, backup, cluster, gov002, record, scan

S = f.schedule
T0 = f.AS_OF - 2 * DAY


def count(store: Store, model: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_scan_is_recorded_whole(store_url: str, tmp_path: Path) -> None:
    result = scan(store_url, cluster(schedule=S("daily", paused=True)), T0, tmp_path)
    with Store(store_url) as store:
        [row] = store.history()
        assert row.cluster == "prod" and row.as_of == T0 and row.complete and row.error is None
        assert row.volumes_audited == 1 and row.volumes_unprotected == 1 and row.coverage == 0.0
        assert row.findings_open == len([x for x in result.findings if x.status == "open"]) > 0
        assert row.new_findings == row.findings_open and row.resolved_findings == 0
        assert set(row.compliance) >= {"iso27001", "soc2"}, "framework scores are kept"
        assert count(store, s.Volume) == 1
        assert count(store, s.Finding) == len(result.findings)
        doc = store.document(row.scan_id)
        assert doc["as_of"] == "2026-11-18T12:00:00Z" and doc["volumes"][0]["pvc"] == "data"
        with store.engine.connect() as conn:
            stored = conn.execute(select(s.Finding.identity, s.Finding.rule_id)).all()
        assert ("FRS-004|prod|Schedule|velero|daily", "FRS-004") in stored
        state = store.previous_state("prod", T0)
        assert state is not None and "velero/daily" in state.of("Schedule")
        assert store.previous_state("prod", T0 - timedelta(seconds=1)) is None, "nothing before the first scan"
        assert store.previous_state("staging", T0) is None


def test_first_seen_is_carried_while_a_finding_stays_open(store_url: str, tmp_path: Path) -> None:
    paused = cluster(schedule=S("daily", paused=True))
    scan(store_url, paused, T0, tmp_path)
    scan(store_url, paused, T0 + DAY, tmp_path)
    third = scan(store_url, cluster(schedule=S("daily")), T0 + 2 * DAY, tmp_path)
    with Store(store_url) as store:
        rows = store.history("prod")
        assert [r.new_findings for r in rows][1] == 0, "the second scan found nothing new"
        assert rows[2].resolved_findings >= 1, "unpausing resolved FRS-004"
        ages = {o.finding.rule_id: o for o in store.open_findings()}
        assert "FRS-004" not in ages
        [d] = store.diff()
        assert (d.a.scan_id, d.b.scan_id) == (rows[1].scan_id, rows[2].scan_id)
        resolved = {r.finding.rule_id: r for r in d.resolved}
        assert resolved["FRS-004"].seconds_to_resolve == 2 * 86400.0, "first seen at the first scan"
        assert resolved["FRS-004"].finding.first_seen == T0
    assert third.findings


def test_open_findings_have_ages(store_url: str, tmp_path: Path) -> None:
    paused = cluster(schedule=S("daily", paused=True))
    scan(store_url, paused, T0, tmp_path)
    scan(store_url, paused, T0 + DAY, tmp_path)
    with Store(store_url) as store:
        ages = {o.finding.rule_id: o for o in store.open_findings()}
        assert ages["FRS-004"].age_seconds == 86400.0
        assert ages["FRS-004"].scan.as_of == T0 + DAY
        later = {o.finding.rule_id: o for o in store.open_findings(at=T0 + 3 * DAY)}
        assert later["FRS-004"].age_seconds == 3 * 86400.0
        assert all(o.finding.status == "open" for o in ages.values())


def test_diff_reports_new_resolved_changed_findings_and_volume_changes(store_url: str, tmp_path: Path) -> None:
    first = scan(store_url, cluster(schedule=S("daily", paused=True)), T0, tmp_path)
    web = [f.namespace("web"), f.pvc("cache", "web", volume="pv-web"), f.pv("pv-web", "web", "cache")]
    second = scan(store_url, cluster(schedule=S("daily", includedNamespaces=["web"]), extra=web), T0 + DAY,
                  tmp_path)
    with Store(store_url) as store:
        [a, b] = [r.scan_id for r in store.history()]
        [d] = store.diff(a, b)
        assert {r.finding.rule_id for r in d.resolved} >= {"FRS-004"}, "unpaused"
        assert {(x.rule_id, x.name) for x in d.new} == {("GOV-002", "daily"), ("COV-005", "cache")}
        assert ("COV-001", "data") not in {(x.rule_id, x.name) for x in d.new}, "uncovered in both scans"
        assert d.unchanged >= 1
        assert [(v.namespace, v.pvc, v.before) for v in d.volumes] == [("web", "cache", None)], "a new volume"
        assert store.diff(a, b) == store.diff(None, b) == store.diff(), "defaults: newest and the one before"
        with pytest.raises(ScanNotFoundError):
            store.diff(a, 999)
    assert first.findings and second.findings


def test_changed_means_severity_or_status(sqlite_url: str, tmp_path: Path) -> None:
    """An exception that starts to apply changes a finding from open to excepted."""
    paused = cluster(schedule=S("daily", paused=True))
    scan(sqlite_url, paused, T0, tmp_path)
    waiver = AuditConfig.model_validate({"exceptions": [{
        "rules": ["FRS-004"], "selector": {"kind": "Schedule", "name": "daily"}, "reason": "migration window",
        "owner": "ops@example.com", "expires": "2027-01-31"}]})
    scan(sqlite_url, paused, T0 + DAY, tmp_path, config=waiver)
    with Store(sqlite_url) as store:
        [d] = store.diff()
        changed = {c.after.rule_id: c for c in d.changed}
        assert changed["FRS-004"].fields == ("status",)
        assert (changed["FRS-004"].before.status, changed["FRS-004"].after.status) == ("open", "excepted")
        assert not any(x.rule_id == "FRS-004" for x in d.new + tuple(r.finding for r in d.resolved))


def test_weakening_stays_open_until_restored(store_url: str, tmp_path: Path) -> None:
    scan(store_url, cluster(schedule=S("daily")), T0, tmp_path)
    cut = cluster(schedule=S("daily", ttl="24h0m0s"))
    second = gov002(scan(store_url, cut, T0 + DAY, tmp_path))
    third = gov002(scan(store_url, cut, T0 + 2 * DAY, tmp_path))
    assert [x.evidence["first_seen"] for x in second] == [x.evidence["first_seen"] for x in third] == [
        "2026-11-19T12:00:00Z"]
    assert third[0].evidence["before"]["ttl_seconds"] == 720 * 3600.0, "compared with the original baseline"
    restored = scan(store_url, cluster(schedule=S("daily")), T0 + 3 * DAY, tmp_path)
    assert not gov002(restored)
    with Store(store_url) as store:
        [d] = store.diff()
        [gone] = [r for r in d.resolved if r.finding.rule_id == "GOV-002"]
        assert gone.seconds_to_resolve == 2 * 86400.0
        [a, b, c, _] = [r.scan_id for r in store.history()]
        [kept] = store.diff(b, c)
        assert "GOV-002" not in {x.rule_id for x in kept.new} | {r.finding.rule_id for r in kept.resolved}
        assert "GOV-002" in {x.rule_id for x in store.diff(a, b)[0].new}


def test_weakening_gives_way_after_keep_open(sqlite_url: str, tmp_path: Path) -> None:
    config = AuditConfig.model_validate({"history": {"keep_open": "36h"}})
    scan(sqlite_url, cluster(schedule=S("daily")), T0, tmp_path, config=config)
    cut = cluster(schedule=S("daily", ttl="24h0m0s"))
    assert gov002(scan(sqlite_url, cut, T0 + DAY, tmp_path, config=config))
    assert gov002(scan(sqlite_url, cut, T0 + 2 * DAY, tmp_path, config=config)), "24h after: still open"
    assert not gov002(scan(sqlite_url, cut, T0 + 3 * DAY, tmp_path, config=config)), "48h after: accepted"


def test_backup_deleted_early_resolves_when_it_would_have_expired(sqlite_url: str, tmp_path: Path) -> None:
    short = backup("daily-0", hours_ago=48, status={"expiration": f.ts(-30)})  # expires 30h after AS_OF
    scan(sqlite_url, cluster(backups=[short, backup("daily-1", hours_ago=25)]), f.AS_OF - DAY, tmp_path)
    assert gov002(scan(sqlite_url, cluster(), f.AS_OF, tmp_path))
    assert gov002(scan(sqlite_url, cluster(), f.AS_OF + DAY, tmp_path)), "still open: it should exist"
    assert not gov002(scan(sqlite_url, cluster(), f.AS_OF + 2 * DAY, tmp_path)), "it would have expired by now"


def test_an_unreachable_cluster_is_recorded_and_skipped_as_previous(sqlite_url: str, tmp_path: Path) -> None:
    from auditor.analyse.scan import ClusterScan, ScanResult

    scan(sqlite_url, cluster(schedule=S("daily")), T0, tmp_path)
    with Store(sqlite_url) as store:
        record(store, ScanResult(T0 + DAY, (ClusterScan("prod", None, (), "connection refused"),), ()))
        rows = store.history()
        assert rows[-1].error == "connection refused" and not rows[-1].complete
        assert store.previous_state("prod", T0 + DAY) is not None, "the failed scan is not a baseline"
    found = gov002(scan(sqlite_url, cluster(), T0 + 2 * DAY, tmp_path))
    assert [x.name for x in found] == ["daily"]


def test_retention_keeps_the_newest_scans_per_cluster(store_url: str, tmp_path: Path) -> None:
    objects = cluster(schedule=S("daily"))
    keep2 = AuditConfig.model_validate({"history": {"retention": {"max_scans": 2, "max_age": None}}})
    for i in range(3):
        scan(store_url, objects, T0 + i * timedelta(hours=1), tmp_path, config=keep2)
        scan(store_url, objects, T0 + i * timedelta(hours=1), tmp_path, name="staging", config=keep2)
    with Store(store_url) as store:
        rows = store.history(limit=100)
        assert sorted((r.cluster, r.as_of.hour) for r in rows) == sorted(
            (c, h) for c in ("prod", "staging") for h in (13, 14))
        assert count(store, s.Scan) == 4, "scans left without clusters are deleted"
        assert count(store, s.Volume) == 4 and count(store, s.Finding) > 0
        with store.engine.connect() as conn:
            orphans = conn.execute(text("SELECT count(*) FROM findings WHERE cluster_scan_id NOT IN "
                                        "(SELECT id FROM cluster_scans)")).scalar_one()
        assert orphans == 0, "findings go with their cluster scan"
        assert store.apply_retention(Retention(max_scans=None, max_age=1800)) == 2, "age counts from the newest"
        assert [r.as_of.hour for r in store.history("prod")] == [14]


def test_report_manifest_is_recorded(store_url: str, tmp_path: Path) -> None:
    scan(store_url, cluster(), T0, tmp_path)
    with Store(store_url) as store:
        [row] = store.history()
        manifest_id = store.record_report(format="html,pdf,json,csv,junit,sarif,md", path="/tmp/r.pdf",
                                          sha256="ab" * 32, scan_id=row.scan_id,
                                          manifest={"files": ["r.pdf"], "frameworks": ["soc2"]})
        with store.engine.connect() as conn:
            stored = conn.execute(select(s.ReportManifest)).one()
        assert (stored.id, stored.scan_id, stored.manifest["files"]) == (manifest_id, row.scan_id, ["r.pdf"])
        assert stored.created_at.tzinfo is not None


def test_volume_timeline(sqlite_url: str, tmp_path: Path) -> None:
    scan(sqlite_url, cluster(), T0, tmp_path)
    scan(sqlite_url, cluster(schedule=S("daily")), T0 + DAY, tmp_path)
    with Store(sqlite_url) as store:
        timeline = store.volume_timeline("prod")
    assert [statuses[("shop", "data")] for _, statuses in timeline] == ["unprotected", "protected"]


def test_times_come_back_as_utc(store_url: str, tmp_path: Path) -> None:
    scan(store_url, cluster(), datetime(2026, 11, 20, 13, 30, tzinfo=UTC), tmp_path)
    with Store(store_url) as store:
        [row] = store.history()
        assert row.as_of == datetime(2026, 11, 20, 13, 30, tzinfo=UTC) and row.as_of.utcoffset() == timedelta(0)


def test_identity_is_rule_cluster_kind_namespace_name() -> None:
    assert identity("COV-001", "prod", "PersistentVolumeClaim", "shop", "data") == \
        "COV-001|prod|PersistentVolumeClaim|shop|data"
    assert identity("GOV-001", "prod", "Cluster", None, "prod") == "GOV-001|prod|Cluster||prod"


def test_two_findings_on_one_subject_are_both_kept(sqlite_url: str, tmp_path: Path) -> None:
    from auditor.model.rules import Finding
    from auditor.store.record import identities

    a = Finding("CRD-004", "high", "prod", "RoleBinding", "velero", "rb", "reads Secret velero/a (age 3d)")
    b = Finding("CRD-004", "high", "prod", "RoleBinding", "velero", "rb", "reads Secret velero/b (age 3d)")
    first = identities([a, b])
    assert len(first) == 2
    aged = identities([msgspec.structs.replace(a, message="reads Secret velero/a (age 4d)"), b])
    assert set(aged) == set(first), "an age that grows does not change the identity"


def test_urls() -> None:
    assert resolve_url(None).database == str(default_store_path())
    assert resolve_url("default").database == str(default_store_path())
    assert resolve_url("postgresql://u:secret@db/audit").drivername == "postgresql+psycopg"
    assert resolve_url("postgresql+psycopg://u@db/audit").drivername == "postgresql+psycopg"
    assert resolve_url("store.db").database == str(Path("store.db").resolve())
    for bad in ("mysql://u@h/db", "sqlite://", "sqlite:///:memory:", "postgresql://:::"):
        with pytest.raises(StoreError):
            resolve_url(bad)


def test_default_store_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_path() == tmp_path / "backup-auditor" / "store.db"


def test_errors_are_store_errors_without_passwords(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no history store at"):
        Store(str(tmp_path / "missing.db"), create=False)
    with pytest.raises(StoreError) as err:
        Store(f"postgresql://auditor:hunter2@/nowhere?host={tmp_path}", retry_for=0)
    assert "hunter2" not in str(err.value) and "***" in str(err.value)
    assert "cannot open" in str(err.value)


def test_a_store_from_a_newer_version_is_refused(sqlite_url: str) -> None:
    Store(sqlite_url).close()
    with Store(sqlite_url) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="newer than this backup-auditor knows"):
        Store(sqlite_url)


def test_only_the_newest_protection_states_are_kept(store_url: str, tmp_path: Path) -> None:
    from auditor.store.record import KEEP_STATES

    for i in range(KEEP_STATES + 2):
        scan(store_url, cluster(schedule=S("daily")), T0 + i * timedelta(hours=1), tmp_path)
    scan(store_url, cluster(schedule=S("daily")), T0, tmp_path, name="staging")
    with Store(store_url) as store, store.engine.connect() as conn:
        kept = conn.execute(select(s.ClusterScan.cluster, s.ClusterScan.as_of)
                            .where(s.ClusterScan.protection.is_not(None))).all()
        assert sorted(kept) == sorted([("prod", T0 + i * timedelta(hours=1)) for i in (2, 3, 4)] + [("staging", T0)])
        assert len(store.history(limit=100)) == KEEP_STATES + 3, "the scans themselves stay"
    assert not gov002(scan(store_url, cluster(schedule=S("daily")), T0 + DAY, tmp_path))
    assert gov002(scan(store_url, cluster(), T0 + 2 * DAY, tmp_path))
