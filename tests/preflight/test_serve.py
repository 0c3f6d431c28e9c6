"""``auditor serve``'s preflight pairs: evaluated with the scan, exported, re-read once per interval."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auditor.config import AuditConfig, PreflightPair
from auditor.output.metrics import MetricsInput, render
from auditor.pipeline import ScanOptions
from auditor.server.scanner import Scanner
from auditor.server.settings import ServeSettings
from auditor.server.state import Current, Snapshot
from tests import factories as f
from tests.preflight.fixtures import BACKUP, default_scenario, replace


def ready_series(text: bytes) -> dict[tuple[str, str, str], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            if s.name == "backup_auditor_preflight_ready":
                out[(s.labels["cluster"], s.labels["schedule"], s.labels["target"])] = s.value
    return out


def scanner(tmp_path: Path, broken_target: bool) -> tuple[Scanner, Path]:
    s = default_scenario()
    if broken_target:
        s.target = replace(s.target, "StorageClass", "ceph-rbd", None)
    src, cat, dst = s.write(tmp_path)
    pairs = (PreflightPair(schedule="velero/shop-daily", target_snapshot=dst, name="dr-east", velero_catalog=cat),
             PreflightPair(schedule="velero/no-such-schedule", target_snapshot=dst))
    options = ScanOptions(snapshots=(src,), config=AuditConfig(preflight=pairs), as_of=f.AS_OF)
    from auditor.server.scanner import empty_result

    current = Current(Snapshot(MetricsInput(empty_result()), ready=False, seq=0))
    return Scanner(options, ServeSettings(interval=300.0), current), dst


@pytest.mark.parametrize(("broken", "value"), [(False, 1.0), (True, 0.0)])
def test_pairs_are_evaluated_and_exported(tmp_path: Path, broken: bool, value: float) -> None:
    scan, _ = scanner(tmp_path, broken)
    snapshot = scan.scan_once()
    outcomes = snapshot.data.result.preflights
    assert outcomes[0].backup == BACKUP and outcomes[0].ready is (not broken)
    assert outcomes[1].ready is None and "no Completed" in (outcomes[1].error or "")
    pre = {(r.name, r.status) for c in snapshot.data.result.clusters for r in c.results if r.rule_id == "PRE-001"}
    assert pre == {("shop-daily", "open" if broken else "pass")}  # the unevaluated pair has no source cluster
    series = ready_series(render(snapshot.data))
    assert series[("prod", "velero/shop-daily", "dr-east")] == value
    assert series[("", "velero/no-such-schedule", "target")] == -1.0


def test_a_pair_is_read_again_only_after_the_interval(tmp_path: Path) -> None:
    scan, dst = scanner(tmp_path, False)
    first = scan.scan_once().data.result.preflights[0]
    broken = default_scenario()  # the target drifts: its StorageClass is gone
    broken.target = replace(broken.target, "StorageClass", "ceph-rbd", None)
    _, _, drifted_dir = broken.write(tmp_path / "drifted")
    for file in drifted_dir.iterdir():
        (dst / file.name).write_bytes(file.read_bytes())
    assert scan.scan_once().data.result.preflights[0] == first  # an event rescan: the outcome is reused
    assert scan.preflight is not None
    scan.preflight.interval = 0.0
    drifted = scan.scan_once().data.result.preflights[0]
    assert drifted.ready is False and drifted.blockers >= 1


def test_config_needs_exactly_one_target() -> None:
    with pytest.raises(ValueError, match="exactly one of target_context or target_snapshot"):
        PreflightPair(schedule="velero/x")


def test_the_report_shows_the_last_preflight_per_pair_escaped(tmp_path: Path) -> None:
    import orjson

    from auditor.load.rules import load_catalog
    from auditor.output.document import build_document
    from auditor.output.report.build import BuildOptions, build_report
    from auditor.output.report.html import render_html
    from auditor.output.report.source import SourceDocument

    scan, _ = scanner(tmp_path, True)
    result = scan.scan_once().data.result
    doc = orjson.loads(orjson.dumps(build_document(result)))
    assert [p["ready"] for p in doc["preflights"]] == [False, None]
    evil = "<script>window.__pwned = 1</script>"  # text from a cluster: escaped like every other
    doc["preflights"][0]["unknown"] = [{"code": "PF-020", "kind": "APIResource", "namespace": None, "name": evil,
                                        "message": f"discovery of {evil} could not be read"}]
    report = build_report(SourceDocument(doc, orjson.dumps(doc)),
                          BuildOptions(rules=load_catalog(), document_sha256="ab" * 32, document_name="scan.json"))
    html = render_html(report, {})
    section = html[html.index('id="preflight"'):]
    assert "velero/shop-daily" in section and "dr-east" in section and BACKUP in section
    assert "not-ready" in section and "PF-010 StorageClass ceph-rbd" in section
    assert "no Completed or PartiallyFailed backup of velero/no-such-schedule" in section
    assert evil not in html and "&lt;script&gt;window.__pwned" in section


def test_pre001_not_evaluated_when_the_target_cannot_be_read(tmp_path: Path) -> None:
    scan, dst = scanner(tmp_path, False)
    (dst / "objects.json").write_text("{not json")
    snapshot = scan.scan_once()
    first = snapshot.data.result.preflights[0]
    assert first.ready is None and "invalid JSON" in (first.error or "")
    results = [r for c in snapshot.data.result.clusters for r in c.results if r.rule_id == "PRE-001"]
    assert [(r.name, r.status) for r in results] == [("shop-daily", "not-evaluated")]
    assert ready_series(render(snapshot.data))[("prod", "velero/shop-daily", "dr-east")] == -1.0
