"""Report fixtures: the demo scanned once and written in every format once per test session (and worker)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.analyse.scan import ScanResult
from auditor.cli.shared import build_options
from auditor.output.report import write_reports
from auditor.output.report.writer import Manifest
from auditor.pipeline import run_scan
from tests import factories as f

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
GENERATED_AT = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '"><img src=x onerror="window.__pwned = 2">'
SECRET_VALUE = "wJalrXUtnFEMI/K7MDENG-never-in-a-report"


@dataclass(frozen=True)
class Written:
    manifest: Manifest
    directory: Path

    def path(self, key: str) -> Path:
        return self.directory / next(w.name for w in self.manifest.files if w.key == key)

    def text(self, key: str) -> str:
        return self.path(key).read_text(encoding="utf-8")

    @property
    def document(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.text("json"))
        return data


@pytest.fixture(scope="session")
def demo_result() -> ScanResult:
    return run_scan(build_options(demo=True))


@pytest.fixture(scope="session")
def demo_reports(demo_result: ScanResult, tmp_path_factory: pytest.TempPathFactory) -> Written:
    out = tmp_path_factory.mktemp("demo-reports")
    return Written(write_reports(demo_result, ["all"], out, generated_by="test suite", now=GENERATED_AT), out)


def hostile_objects() -> list[dict[str, Any]]:
    """A small cluster whose names, annotations and messages try to inject markup and formulas."""
    ns = SCRIPT
    return [
        *[o for o in f.base_cluster() if o.get("kind") != "BackupStorageLocation"],
        f.bsl(credential={"name": "cloud-credentials", "key": "cloud"}),
        f.namespace(ns), f.namespace("=cmd|' /C calc'!A0"),
        f.pvc(IMG, ns, volume="pv-hostile", annotations={
            "backup-auditor.io/exempt": "FRS-001", "backup-auditor.io/exempt-reason": IMG,
            "backup-auditor.io/exempt-owner": SCRIPT, "backup-auditor.io/exempt-expires": "2027-01-31",
            "backup.velero.io/backup-volumes": SCRIPT}),
        f.pv("pv-hostile", ns, IMG),
        f.pod("app-0", ns, {"data": IMG}, annotations={"backup.velero.io/backup-volumes": f"data,{SCRIPT}"}),
        f.pvc("=HYPERLINK(\"http://x\")", "=cmd|' /C calc'!A0", volume="pv-formula"),
        f.pv("pv-formula", "=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\")"),
        f.schedule("daily", include_namespaces=["*"]),
        f.backup("daily-1", schedule_name="daily", hours_ago=30, phase="PartiallyFailed",
                 status={"failureReason": SCRIPT}),
        f.secret("cloud-credentials", data={"cloud": f"[default]\naws_secret_access_key = {SECRET_VALUE}\n"}),
    ]


@pytest.fixture(scope="session")
def hostile_reports(tmp_path_factory: pytest.TempPathFactory) -> Written:
    dump = tmp_path_factory.mktemp("hostile-dump")
    (dump / "objects.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": hostile_objects()}))
    config = dump.parent / f"{dump.name}-config.yaml"
    config.write_text("exceptions: {from_annotations: true}\n")  # the hostile waiver's owner and reason are shown
    result = run_scan(build_options(snapshots=(dump,), cluster_name="<b>evil</b>", as_of="2026-11-20T12:00:00Z",
                                    config_path=config))
    out = tmp_path_factory.mktemp("hostile-reports")
    return Written(write_reports(result, ["all"], out, generated_by=SCRIPT, now=GENERATED_AT), out)
