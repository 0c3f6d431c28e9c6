"""Retention per cluster: the newest ``full_scans`` whole, then one summary a day, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auditor.config import AuditConfig, Retention
from auditor.errors import ScanNotFoundError
from auditor.store import Store
from auditor.store import schema as s
from tests.store.scans import record
from tests.store.test_fleet import agent_scan

D1, D2, D3 = (datetime(2026, 11, d, tzinfo=UTC) for d in (18, 19, 20))
TIMES = [D1.replace(hour=10), D1.replace(hour=14), D2.replace(hour=9), D2.replace(hour=12), D2.replace(hour=18),
         D3.replace(hour=6)]


def rows(store: Store, cluster: str) -> list[tuple[datetime, bool, int, int]]:
    """(as_of, summary_only, volume rows, finding rows) of each cluster scan, oldest first."""
    with store.engine.connect() as conn:
        out = []
        for cs_id, as_of, summary in conn.execute(select(s.ClusterScan.id, s.ClusterScan.as_of,
                                                         s.ClusterScan.summary_only)
                                                  .where(s.ClusterScan.cluster == cluster)
                                                  .order_by(s.ClusterScan.as_of)):
            volumes = conn.execute(select(func.count()).where(s.Volume.cluster_scan_id == cs_id)).scalar_one()
            findings = conn.execute(select(func.count()).where(s.Finding.cluster_scan_id == cs_id)).scalar_one()
            out.append((as_of.replace(tzinfo=UTC), bool(summary), volumes, findings))
        return out


def test_the_newest_scans_stay_whole_and_older_days_keep_one_summary(store_url: str, tmp_path: Path) -> None:
    result = agent_scan(tmp_path, "prod", "uid-p", TIMES[0])
    keep = Retention(full_scans=2, max_scans=None, max_age=None)
    with Store(store_url) as store:
        ids = [record(store, replace(result, as_of=t), retention=keep, interval=3600) for t in TIMES]
        kept = rows(store, "prod")
        assert [(t, summary, v) for t, summary, v, _ in kept] == [
            (D1.replace(hour=14), True, 0), (D2.replace(hour=18), False, 1), (D3.replace(hour=6), False, 1)]
        assert kept[0][3] == 0 and kept[1][3] > 0, "a summary has no finding rows, a whole scan has them all"
        history = store.history("prod")
        assert [(h.as_of.hour, h.summary_only, h.volumes_audited, h.findings_open) for h in history] == [
            (14, True, 1, history[-1].findings_open), (18, False, 1, history[-1].findings_open),
            (6, False, 1, history[-1].findings_open)], "summaries keep the counts trends read"
        with pytest.raises(ScanNotFoundError, match="reduced to its summary by retention"):
            store.document(ids[1])
        with pytest.raises(ScanNotFoundError, match="no scan"):
            store.document(ids[0])
        assert store.document(ids[-1])["clusters"][0]["name"] == "prod"
        [d] = store.diff()
        assert (d.a.as_of.hour, d.b.as_of.hour) == (18, 6), "diff compares whole scans"


def test_without_daily_summaries_older_scans_go(store_url: str, tmp_path: Path) -> None:
    result = agent_scan(tmp_path, "prod", "uid-p", TIMES[0])
    with Store(store_url) as store:
        for t in TIMES:
            record(store, replace(result, as_of=t), retention=Retention(full_scans=2, daily_summaries=False))
        assert [t for t, *_ in rows(store, "prod")] == TIMES[-2:]


def test_recording_one_cluster_prunes_only_that_cluster(store_url: str, tmp_path: Path) -> None:
    other = agent_scan(tmp_path, "other", "uid-o", TIMES[0])
    prod = agent_scan(tmp_path, "prod", "uid-p", TIMES[0])
    with Store(store_url) as store:
        for t in TIMES:
            record(store, replace(other, as_of=t))
        for t in TIMES:
            record(store, replace(prod, as_of=t), retention=Retention(full_scans=1, daily_summaries=False))
        assert len(rows(store, "prod")) == 1
        assert [summary for _, summary, *_ in rows(store, "other")] == [False] * len(TIMES), "untouched"
        assert store.apply_retention(Retention(full_scans=1, daily_summaries=False)) == len(TIMES) - 1
        assert len(rows(store, "other")) == 1


def test_retention_is_configured_under_history() -> None:
    config = AuditConfig.model_validate({"history": {"retention": {"full_scans": 24, "daily_summaries": False,
                                                                   "max_age": "90d"}}})
    r = config.history.retention
    assert (r.full_scans, r.daily_summaries, r.max_age, r.max_scans) == (24, False, 90 * 86400.0, 1000)
    assert (Retention().full_scans, Retention().daily_summaries) == (100, True)
