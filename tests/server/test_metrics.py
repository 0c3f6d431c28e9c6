"""The metrics collector over the demo fleet: Prometheus' own linter, naming, bounded labels, no secrets."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import msgspec
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from auditor.analyse.scan import ScanResult
from auditor.analyse.schedules import TERMINAL
from auditor.cli.shared import build_options
from auditor.output.document import build_document
from auditor.output.labels import MAX_LABEL_LENGTH, label
from auditor.output.metrics import FINISHED_PHASES, ClusterHealth, Exposition, MetricsInput, enum_label, render
from auditor.pipeline import run_scan

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return run_scan(build_options(demo=True))


def health(result: ScanResult, success: bool = True) -> tuple[ClusterHealth, ...]:
    return tuple(ClusterHealth(c.name, time.time(), 0.25, success, 300.0, 3, 1) for c in result.clusters)


def samples(text: bytes) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[s.name].append((s.labels, s.value))
    return out


def families(text: bytes) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text.decode(), re.M)}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="Debian package prometheus (promtool) not installed")
def test_promtool_check_metrics_passes(result: ScanResult) -> None:
    text = render(MetricsInput(result, health(result)))
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check


def test_names_follow_prometheus_conventions(result: ScanResult) -> None:
    text = render(MetricsInput(result, health(result)))
    types = families(text)
    assert len(types) >= 35
    for name, kind in types.items():
        assert name.startswith("backup_auditor_"), name
        assert name.endswith("_total") == (kind == "counter"), name
        assert not re.search(r"_(ms|milliseconds|minutes|hours|days|percent)\b", name), name
    values = samples(text)
    for name, series in values.items():
        for labels, value in series:
            if name.endswith("_timestamp_seconds"):
                assert 1.5e9 < value < 4e9, (name, labels, value)
            if name.endswith("_ratio"):
                assert 0.0 <= value <= 1.0, (name, value)
            assert not {"timestamp", "time", "backup", "message", "reason_text"} & set(labels), (name, labels)


def test_labels_never_carry_backup_names_or_secrets(result: ScanResult) -> None:
    text = render(MetricsInput(result, health(result))).decode()
    values = {v for series in samples(text.encode()).values() for labels, _ in series for v in labels.values()}
    backups = {b.meta.name for c in result.clusters if c.analysis for b in c.analysis.inventory.backups}
    assert backups and not backups & values
    fingerprints = [cred.fingerprint for c in result.clusters if c.analysis for cred in c.analysis.credentials
                    if cred.fingerprint]
    assert fingerprints and not any(fp in text for fp in fingerprints)
    assert "hmac-sha256" not in text and "static-passw0rd" not in text


def test_volume_aggregates_agree_with_the_scan_document(result: ScanResult) -> None:
    values = samples(render(MetricsInput(result, health(result))))
    by_status: Counter[str] = Counter()
    for labels, value in values["backup_auditor_volumes"]:
        if labels["audited"] == "true":
            by_status[labels["status"]] += int(value)
    expected = build_document(result)["summary"]["volumes_by_status"]
    assert {k: by_status.get(k, 0) for k in expected} == expected
    per_volume = Counter(labels["status"] for labels, value in values["backup_auditor_volume_status"] if value == 1)
    assert sum(per_volume.values()) == build_document(result)["summary"]["volumes"]


def test_per_volume_series_can_be_switched_off(result: ScanResult) -> None:
    full = families(render(MetricsInput(result, health(result), per_volume=True)))
    slim = families(render(MetricsInput(result, health(result), per_volume=False)))
    per_volume = {n for n in full if n.startswith("backup_auditor_volume_")}
    assert per_volume == {"backup_auditor_volume_status", "backup_auditor_volume_last_recovery_point_timestamp_seconds",
                          "backup_auditor_volume_rpo_seconds"}
    assert set(slim) == set(full) - per_volume
    assert "backup_auditor_volumes" in slim
    assert "backup_auditor_namespace_oldest_last_recovery_point_timestamp_seconds" in slim


def test_schedule_phase_is_one_hot_over_finished_phases(result: ScanResult) -> None:
    assert set(FINISHED_PHASES) == TERMINAL
    values = samples(render(MetricsInput(result, health(result))))
    per_schedule: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for labels, value in values["backup_auditor_schedule_last_backup_phase"]:
        per_schedule[(labels["cluster"], labels["schedule"])][labels["phase"]] = value
    for key, phases in per_schedule.items():
        assert set(phases) == set(FINISHED_PHASES), key
        assert sum(phases.values()) in (0.0, 1.0), key
    assert per_schedule[("demo-prod", "billing-hourly")]["Failed"] == 1.0
    assert per_schedule[("demo-prod", "search-nightly")]["PartiallyFailed"] == 1.0
    assert sum(per_schedule[("demo-prod", "reports-weekly")].values()) == 0.0  # paused, never ran


def test_scan_health_reflects_a_failed_cluster(result: ScanResult) -> None:
    values = samples(render(MetricsInput(result, health(result, success=False))))
    assert {v for _, v in values["backup_auditor_scan_success"]} == {0.0}
    assert {(labels["result"], v) for labels, v in values["backup_auditor_scans_total"]} == {("success", 3.0),
                                                                                              ("error", 1.0)}


def test_untrusted_values_are_capped_and_bounded(result: ScanResult) -> None:
    assert label("a\nb\x00c") == "a?b?c"
    assert len(label("x" * 1000)) == MAX_LABEL_LENGTH and label("x" * 1000).endswith("~")
    assert label(None) == ""
    assert enum_label("Pwned\n", ("Available",)) == "Unknown"
    cluster = result.clusters[0]
    assert cluster.analysis is not None
    inv = cluster.analysis.inventory
    evil = msgspec.structs.replace(inv.bsls[0], phase='Available"} 1\nfake_metric{x="', provider="p" * 600,
                                   meta=msgspec.structs.replace(inv.bsls[0].meta, name="n\\" + "m" * 400))
    hacked = replace(cluster.analysis, inventory=replace(inv, bsls=(evil, *inv.bsls[1:])))
    tampered = replace(result, clusters=(replace(cluster, analysis=hacked), *result.clusters[1:]))
    text = render(MetricsInput(tampered, health(tampered)))
    parsed = samples(text)  # still parses: nothing injected
    assert "fake_metric" not in parsed
    assert all(len(v) <= MAX_LABEL_LENGTH for series in parsed.values() for labels, _ in series
               for v in labels.values())
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60)
        assert check.returncode == 0, check


def test_exposition_is_rendered_once_and_never_touches_the_global_registry(result: ScanResult) -> None:
    before = generate_latest(REGISTRY)
    exposition = Exposition(MetricsInput(result, health(result)))
    assert exposition.text is exposition.text
    assert gzip.decompress(exposition.gzipped()) == exposition.text
    assert exposition.gzipped() is exposition.gzipped()
    assert b"backup_auditor_" not in generate_latest(REGISTRY)
    assert len(generate_latest(REGISTRY)) == pytest.approx(len(before), rel=0.2)


def test_every_family_is_documented(result: ScanResult) -> None:
    from prometheus_client import CollectorRegistry

    from auditor.server.http import LiveCollector
    from auditor.server.watch import WatchStats

    stats = WatchStats()
    stats.register(("demo-prod", "pods"))
    live = CollectorRegistry(auto_describe=False)
    live.register(LiveCollector(stats))
    emitted = set(families(render(MetricsInput(result, health(result))))) | set(families(generate_latest(live)))
    documented = set(re.findall(r"^\| `(backup_auditor_[a-z_]+)`", DOCS.read_text(), re.M))
    assert emitted == documented, (emitted - documented, documented - emitted)
