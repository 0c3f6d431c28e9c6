"""Writing a report set: timestamped names, never overwriting, manifest hashes that verify."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from auditor.errors import ConfigError, InputError
from auditor.output.report import load_document, parse_formats, write_reports
from auditor.output.report.writer import slug, write_new
from tests.output.conftest import GENERATED_AT, Written


def test_manifest_hashes_every_file_and_the_document(demo_reports: Written) -> None:
    m = demo_reports.manifest
    assert {f.key for f in m.files} == {"html", "pdf", "json", "csv-volumes", "csv-findings", "junit", "sarif", "md"}
    for f in m.files:
        data = (demo_reports.directory / f.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size
    assert m.document_sha256 == hashlib.sha256(demo_reports.path("json").read_bytes()).hexdigest()
    written = json.loads(m.path.read_text())
    assert written["scan_document"]["sha256"] == m.document_sha256
    assert [f["name"] for f in written["files"]] == [f.name for f in m.files]
    sums = m.path.with_name(m.path.name.replace(".manifest.json", ".sha256"))
    check = subprocess.run(["sha256sum", "--check", "--strict", sums.name], cwd=demo_reports.directory,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert m.document_sha256 in demo_reports.text("html")  # the report names the document it was built from


def test_names_are_timestamped_and_nothing_is_overwritten(demo_reports: Written, tmp_path: Path) -> None:
    source = load_document(demo_reports.path("json"))
    first = write_reports(source, ["md"], tmp_path, now=GENERATED_AT)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    second = write_reports(source, ["md"], tmp_path, now=GENERATED_AT)
    assert first.files[0].name == "backup-audit-demo-prod-and-1-more-20261120T120000Z.md"
    assert second.files[0].name == "backup-audit-demo-prod-and-1-more-20261120T120000Z-2.md"
    assert all((tmp_path / name).read_bytes() == data for name, data in before.items())
    with pytest.raises(InputError, match="never overwritten"):
        write_new(tmp_path / first.files[0].name, b"x")


def test_from_a_saved_document_the_manifest_names_the_input(demo_reports: Written, tmp_path: Path) -> None:
    source = load_document(demo_reports.path("json"))
    m = write_reports(source, ["md", "junit"], tmp_path, now=GENERATED_AT)
    assert [f.key for f in m.files] == ["junit", "md"]  # no JSON copy unless asked for
    assert m.document_name == demo_reports.path("json").name
    assert m.document_sha256 == demo_reports.manifest.document_sha256


def test_formats_are_checked() -> None:
    assert parse_formats("pdf, HTML") == ("html", "pdf")
    assert parse_formats("all") == ("html", "pdf", "json", "csv", "junit", "sarif", "md")
    with pytest.raises(ConfigError, match="docx"):
        parse_formats("html,docx")
    with pytest.raises(ConfigError):
        parse_formats("")


def test_cluster_names_become_safe_file_names() -> None:
    assert slug(["../../etc/passwd"]) == "etc-passwd"
    assert slug(['<script>"x"</script>', "b"]) == "script-x-script-and-1-more"
    assert slug([]) == "no-cluster"
    assert slug(["..."]) == "cluster"


def test_a_document_that_is_not_a_scan_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(InputError, match="not a scan document"):
        load_document(bad)
    bad.write_text("{")
    with pytest.raises(InputError, match="invalid JSON"):
        load_document(bad)
