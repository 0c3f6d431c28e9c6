"""Scanning and explaining: scan, demo, snapshot, explain, rules, report."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from auditor.cli.base import _as_of, handle_errors, main, parse_seconds
from auditor.cli.filters import filter_options, pop_filter
from auditor.cli.options import (
    cluster_access_options,
    gate_options,
    output_format_option,
    report_formats_option,
    rules_dir_option,
    secret_options,
    source_options,
    store_option,
    timing_options,
)
from auditor.cli.shared import _progress, build_options, custom_rules, emit, gate, gate_document
from auditor.config import load_config
from auditor.errors import InputError, StoreError
from auditor.model.rules import SEVERITIES
from auditor.model.time import parse_time
from auditor.output.safe import terminal_console


@main.command()
@source_options
@filter_options
@output_format_option
@gate_options
@store_option
@handle_errors
def scan(output: str, fail_on: str | None, min_score: float | None, store: str | None, **kwargs: Any) -> None:
    """Scan clusters (live or dumps) and report every volume's protection.

    Exit codes: 0 ok; 1 a cluster could not be scanned; 2 bad input or configuration;
    3 findings at --fail-on severity or worse; 4 a framework score below --min-score.
    Filters narrow what is shown and --fail-on; --min-score reads the whole scan's scores.
    --store (or history.store in --config) records the scan and compares each cluster with its previous scan.
    """
    from auditor.recording import scan_and_record  # deferred: pipeline and store (1.3 s), not for --help

    view = pop_filter(kwargs)
    options = build_options(**kwargs)
    if store or options.config.history.store:
        options = replace(options, store=store or options.config.history.store)
    progress = _progress() if options.live else None
    try:
        result = scan_and_record(options, progress)
    finally:
        if progress:
            progress.stop()
    result = view.apply(result)
    emit(result, output, (options.framework,) if options.framework else ())
    if any(c.error for c in result.clusters):
        sys.exit(1)
    code = gate(result, fail_on, min_score)
    if code:
        sys.exit(code)


@main.command()
@filter_options
@output_format_option
@rules_dir_option
@handle_errors
def demo(output: str, rules_dirs: tuple[Path, ...], **kwargs: Any) -> None:
    """Run the main job on the embedded demo cluster (no cluster, no network)."""
    from auditor.pipeline import run_scan  # deferred: the pipeline (0.6 s), not for --help

    view = pop_filter(kwargs)
    options = build_options(demo=True, rules_dirs=rules_dirs)
    emit(view.apply(run_scan(options)), output)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@cluster_access_options()
@click.option("--velero-namespace", help="Backup namespace whose ConfigMaps to keep (default: detected).")
@secret_options
@timing_options
@handle_errors
def snapshot(directory: Path, kubeconfig: str | None, context: str | None, in_cluster: bool,
             velero_namespace: str | None, no_secret_values: bool, fingerprint_key_file: Path | None,
             request_timeout: str, cluster_deadline: str) -> None:
    """Write a live cluster's objects as a dump DIRECTORY (secret values removed; credential fingerprints kept)."""
    # deferred, not for --help: the live reader and the pipeline (0.6 s)
    from auditor.collect.clusters import in_cluster_target, kubeconfig_targets
    from auditor.collect.live import LiveSource
    from auditor.collect.writer import SnapshotWriter
    from auditor.pipeline import ScanOptions, secret_policy

    target = in_cluster_target("in-cluster") if in_cluster else \
        kubeconfig_targets(kubeconfig, (context,) if context else (), False)[0]
    writer = SnapshotWriter(directory)
    secrets = secret_policy(ScanOptions(secret_values=not no_secret_values, fingerprint_key_file=fingerprint_key_file))
    source = LiveSource(target.api_client, target.name, backup_namespace=velero_namespace, secrets=secrets,
                        request_timeout=parse_seconds(request_timeout, "--request-timeout"),
                        deadline=parse_seconds(cluster_deadline, "--cluster-deadline", zero=True) or None)
    inventory = source.collect(writer)
    files = writer.finish(inventory)
    from auditor.collect.served import write_served_file  # served API resources, for auditor preflight

    write_served_file(directory, source)
    click.echo(f"wrote {len(files)} files to {directory} (cluster {inventory.cluster}, "
               f"{'complete' if inventory.complete else 'INCOMPLETE: ' + str(len(inventory.gaps)) + ' gaps'})")


@main.group()
def explain() -> None:
    """Explain a verdict in full."""


@explain.command("pvc")
@click.argument("pvc")
@source_options
@handle_errors
def explain_pvc(pvc: str, **kwargs: Any) -> None:
    """The decision chain for one PVC (NAMESPACE/NAME): scope and data path per schedule, recovery points."""
    # deferred, not for --help: the pipeline (0.6 s) and the explanation's renderer
    from auditor.output.explain import explain as render_explain
    from auditor.pipeline import run_scan

    if "/" not in pvc:
        raise click.BadParameter("expected NAMESPACE/NAME", param_hint="PVC")
    result = run_scan(build_options(**kwargs))
    console = terminal_console()
    analyses = [c.analysis for c in result.clusters if c.analysis is not None]
    having = [a for a in analyses if any(v.key == pvc for v in a.volumes)]
    if analyses and not having:  # in a fleet, explain it wherever it exists
        raise InputError(f"no PersistentVolumeClaim {pvc} in cluster(s) "
                         f"{', '.join(a.inventory.cluster for a in analyses)}")
    for analysis in having:
        render_explain(analysis, pvc, console)


@main.command()
@source_options
@click.option("--from-scan", "from_scan", type=click.Path(path_type=Path, dir_okay=False),
              help="Build from a saved scan document (`auditor scan -o json`, or a report's .json) instead of "
                   "scanning.")
@click.option("--from-store", "from_store", metavar="URL",
              help="Build from each cluster's newest scan in this history store (a hub: no cluster is read), with "
                   "the fleet rollup and trends; --cluster (repeatable) narrows to those clusters.")
@click.option("--fleet-detail", type=click.Choice(("summary", "attention", "all")), default="summary",
              show_default=True,
              help="With --from-store: per cluster, the worst few of what needs attention (volumes not protected, "
                   "critical and high findings, failing schedules) with a count of the rest (summary), all of it "
                   "(attention), or everything (all); counts and scores always cover everything.")
@report_formats_option
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True,
              help="Directory for the reports (created if missing; existing files are never overwritten).")
@store_option
@click.option("--sign-key", "sign_key", type=click.Path(path_type=Path, dir_okay=False), metavar="KEY.pem",
              help="Ed25519 private key (PKCS#8 PEM): write a detached signature of the manifest "
                   "(<manifest>.sig; check it with auditor verify).")
@click.option("--sign-cert", "sign_cert", type=click.Path(path_type=Path, dir_okay=False), metavar="CERT.pem",
              help="X.509 certificate of --sign-key: also sign the PDF itself (PAdES).")
@filter_options
@gate_options
@handle_errors
def report(from_scan: Path | None, from_store: str | None, fleet_detail: str, formats: str, out_dir: Path,
           store: str | None, fail_on: str | None, min_score: float | None, sign_key: Path | None,
           sign_cert: Path | None, **kwargs: Any) -> None:
    """Write compliance reports with an integrity manifest (timestamped names; see docs/reports.md).

    Exit codes as scan's: 3 findings at --fail-on severity or worse; 4 a framework score below --min-score
    (the reports are written first). With --from-store: 1 the store cannot be read (or a cluster was never
    read), 2 a --cluster the store does not know. With --store (default: history.store of --config) the 30-day
    trend comes from the history store and the report's manifest is recorded in it.
    """
    # deferred, not for --help: the report model and renderers (0.5 s), signing (0.45 s), the pipeline (0.6 s)
    from auditor.output.report import load_document, parse_formats, write_reports
    from auditor.output.report.history import read_store, record_report
    from auditor.output.report.signing import load_signing
    from auditor.pipeline import run_scan

    chosen = parse_formats(formats)
    if sign_cert and not sign_key:
        raise click.UsageError("--sign-cert needs --sign-key (the certificate's private key)")
    signing = load_signing(sign_key, sign_cert) if sign_key else None  # bad keys fail before any scan
    code = 0
    view = pop_filter(kwargs)
    rules = None
    history = None
    source: Any
    if from_store:
        source, history, rules = _from_store(from_store, fleet_detail, from_scan, view, kwargs)
        doc = source.data
        fail_on_fleet = fleet_gate(doc, fail_on)
    elif from_scan:
        from auditor.load.rules import load_catalog  # deferred: the rule catalog's loader (0.4 s)

        source = load_document(from_scan)
        if view.active:  # the filtered view is a document of its own: written and hashed as the report's source
            from auditor.output.report.source import SourceDocument  # deferred with the report model

            narrowed = view.apply_document(source.data)
            source = SourceDocument(narrowed, orjson.dumps(narrowed, option=orjson.OPT_INDENT_2) + b"\n")
        doc = source.data
        config = load_config(kwargs.get("config_path"))
        store = store or config.history.store
        rules = load_catalog() + tuple(r.rule for r in custom_rules(config, kwargs.get("rules_dirs") or ()))
    else:
        options = build_options(**kwargs)
        progress = _progress() if options.live else None
        try:
            source = run_scan(options, progress)
        finally:
            if progress:
                progress.stop()
        source = view.apply(source)
        code = gate(source, fail_on, min_score)
        doc = {"as_of": source.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "clusters": [{"name": c.name, "error": c.error} for c in source.clusters]}
        store = store or options.config.history.store
    if store and not from_store:
        try:
            history = read_store(store, [str(c.get("name")) for c in doc.get("clusters") or []],
                                 parse_time(str(doc.get("as_of"))))
        except StoreError as exc:
            click.echo(f"warning: no trend: {exc}", err=True)
    framework = kwargs.get("framework")
    manifest = write_reports(source, chosen, out_dir, history=history, frameworks=(framework,) if framework else (),
                             rules=rules, signing=signing)
    if store:
        record_report(store, manifest.as_dict(), str(manifest.path), ",".join(chosen))
    for f in manifest.files:
        click.echo(str(out_dir / f.name))
    click.echo(str(manifest.path))
    if manifest.signature_path is not None:
        click.echo(str(manifest.signature_path))
    if any(c.get("error") for c in doc.get("clusters") or []):
        sys.exit(1)
    if from_scan:
        code = gate_document(doc, fail_on, min_score)
    if from_store:
        code = fail_on_fleet or gate_document(doc, None, min_score)
    if code:
        sys.exit(code)


LIVE_SOURCES = ("snapshots", "contexts", "all_contexts", "in_cluster", "demo", "kubeconfig", "catalogs",
                "cluster_name", "exceptions_file")


def _from_store(url: str, detail: str, from_scan: Path | None, view: Any,
                kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The fleet document, its history and the rule catalog of ``report --from-store``: no cluster is read."""
    # deferred, not for --help: the rule catalog's loader (0.4 s) and the store's fleet reader (1.1 s)
    from auditor.load.rules import load_catalog
    from auditor.output.report.fleet import read_fleet

    given = [f"--{k.replace('_', '-')}" for k in LIVE_SOURCES if kwargs.get(k)]
    if from_scan:
        given.insert(0, "--from-scan")
    if given:
        raise click.UsageError(f"--from-store reads no cluster: it excludes {', '.join(given)}")
    if view.namespaces or view.statuses or view.severity or view.rules:
        raise click.UsageError("with --from-store, only --cluster narrows the report")
    at = _as_of(kwargs.get("as_of")) or datetime.now(UTC).replace(microsecond=0)
    catalog = load_catalog()
    source, history = read_fleet(url, view.clusters, at=at, detail=detail, rules=catalog)
    config = load_config(kwargs.get("config_path"))
    rules = catalog + tuple(r.rule for r in custom_rules(config, kwargs.get("rules_dirs") or ()))
    return source, history, rules


def fleet_gate(doc: dict[str, Any], fail_on: str | None) -> int:
    """--fail-on on a fleet document: its counts cover every finding (its list keeps only some)."""
    if not fail_on:
        return 0
    counts = (doc.get("summary") or {}).get("findings_by_severity") or {}
    return 3 if any(counts.get(s) for s in SEVERITIES[:SEVERITIES.index(fail_on) + 1]) else 0
