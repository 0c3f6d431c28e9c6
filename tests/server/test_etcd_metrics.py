"""The etcd series of /metrics agree with SYS-002: the newest verified snapshot's age, the RPO SYS-002 judges by,
and whether the cluster runs its own etcd (absent when SYS-002 cannot tell)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auditor import demo
from auditor.analyse.scan import ScanResult
from auditor.config import AuditConfig
from auditor.output.metrics import MetricsInput, render
from auditor.pipeline import ScanOptions, run_scan

from .stack import free_port

AS_OF = demo.demo_as_of()
CLUSTERS = (demo.CLUSTER_DIR, demo.CLUSTER_DIR.parent / "demo-staging")  # kubeadm's etcd pods; none visible


def write_snapshot(directory: Path, taken: datetime, with_db: bool = True) -> None:
    """An executor snapshot pair as ``auditor backup etcd`` writes it (the .db only matters by its presence)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"etcd-snapshot-{taken:%Y%m%d%H%M%S}"
    body = f"snapshot {name}".encode()
    if with_db:
        (directory / f"{name}.db").write_bytes(body)
    (directory / f"{name}.json").write_text(json.dumps({
        "file": f"{name}.db", "sha256": hashlib.sha256(body).hexdigest(), "taken_at": taken.isoformat(),
        "endpoints": "https://10.0.1.11:2379", "etcd": {"revision": 7, "totalKey": 3, "totalSize": len(body)}}))


def scan(config: dict[str, object]) -> ScanResult:
    return run_scan(ScanOptions(snapshots=CLUSTERS, config=AuditConfig.model_validate(config), as_of=AS_OF))


def etcd_series(result: ScanResult) -> dict[tuple[str, str], float]:
    text = render(MetricsInput(result)).decode()
    return {(s.name.removeprefix("backup_auditor_"), s.labels["cluster"]): s.value
            for family in text_string_to_metric_families(text) if family.name.startswith("backup_auditor_etcd_")
            for s in family.samples}


def sys002(result: ScanResult, cluster: str) -> str:
    return next(r.status for c in result.clusters if c.name == cluster for r in c.results if r.rule_id == "SYS-002")


def test_age_and_rpo_of_the_newest_verified_snapshot(tmp_path: Path) -> None:
    write_snapshot(tmp_path, AS_OF - timedelta(hours=30))
    write_snapshot(tmp_path, AS_OF - timedelta(hours=5))
    write_snapshot(tmp_path, AS_OF - timedelta(hours=1), with_db=False)  # its .db is gone: not verified
    result = scan({"etcd": {"snapshots": [{"cluster": "demo-prod", "dir": str(tmp_path)}], "rpo": "6h"}})
    assert etcd_series(result) == {
        ("etcd_snapshot_age_seconds", "demo-prod"): 5 * 3600.0,
        ("etcd_snapshot_rpo_seconds", "demo-prod"): 6 * 3600.0,
        ("etcd_snapshot_rpo_seconds", "demo-staging"): 6 * 3600.0,
        ("etcd_self_managed", "demo-prod"): 1.0,
        ("etcd_self_managed", "demo-staging"): 0.0,  # no etcd visible: SYS-002 expects no snapshot
    }
    assert sys002(result, "demo-prod") == "pass"
    # SYS-002's own rpo_seconds parameter wins over etcd.rpo, in the check and in the metric alike
    tighter = scan({"etcd": {"snapshots": [{"cluster": "demo-prod", "dir": str(tmp_path)}], "rpo": "6h"},
                    "rules": {"SYS-002": {"rpo_seconds": 3600}}})
    assert etcd_series(tighter)[("etcd_snapshot_rpo_seconds", "demo-prod")] == 3600.0
    assert sys002(tighter, "demo-prod") == "open"


def test_no_snapshot_and_unreadable_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    none = scan({})
    series = etcd_series(none)
    assert ("etcd_snapshot_age_seconds", "demo-prod") not in series and series[("etcd_self_managed", "demo-prod")] == 1
    assert sys002(none, "demo-prod") == "open"
    # an S3 prefix that cannot be read: SYS-002 is not evaluated, so "self-managed without a snapshot" must not
    # be claimed either
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    closed = f"http://127.0.0.1:{free_port()}"
    blind = scan({"etcd": {"snapshots": [{"cluster": "demo-prod", "s3": "s3://etcd/prod", "s3_endpoint": closed,
                                          "s3_region": "us-east-1"}]}})
    series = etcd_series(blind)
    assert sys002(blind, "demo-prod") == "not-evaluated"
    assert ("etcd_self_managed", "demo-prod") not in series and ("etcd_snapshot_rpo_seconds", "demo-prod") in series
