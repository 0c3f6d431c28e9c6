"""``auditor preflight``: will this Velero backup restore into that cluster? (docs/preflight.md)."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson
from rich.markup import escape as markup_escape
from rich.table import Table

from auditor import demo as demo_data
from auditor.cli.base import _as_of, handle_errors, main
from auditor.cli.options import as_of_option, kubeconfig_option
from auditor.cli.shared import stdout_console
from auditor.config import PreflightPair, help_text
from auditor.output.safe import clean
from auditor.preflight import read_cluster, run_preflight


def _mapping(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        old, sep, new = value.partition(":")
        if not sep or not old or not new:
            raise click.BadParameter(f"{value!r}: expected OLD:NEW", param_hint=flag)
        out[old] = new
    return out


@main.command()
@click.option("--backup", "backup_key", required=True, metavar="NAMESPACE/NAME", help="The Velero Backup.")
@click.option("--snapshot", "source_snapshot", type=click.Path(path_type=Path, file_okay=False),
              help="The source cluster as a dump directory.")
@click.option("--context", "source_context", help="The source cluster's kubeconfig context.")
@click.option("--demo", is_flag=True, help="Source: the embedded demo-prod and its catalog (target default: "
                                           "demo-staging).")
@click.option("--velero-catalog", "catalog", type=click.Path(path_type=Path),
              help=help_text(PreflightPair, "velero_catalog"))
@click.option("--target-snapshot", type=click.Path(path_type=Path, file_okay=False),
              help=help_text(PreflightPair, "target_snapshot"))
@click.option("--target-context", help=help_text(PreflightPair, "target_context"))
@kubeconfig_option
@click.option("--namespace-mapping", "ns_maps", multiple=True, metavar="OLD:NEW",
              help=f"{help_text(PreflightPair, 'namespace_mapping')} Repeatable.")
@click.option("--storage-class-mapping", "sc_maps", multiple=True, metavar="OLD:NEW",
              help=f"{help_text(PreflightPair, 'storage_class_mapping')} Repeatable.")
@as_of_option
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def preflight(backup_key: str, source_snapshot: Path | None, source_context: str | None, demo: bool,
              catalog: Path | None, target_snapshot: Path | None, target_context: str | None,
              kubeconfig: str | None, ns_maps: tuple[str, ...], sc_maps: tuple[str, ...], as_of: str | None,
              output: str) -> None:
    """Check, before a disaster, whether a Velero backup restores into a target cluster: its bucket is
    visible there, its volumes' classes, drivers, snapshot classes and node-agent exist, its kinds are
    served, Velero and its plugins run. Exit 0 ready, 3 not ready (blockers or unknown), 2 bad input,
    1 a cluster unreachable."""
    if [source_snapshot is not None, source_context is not None, demo].count(True) != 1:
        raise click.UsageError("give exactly one source: --snapshot, --context or --demo")
    if target_snapshot is not None and target_context is not None:
        raise click.UsageError("give one target: --target-snapshot or --target-context")
    when = _as_of(as_of)
    if demo:
        source_snapshot, catalog = demo_data.CLUSTER_DIR, catalog or demo_data.CATALOG_DIR
        target_snapshot = target_snapshot if target_context else (target_snapshot or demo_data.STAGING_DIR)
        when = when or demo_data.demo_as_of()
    if target_snapshot is None and target_context is None:
        raise click.UsageError("give the target: --target-snapshot or --target-context")
    namespace_mapping = _mapping(ns_maps, "--namespace-mapping")
    sc_mapping = _mapping(sc_maps, "--storage-class-mapping")
    source = read_cluster(source_snapshot, source_context, kubeconfig)
    target = read_cluster(target_snapshot, target_context, kubeconfig, discovery=True)
    report = run_preflight(backup_key, source, catalog, target, when or datetime.now(UTC).replace(microsecond=0),
                           namespace_mapping, sc_mapping)
    doc = report.document()
    if output == "json":
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    else:
        render(doc)
    if not doc["ready"]:
        sys.exit(3)


def render(doc: dict[str, Any]) -> None:
    """The verdict, then blockers, unknowns, warnings and the volumes (cluster text escaped for the terminal)."""
    def escape(text: str) -> str:  # cluster text: control characters made visible, then markup escaped
        return markup_escape(clean(text) if text else text)

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
    console = stdout_console(highlight=False, soft_wrap=True, width=width, markup=True)  # data escaped above
    verdict = "[bold green]READY[/]" if doc["ready"] else "[bold red]NOT READY[/]"
    console.print(f"{verdict}  backup {escape(doc['backup'])} → target {escape(doc['target'])}")
    console.print(f"source of truth: {escape(doc['source_of_truth'])} ({escape(doc['source'])})")
    for title, key, style in (("Blockers", "blockers", "red"), ("Unknown", "unknown", "yellow"),
                              ("Warnings", "warnings", "yellow")):
        items = doc[key]
        if not items:
            continue
        console.print(f"\n[bold {style}]{title} ({len(items)})[/]")
        for item in items:
            obj = "/".join(x for x in (item["namespace"], item["name"]) if x)
            console.print(f"  {item['code']}  {escape(item['kind'])} {escape(obj)}: {escape(item['message'])}")
    if doc["volumes"]:
        table = Table(title="Volumes", title_justify="left", show_edge=False)
        for col in ("namespace/pvc", "method", "class → target", "restorable", "reasons"):
            table.add_column(col)
        for v in doc["volumes"]:
            ok = {True: "[green]yes[/]", False: "[red]no[/]", None: "[yellow]unknown[/]"}[v["restorable"]]
            table.add_row(escape(f"{v['namespace']}/{v['pvc']}"), escape(v["method"] or "unknown"),
                          escape(f"{v['storage_class'] or '?'} → {v['target_storage_class'] or '?'}"), ok,
                          escape("; ".join(v["reasons"])))
        console.print()
        console.print(table)
    for note in doc["notes"]:
        console.print(f"[dim]note: {escape(note)}[/]")
