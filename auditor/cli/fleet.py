"""``auditor fleet``: the hub's view, one row per cluster whose agent records into the history store."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from auditor.cli.base import _as_of, handle_errors, main
from auditor.cli.options import as_of_option, store_options
from auditor.cli.shared import open_store
from auditor.output.safe import terminal_console


@main.command()
@store_options  # --store, --config, --cluster, -o/--output: declared there once
@as_of_option
@handle_errors
def fleet(store: str | None, config_path: Path | None, clusters: tuple[str, ...], output: str,
          as_of: str | None) -> None:
    """One row per cluster in the history store: its newest scan and age, complete or not, volumes by status,
    findings by severity, framework scores, and whether its agent went silent (GOV-006: no scan for twice its
    interval, or 2 h); two clusters claiming one name are both shown (GOV-007)."""
    # deferred, not for --help: the rule files' loader (pydantic, YAML) and the store's fleet (SQLAlchemy, 0.5 s)
    from auditor.analyse.fleet import fleet_findings
    from auditor.load.rules import load_rules
    from auditor.output.fleet import fleet_document, render_fleet

    at = _as_of(as_of) or datetime.now(UTC)
    with open_store(store, config_path) as db:
        rows = db.fleet(at)
    if clusters:
        rows = [r for r in rows if r.cluster in set(clusters)]
    findings = fleet_findings([r.agent for r in rows], at, load_rules(("GOV-006", "GOV-007")))
    if output == "json":
        sys.stdout.buffer.write(orjson.dumps(fleet_document(rows, findings, at), option=orjson.OPT_INDENT_2) + b"\n")
        return
    render_fleet(rows, findings, terminal_console())
