"""The format registry: `scan -o` prints every stdout format, each agreeing with its report file, and a format
added as one module shows up in `scan -o`, `report --format` and the config without another edit."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import auditor.output.formats as formats_package
from auditor import formats
from auditor.cli import main
from auditor.config import load_config
from auditor.errors import ConfigError
from auditor.output.report.csv_files import FINDING_COLUMNS
from tests.output.test_formats import validate_sarif

STDOUT = ("table", "wide", "json", "yaml", "csv", "junit", "sarif", "md")
FILES = ("html", "pdf", "json", "csv", "junit", "sarif", "md")


def cli(*args: str) -> bytes:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    assert not result.stderr
    return result.stdout_bytes


@pytest.fixture(scope="module")
def printed() -> dict[str, bytes]:
    """``demo -o X`` for every stdout format."""
    return {name: cli("demo", "-o", name) for name in formats.stdout_names()}


@pytest.fixture(scope="module")
def filed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """``report --demo --format all``: the same scan written as files, by suffix."""
    out = tmp_path_factory.mktemp("agree")
    cli("report", "--demo", "--format", "all", "--out", str(out))
    return {path.name.split("Z", 1)[1]: path.read_bytes() for path in out.iterdir()}


def test_the_registry_offers_the_formats_where_they_make_sense() -> None:
    assert formats.stdout_names() == STDOUT
    assert formats.file_names() == FILES
    assert formats.get("sarif").media_type == "application/sarif+json"
    assert [p.suffix for p in formats.get("csv").files] == ["-volumes.csv", "-findings.csv"]
    help_text = cli("scan", "--help").decode()
    assert "[table|wide|json|yaml|csv|junit|sarif|md]" in help_text
    assert "Comma-separated: html, pdf, json, csv, junit, sarif, md, or all." in " ".join(
        cli("report", "--help").decode().split())


def test_every_module_of_the_package_registers_a_format() -> None:
    """Nothing lists the formats by hand: each module of the package is one ."""
    modules = {p.stem for p in Path(formats_package.__file__).parent.glob("*.py")} - {"__init__"}
    registered = {(f.files[0].render if f.files else f.stdout).__module__.rsplit(".", 1)[1]  # type: ignore[union-attr]
                  for f in formats.all_formats()}
    assert registered == modules


def test_json_and_yaml_print_the_scan_document(printed: dict[str, bytes], filed: dict[str, bytes]) -> None:
    doc = json.loads(printed["json"])
    assert doc["schema_version"] == "1" and doc["volumes"]
    assert yaml.safe_load(printed["yaml"]) == doc
    report_copy = json.loads(filed[".json"])
    assert report_copy.pop("results") and report_copy == doc  # the report's copy adds the passing results


def test_csv_prints_the_findings_as_the_report_writes_them(printed: dict[str, bytes],
                                                           filed: dict[str, bytes]) -> None:
    rows = list(csv.reader(io.StringIO(printed["csv"].decode("utf-8"), newline="")))
    assert tuple(rows[0]) == FINDING_COLUMNS and len(rows) > 1
    assert printed["csv"] == filed["-findings.csv"]


def test_junit_parses_and_matches_the_report(printed: dict[str, bytes], filed: dict[str, bytes]) -> None:
    root = ET.fromstring(printed["junit"])
    assert root.tag == "testsuites" and int(root.get("tests") or 0) > 0
    assert int(root.get("failures") or 0) == sum(int(s.get("failures") or 0) for s in root)
    assert printed["junit"] == filed[".junit.xml"]


def test_sarif_validates_and_matches_the_report(printed: dict[str, bytes], filed: dict[str, bytes]) -> None:
    log = json.loads(printed["sarif"])
    validate_sarif(log)
    assert log["runs"][0]["results"]
    assert printed["sarif"] == filed[".sarif"]


def test_markdown_matches_the_report_but_for_its_list_of_files(printed: dict[str, bytes],
                                                                filed: dict[str, bytes]) -> None:
    text = printed["md"].decode("utf-8")
    assert text.startswith("## Backup audit: demo\\-prod, demo\\-staging")
    assert "Files:" not in text  # nothing was written beside it
    assert re.sub(r" Files: .*\.\n", "\n", filed[".md"].decode("utf-8")) == text


def test_table_formats_print_the_volumes(printed: dict[str, bytes]) -> None:
    assert b"demo-prod" in printed["table"] and b"demo-prod" in printed["wide"]
    assert printed["table"] != printed["wide"]


def test_a_file_only_format_is_refused_on_stdout() -> None:
    result = CliRunner().invoke(main, ["demo", "-o", "pdf"])
    assert result.exit_code == 2 and "'pdf' is not one of" in result.output


THROWAWAY = '''
"""A format of the test suite only: one line per volume."""

from auditor.formats import FilePart, Format, register


def render(rendering):
    return "".join(f"{v['namespace']}/{v['pvc']} {v['status']}\\n" for v in rendering.source.data["volumes"]).encode()


def show(rendering, sink):
    sink.binary.write(b"throwaway:\\n" + render(rendering))


register(Format("throwaway", "text/plain", "one line per volume (tests)", order=1000, stdout=show,
                files=(FilePart("throwaway", ".throwaway.txt", render),)))
'''


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[None]:
    """A new format as one module in (a second directory of) the formats package, found by discovery."""
    extra = tmp_path / "more-formats"
    extra.mkdir()
    (extra / "throwaway.py").write_text(THROWAWAY)
    formats_package.__path__.append(str(extra))
    try:
        formats_package.discover()
        yield
    finally:
        formats_package.__path__.remove(str(extra))
        formats.unregister("throwaway")
        sys.modules.pop("auditor.output.formats.throwaway", None)


@pytest.mark.usefixtures("throwaway")
def test_a_format_added_as_one_module_is_offered_everywhere(tmp_path: Path) -> None:
    assert "throwaway" in formats.stdout_names() and "throwaway" in formats.file_names()
    assert "|md|throwaway]" in cli("scan", "--help").decode()
    assert "md, throwaway, or all" in " ".join(cli("report", "--help").decode().split())
    printed = cli("demo", "-o", "throwaway").decode()
    assert printed.startswith("throwaway:\n") and "shop/data-postgres-0 stale\n" in printed
    out = tmp_path / "out"
    cli("report", "--demo", "--format", "throwaway", "--out", str(out))
    written = next(out.glob("*.throwaway.txt")).read_text()
    assert printed == "throwaway:\n" + written
    manifest: dict[str, Any] = json.loads(next(out.glob("*.manifest.json")).read_text())
    assert [f["format"] for f in manifest["files"]] == ["json", "throwaway"]
    config = tmp_path / "config.yaml"
    config.write_text(f"reports:\n  - name: weekly\n    cron: '@weekly'\n    formats: [throwaway, md]\n"
                      f"    out: {tmp_path}\n")
    assert load_config(config).reports[0].formats == ("throwaway", "md")


def test_the_config_checks_report_formats_against_the_registry(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"reports:\n  - name: weekly\n    cron: '@weekly'\n    formats: [throwaway]\n"
                      f"    out: {tmp_path}\n")
    with pytest.raises(ConfigError, match="formats must be among html, pdf, json, csv, junit, sarif, md"):
        load_config(config)
