"""Reading the history store: history, diff, runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from auditor.cli.base import handle_errors, main
from auditor.cli.options import store_options
from auditor.cli.shared import open_store
from auditor.model.durations import format_duration
from auditor.output.safe import clean, terminal_console


@main.command()
@store_options
@click.option("--limit", type=click.IntRange(1), default=30, show_default=True,
              help="Newest scans to show per cluster.")
@handle_errors
def history(store: str | None, config_path: Path | None, clusters: tuple[str, ...], output: str, limit: int) -> None:
    """Scans over time per cluster (every cluster in the store unless --cluster): coverage, share within RPO,
    findings by severity, compliance scores.

    Read from --store (default: history.store of --config, else the per-user store)."""
    # deferred: the store (SQLAlchemy, 1.1 s) when the command runs, not for --help
    from auditor.output.history import history_document, render_history
    from auditor.store.latest import select_clusters

    with open_store(store, config_path) as db:
        rows = [row for name in select_clusters(db, clusters) for row in db.history(name, limit)]
    if output == "json":
        sys.stdout.buffer.write(orjson.dumps(history_document(rows), option=orjson.OPT_INDENT_2) + b"\n")
        return
    render_history(rows, terminal_console())


@main.command()
@click.argument("scan_a", type=click.IntRange(1), required=False)
@click.argument("scan_b", type=click.IntRange(1), required=False)
@store_options
@handle_errors
def diff(scan_a: int | None, scan_b: int | None, store: str | None, config_path: Path | None,
         clusters: tuple[str, ...], output: str) -> None:
    """New, resolved and changed findings, and volumes whose status changed, from SCAN_A to SCAN_B.

    SCAN_B defaults to each cluster's newest scan, SCAN_A to the scan before it (ids: auditor history).
    Every cluster in the store unless --cluster. Read from --store (default: history.store of --config, else
    the per-user store).
    """
    # deferred: the store (SQLAlchemy, 1.1 s) when the command runs, not for --help
    from auditor.output.history import diff_document, render_diff
    from auditor.store.latest import select_clusters

    with open_store(store, config_path) as db:
        diffs = db.diff(scan_a, scan_b, select_clusters(db, clusters) if clusters else None)
    if output == "json":
        sys.stdout.buffer.write(orjson.dumps(diff_document(diffs), option=orjson.OPT_INDENT_2) + b"\n")
        return
    render_diff(diffs, terminal_console())


@main.command()
@store_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest runs to show.")
@handle_errors
def runs(store: str | None, config_path: Path | None, clusters: tuple[str, ...], output: str, limit: int) -> None:
    """The executor's runs recorded in the history store, newest first.

    Read from --store (default: history.store of --config, else the per-user store)."""
    with open_store(store, config_path) as db:
        records = db.runs(None, limit) if not clusters else sorted(
            (r for name in dict.fromkeys(clusters) for r in db.runs(name, limit)),
            key=lambda r: r.started_at, reverse=True)[:limit]
    if output == "json":
        click.echo(orjson.dumps([r.as_dict() for r in records], option=orjson.OPT_INDENT_2).decode())
        return
    for r in records:
        took = format_duration(r.duration_seconds) if r.duration_seconds is not None else "running"
        click.echo(clean(f"{r.started_at:%Y-%m-%d %H:%M:%SZ}  {r.status:<10} {r.cluster}  {r.kind} "
                         f"{r.namespace}/{r.object_name} (for {r.target})  took {took}"))
    if not records:
        click.echo("no executor runs recorded")
