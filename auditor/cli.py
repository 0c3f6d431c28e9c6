"""The ``auditor`` command. The only place where errors become one-line messages and exit codes.

Exit codes: 0 ok, 1 runtime error (a cluster unreachable, an API failure), 2 usage or input error.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from auditor import __version__
from auditor.collect.fields import parse_time
from auditor.config import load_config
from auditor.errors import AuditorError

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    debug = False


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: F) -> F:
    """Typed errors become one line on stderr; anything else too, with the traceback only under --debug."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AuditorError as exc:
            if _State.debug:
                traceback.print_exc()
            _fail(str(exc), exc.exit_code)
        except click.ClickException:
            raise  # usage errors: click prints them with the usage line and exits 2
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as exc:
            if _State.debug:
                traceback.print_exc()
            _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)
        return None

    return wrapper  # type: ignore[return-value]


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise click.BadParameter(f"not an RFC 3339 time: {value!r} (e.g. 2026-11-20T12:00:00Z)") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "AUDITOR"})
@click.option("--debug", is_flag=True, help="Verbose logs and tracebacks on errors.")
@click.version_option(__version__, prog_name="backup-auditor")
def main(debug: bool) -> None:
    """backup-auditor: the truth about your Kubernetes backups."""
    _State.debug = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


def secret_options(fn: F) -> F:
    """Whether backup credentials are fingerprinted (their values are never kept)."""
    fn = click.option("--fingerprint-key-file", type=click.Path(path_type=Path, dir_okay=False),
                      help="Key for credential fingerprints (default: created under ~/.config/backup-auditor).")(fn)
    return click.option("--no-secret-values", is_flag=True,
                        help="Never read Secret values; rules that need them report 'not evaluated'.")(fn)


def source_options(fn: F) -> F:
    """Where the inventory comes from and how it is judged: shared by scan, explain and report."""
    options = [
        click.option("--snapshot", "snapshots", multiple=True, type=click.Path(path_type=Path),
                     help="Read a dump directory instead of a live cluster (repeatable)."),
        click.option("--cluster-name", help="Cluster name for a single --snapshot (default: the directory's)."),
        click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file."),
        click.option("--context", "contexts", multiple=True, help="Kubeconfig context to scan (repeatable)."),
        click.option("--all-contexts", is_flag=True, help="Scan every context of the kubeconfig."),
        click.option("--in-cluster", is_flag=True, help="Use the pod's service account."),
        click.option("--velero-catalog", "catalogs", multiple=True,
                     help="Local copy of a BackupStorageLocation prefix: DIR, or CLUSTER=DIR (repeatable)."),
        click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
                     help="Audit policy (RPO, retention, exclusions): YAML."),
        click.option("--as-of", help="Judge at this RFC 3339 time instead of now."),
        click.option("--demo", is_flag=True, help="Use the embedded demo cluster (no cluster, no network)."),
        click.option("--exceptions", "exceptions_file", type=click.Path(path_type=Path, dir_okay=False),
                     help="Exceptions (waivers) YAML, added to the config's exceptions."),
        click.option("--framework", type=click.Choice(FRAMEWORKS),
                     help="Focus on one compliance framework's controls and rules."),
        click.option("--no-secret-values", is_flag=True,
                     help="Never read Secret values; rules that need them report 'not evaluated'."),
        click.option("--fingerprint-key-file", type=click.Path(path_type=Path, dir_okay=False),
                     help="Key for credential fingerprints (default: created under ~/.config/backup-auditor)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


FRAMEWORKS = ("iso27001", "nist-800-53", "soc2", "hipaa", "pci-dss", "dora")


def build_options(snapshots: tuple[Path, ...] = (), cluster_name: str | None = None, kubeconfig: str | None = None,
                  contexts: tuple[str, ...] = (), all_contexts: bool = False, in_cluster: bool = False,
                  catalogs: tuple[str, ...] = (), config_path: Path | None = None, as_of: str | None = None,
                  demo: bool = False, exceptions_file: Path | None = None, framework: str | None = None,
                  no_secret_values: bool = False, fingerprint_key_file: Path | None = None) -> Any:
    from auditor.config import load_exceptions
    from auditor.pipeline import ScanOptions

    previous: dict[str, Any] = {}
    if demo:
        from auditor import demo as demo_data

        previous = demo_data.previous_states()
        snapshots = tuple(demo_data.CLUSTER_DIRS.values())  # each dump's manifest names its cluster
        catalogs = catalogs or (f"{demo_data.CLUSTER_NAME}={demo_data.CATALOG_DIR}",)
        config_path = config_path or demo_data.CONFIG_FILE
        as_of = as_of or demo_data.demo_as_of().strftime("%Y-%m-%dT%H:%M:%SZ")
    config = load_config(config_path)
    if exceptions_file:
        config = config.model_copy(update={"exceptions": config.exceptions + load_exceptions(exceptions_file)})
    return ScanOptions(snapshots=snapshots, cluster_name=cluster_name, kubeconfig=kubeconfig, contexts=contexts,
                       all_contexts=all_contexts, in_cluster=in_cluster, catalogs=catalogs, config=config,
                       as_of=_as_of(as_of), secret_values=not no_secret_values,
                       fingerprint_key_file=fingerprint_key_file, framework=framework, previous=previous)


def _progress() -> Any:
    """A live line on stderr for long live scans, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console

    console = Console(stderr=True)
    status = console.status("scanning…")
    status.start()

    def update(resource: str, count: int) -> None:
        status.update(f"reading {resource}: {count} objects")

    update.stop = status.stop  # type: ignore[attr-defined]
    return update


def emit(result: Any, output: str) -> None:
    from auditor.output.document import build_document

    if output == "json":
        sys.stdout.buffer.write(orjson.dumps(build_document(result), option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
        return
    from rich.console import Console

    from auditor.output.table import render

    render(result, Console(highlight=False, soft_wrap=True))


def gate(result: Any, fail_on: str | None, min_score: float | None) -> int:
    """CI gating: 3 when an open finding is at or above ``fail_on``, 4 when a framework score is below
    ``min_score`` percent (a framework nothing could be evaluated for counts as 0), else 0."""
    from auditor.checks.registry import SEVERITIES

    if fail_on:
        worst = SEVERITIES.index(fail_on)
        if any(SEVERITIES.index(f.severity) <= worst for f in result.findings if f.status == "open"):
            return 3
    if min_score is not None:
        scores = [fw.score or 0.0 for c in result.clusters for fw in c.compliance]
        if any(s * 100 < min_score for s in scores):
            return 4
    return 0


@main.command()
@source_options
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--fail-on", type=click.Choice(["critical", "high", "medium", "low", "info"]),
              help="Exit 3 if an open finding has this severity or a worse one.")
@click.option("--min-score", type=click.FloatRange(0, 100),
              help="Exit 4 if a framework's compliance score (percent) is below this.")
@click.option("--store", is_flag=False, flag_value="default", envvar="AUDITOR_STORE", metavar="URL",
              help="Record the scan in the history store and compare each cluster with its previous scan: a "
                   "SQLAlchemy URL (postgresql://...) or a SQLite file; alone, the per-user default "
                   "(history.store in --config also records).")
@handle_errors
def scan(output: str, fail_on: str | None, min_score: float | None, store: str | None, **kwargs: Any) -> None:
    """Scan clusters (live or dumps) and report every volume's protection.

    Exit codes: 0 ok; 1 a cluster could not be scanned; 2 bad input or configuration;
    3 findings at --fail-on severity or worse; 4 a framework score below --min-score.
    """
    from auditor.pipeline import run_scan

    options = build_options(**kwargs)
    if store or options.config.history.store:
        options = replace(options, store=store or options.config.history.store)
    progress = _progress() if options.live else None
    try:
        result = run_scan(options, progress)
    finally:
        if progress:
            progress.stop()
    emit(result, output)
    if any(c.error for c in result.clusters):
        sys.exit(1)
    code = gate(result, fail_on, min_score)
    if code:
        sys.exit(code)


@main.command()
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def demo(output: str) -> None:
    """Run the main job on the embedded demo cluster (no cluster, no network)."""
    from auditor.pipeline import run_scan

    options = build_options(demo=True)
    emit(run_scan(options), output)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--kubeconfig", type=click.Path(dir_okay=False))
@click.option("--context", help="Kubeconfig context (default: the current one).")
@click.option("--in-cluster", is_flag=True)
@click.option("--velero-namespace", help="Backup namespace whose ConfigMaps to keep (default: detected).")
@secret_options
@handle_errors
def snapshot(directory: Path, kubeconfig: str | None, context: str | None, in_cluster: bool,
             velero_namespace: str | None, no_secret_values: bool, fingerprint_key_file: Path | None) -> None:
    """Write a live cluster's objects as a dump DIRECTORY (secret values removed; credential fingerprints kept)."""
    from auditor.collect.clusters import in_cluster_target, kubeconfig_targets
    from auditor.collect.live import LiveSource
    from auditor.collect.writer import SnapshotWriter
    from auditor.pipeline import ScanOptions, secret_policy

    target = in_cluster_target("in-cluster") if in_cluster else \
        kubeconfig_targets(kubeconfig, (context,) if context else (), False)[0]
    writer = SnapshotWriter(directory)
    secrets = secret_policy(ScanOptions(secret_values=not no_secret_values, fingerprint_key_file=fingerprint_key_file))
    inventory = LiveSource(target.api_client, target.name, backup_namespace=velero_namespace,
                           secrets=secrets).collect(writer)
    files = writer.finish(inventory)
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
    from rich.console import Console

    from auditor.output.explain import explain as render_explain
    from auditor.pipeline import run_scan

    if "/" not in pvc:
        raise click.BadParameter("expected NAMESPACE/NAME", param_hint="PVC")
    result = run_scan(build_options(**kwargs))
    console = Console(highlight=False, soft_wrap=True)
    analyses = [c.analysis for c in result.clusters if c.analysis is not None]
    having = [a for a in analyses if any(v.key == pvc for v in a.volumes)]
    if analyses and not having:  # in a fleet, explain it wherever it exists
        from auditor.errors import InputError

        raise InputError(f"no PersistentVolumeClaim {pvc} in cluster(s) "
                         f"{', '.join(a.inventory.cluster for a in analyses)}")
    for analysis in having:
        render_explain(analysis, pvc, console)


@main.command()
@click.option("-o", "--output", type=click.Choice(["table", "md", "json"]), default="table", show_default=True)
@handle_errors
def rules(output: str) -> None:
    """List the rule catalog (``-o md`` writes docs/rules.md)."""
    from auditor.checks import load_catalog
    from auditor.output.catalog import render_markdown, render_table

    catalog = load_catalog()
    if output == "json":
        click.echo(orjson.dumps([r.model_dump() for r in catalog], option=orjson.OPT_INDENT_2).decode())
    elif output == "md":
        click.echo(render_markdown(catalog), nl=False)
    else:
        from rich.console import Console

        render_table(catalog, Console(highlight=False))


def store_options(fn: F) -> F:
    """Which history store to read: shared by history and diff."""
    options = [
        click.option("--store", envvar="AUDITOR_STORE", metavar="URL",
                     help="History store: a SQLAlchemy URL or a SQLite file (default: history.store of --config, "
                          "else the per-user store)."),
        click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
                     help="Audit config (its history.store)."),
        click.option("--cluster", help="Only this cluster."),
        click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def open_store(store: str | None, config_path: Path | None) -> Any:
    from auditor.store import Store

    return Store(store or load_config(config_path).history.store, create=False)


@main.command()
@store_options
@click.option("--limit", type=click.IntRange(1), default=30, show_default=True, help="Newest scans to show.")
@handle_errors
def history(store: str | None, config_path: Path | None, cluster: str | None, output: str, limit: int) -> None:
    """Scans over time per cluster: coverage, share within RPO, findings by severity, compliance scores."""
    from auditor.output.history import history_document, render_history

    with open_store(store, config_path) as db:
        rows = db.history(cluster, limit)
    if output == "json":
        sys.stdout.buffer.write(orjson.dumps(history_document(rows), option=orjson.OPT_INDENT_2) + b"\n")
        return
    from rich.console import Console

    render_history(rows, Console(highlight=False, soft_wrap=True))


@main.command()
@click.argument("scan_a", type=click.IntRange(1), required=False)
@click.argument("scan_b", type=click.IntRange(1), required=False)
@store_options
@handle_errors
def diff(scan_a: int | None, scan_b: int | None, store: str | None, config_path: Path | None, cluster: str | None,
         output: str) -> None:
    """New, resolved and changed findings, and volumes whose status changed, from SCAN_A to SCAN_B.

    SCAN_B defaults to each cluster's newest scan, SCAN_A to the scan before it (ids: auditor history).
    """
    from auditor.output.history import diff_document, render_diff

    with open_store(store, config_path) as db:
        diffs = db.diff(scan_a, scan_b, cluster)
    if output == "json":
        sys.stdout.buffer.write(orjson.dumps(diff_document(diffs), option=orjson.OPT_INDENT_2) + b"\n")
        return
    from rich.console import Console

    render_diff(diffs, Console(highlight=False, soft_wrap=True))


@main.command()
@source_options
@click.option("--listen", default="127.0.0.1:9750", show_default=True, metavar="HOST:PORT",
              help="Address of /metrics, /healthz, /readyz and /api/v1/scan (0.0.0.0:9750 in a pod; port 0: any).")
@click.option("--interval", default="5m", show_default=True, help="Full rescan interval (watch events rescan sooner).")
@click.option("--per-volume-metrics/--no-per-volume-metrics", default=True, show_default=True,
              help="One series per volume (namespace aggregates are always exported).")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Rescan within seconds on changes to Backups, Schedules, BSLs, PVCs, PVs and Pods (live only).")
@click.option("--store", is_flag=False, flag_value="default", envvar="AUDITOR_STORE", metavar="URL",
              help="Record every scan in the history store (retention from history.retention) and compare each "
                   "cluster with its previous scan (GOV-002); default: history.store of --config.")
@handle_errors
def serve(listen: str, interval: str, per_volume_metrics: bool, watch: bool, store: str | None,
          **kwargs: Any) -> None:
    """Scan on an interval and on changes; serve Prometheus metrics and the newest scan document."""
    from auditor.server.app import serve as run_server
    from auditor.server.settings import settings_from_flags

    settings = settings_from_flags(listen, interval, per_volume_metrics, watch)
    if not _State.debug:
        logging.getLogger("auditor.server").setLevel(logging.INFO)
    options = build_options(**kwargs)
    if store or options.config.history.store:
        options = replace(options, store=store or options.config.history.store)
    run_server(options, settings, lambda line: click.echo(line, err=True))


@main.command()
@source_options
@click.option("--from-scan", "from_scan", type=click.Path(path_type=Path, dir_okay=False),
              help="Build from a saved scan document (`auditor scan -o json`, or a report's .json) instead of "
                   "scanning.")
@click.option("--format", "formats", default="html,pdf", show_default=True, metavar="LIST",
              help="Comma-separated: html, pdf, json, csv, junit, sarif, md, or all.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True,
              help="Directory for the reports (created if missing; existing files are never overwritten).")
@click.option("--store", is_flag=False, flag_value="default", envvar="AUDITOR_STORE", metavar="URL",
              help="History store: the 30-day trend comes from it and the report's manifest is recorded in it "
                   "(default: history.store of --config).")
@handle_errors
def report(from_scan: Path | None, formats: str, out_dir: Path, store: str | None, **kwargs: Any) -> None:
    """Write compliance reports with an integrity manifest (timestamped names; see docs/reports.md)."""
    from auditor.errors import StoreError
    from auditor.output.report import load_document, parse_formats, write_reports
    from auditor.output.report.history import read_store, record_report
    from auditor.pipeline import run_scan

    chosen = parse_formats(formats)
    if from_scan:
        source: Any = load_document(from_scan)
        doc = source.data
        store = store or load_config(kwargs.get("config_path")).history.store
    else:
        options = build_options(**kwargs)
        progress = _progress() if options.live else None
        try:
            source = run_scan(options, progress)
        finally:
            if progress:
                progress.stop()
        doc = {"as_of": source.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "clusters": [{"name": c.name, "error": c.error} for c in source.clusters]}
        store = store or options.config.history.store
    history = None
    if store:
        try:
            history = read_store(store, [str(c.get("name")) for c in doc.get("clusters") or []],
                                 parse_time(str(doc.get("as_of"))))
        except StoreError as exc:
            click.echo(f"warning: no trend: {exc}", err=True)
    framework = kwargs.get("framework")
    manifest = write_reports(source, chosen, out_dir, history=history, frameworks=(framework,) if framework else ())
    if store:
        record_report(store, manifest.as_dict(), str(manifest.path), ",".join(chosen))
    for f in manifest.files:
        click.echo(str(out_dir / f.name))
    click.echo(str(manifest.path))
    if any(c.get("error") for c in doc.get("clusters") or []):
        sys.exit(1)


@main.group()
def backup() -> None:
    """Drive backups now: a Velero Backup from a schedule, a CSI VolumeSnapshot, an etcd snapshot."""


def executor_options(fn: F) -> F:
    """Where an executor command reads and writes: a dump or the demo (dry runs only), or a cluster."""
    options = [
        click.option("--snapshot", "dump", type=click.Path(path_type=Path, file_okay=False),
                     help="Read from a dump (only with --dry-run)."),
        click.option("--demo", is_flag=True, help="Read from the demo (only with --dry-run)."),
        click.option("--kubeconfig", type=click.Path(dir_okay=False)),
        click.option("--context", help="Kubeconfig context (default: the current one)."),
        click.option("--in-cluster", is_flag=True),
        click.option("--dry-run", is_flag=True, help="Print the object that would be created; create nothing."),
        click.option("-o", "--output", type=click.Choice(["json", "yaml"]), default="yaml", show_default=True),
        click.option("--store", is_flag=False, flag_value="default", envvar="AUDITOR_STORE", metavar="URL",
                     help="Record the run in the history store before creating anything, and resume an unfinished "
                          "run for the same target instead of starting a second one."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _namespaced(key: str, hint: str) -> tuple[str, str]:
    namespace, sep, name = key.partition("/")
    if not sep or not namespace or not name:
        raise click.BadParameter("expected NAMESPACE/NAME", param_hint=hint)
    return namespace, name


def _seconds(text: str, hint: str) -> float:
    from auditor.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _cluster_api(kubeconfig: str | None, context: str | None, in_cluster: bool) -> tuple[Any, str]:
    from auditor.collect.clusters import in_cluster_target, kubeconfig_targets

    target = in_cluster_target("in-cluster") if in_cluster else \
        kubeconfig_targets(kubeconfig, (context,) if context else (), False)[0]
    return target.api_client, target.name


def _show(value: Any, output: str) -> None:
    import yaml

    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() if output == "json"
               else yaml.safe_dump(value, sort_keys=False).rstrip())


def _dump_needs_dry_run(dump: Path | None, demo: bool, dry_run: bool) -> None:
    if (dump or demo) and not dry_run:
        raise click.UsageError("a dump cannot be written to: use --dry-run with --snapshot or --demo")


@backup.command("run")
@click.option("--schedule", "schedule_key", required=True, metavar="NAMESPACE/NAME",
              help="The Velero Schedule whose template the Backup takes (as velero backup create --from-schedule).")
@executor_options
@click.option("--wait/--no-wait", default=False, help="Follow the Backup to a terminal phase.")
@click.option("--timeout", default="4h", show_default=True, help="How long --wait follows it.")
@handle_errors
def backup_run(schedule_key: str, dump: Path | None, demo: bool, kubeconfig: str | None, context: str | None,
               in_cluster: bool, dry_run: bool, output: str, store: str | None, wait: bool, timeout: str) -> None:
    """Create a Backup from a Velero Schedule now. Exit 0 when it was created (and, with --wait,
    Completed); 1 when it failed or did not finish in time."""
    from auditor.executor.runner import execute
    from auditor.executor.source import schedule_from_cluster, schedule_from_dump
    from auditor.executor.velero import backup_from_schedule

    namespace, name = _namespaced(schedule_key, "--schedule")
    _dump_needs_dry_run(dump, demo, dry_run)
    limit = _seconds(timeout, "--timeout")
    api, cluster = None, ""
    if dump or demo:
        from auditor import demo as demo_data

        schedule = schedule_from_dump(dump or demo_data.CLUSTER_DIR, namespace, name)
    else:
        api, cluster = _cluster_api(kubeconfig, context, in_cluster)
        schedule = schedule_from_cluster(api, namespace, name)
    obj = backup_from_schedule(schedule, datetime.now().astimezone())
    if dry_run or api is None:
        _show(obj, output)
        return
    final = execute(api, obj, cluster=cluster, target=name, store_url=store, wait=wait, timeout=limit,
                    echo=lambda line: click.echo(line, err=True),
                    on_phase=lambda phase: click.echo(f"phase: {phase}", err=True))
    _show(final, output)
    if wait and (final.get("status") or {}).get("phase") != "Completed":
        sys.exit(1)


@backup.command("snapshot")
@click.argument("pvc_key", metavar="NAMESPACE/PVC")
@executor_options
@click.option("--wait/--no-wait", default=False, help="Wait until the snapshot is readyToUse.")
@click.option("--timeout", default="10m", show_default=True, help="How long --wait waits.")
@click.option("--prune", "keep", metavar="DURATION",
              help="After a ready snapshot, delete the auditor's own snapshots of this PVC older than DURATION "
                   "(never any other snapshot).")
@handle_errors
def backup_snapshot(pvc_key: str, dump: Path | None, demo: bool, kubeconfig: str | None, context: str | None,
                    in_cluster: bool, dry_run: bool, output: str, store: str | None, wait: bool, timeout: str,
                    keep: str | None) -> None:
    """Take a CSI VolumeSnapshot of one PVC now, with the VolumeSnapshotClass Velero would choose,
    labelled as the auditor's (only such snapshots are ever pruned)."""
    from auditor.executor import run as executor
    from auditor.executor.runner import execute
    from auditor.executor.snapshots import snapshot_for
    from auditor.executor.source import snapshot_inventory

    namespace, name = _namespaced(pvc_key, "NAMESPACE/PVC")
    _dump_needs_dry_run(dump, demo, dry_run)
    limit = _seconds(timeout, "--timeout")
    keep_seconds = _seconds(keep, "--prune") if keep else None
    api, cluster = None, ""
    if dump or demo:
        from auditor import demo as demo_data
        from auditor.collect.dump import read_dump

        inventory = read_dump(dump or demo_data.CLUSTER_DIR)
    else:
        api, cluster = _cluster_api(kubeconfig, context, in_cluster)
        inventory = snapshot_inventory(api, namespace, name)
    obj = snapshot_for(inventory, namespace, name, datetime.now().astimezone())
    if dry_run or api is None:
        _show(obj, output)
        return
    final = execute(api, obj, cluster=cluster, target=name, store_url=store, wait=wait or keep_seconds is not None,
                    timeout=limit, echo=lambda line: click.echo(line, err=True))
    _show(final, output)
    if keep_seconds is not None and (final.get("status") or {}).get("readyToUse"):
        for deleted in executor.prune_snapshots(api, namespace, name, keep_seconds):
            click.echo(f"pruned VolumeSnapshot {namespace}/{deleted}", err=True)


@backup.command("etcd")
@click.option("--endpoints", required=True, help="etcd client URL(s), comma-separated (https://10.0.0.1:2379).")
@click.option("--cacert", type=click.Path(path_type=Path, dir_okay=False), help="CA of the etcd server certificate.")
@click.option("--cert", type=click.Path(path_type=Path, dir_okay=False), help="Client certificate.")
@click.option("--key", type=click.Path(path_type=Path, dir_okay=False), help="Client key.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Directory for etcd-snapshot-<time>.db and its .json manifest.")
@click.option("--keep", type=click.IntRange(min=1), help="Keep only this many of the auditor's snapshots there.")
@click.option("--timeout", default="5m", show_default=True, help="How long etcdctl may take.")
@handle_errors
def backup_etcd(endpoints: str, cacert: Path | None, cert: Path | None, key: Path | None, out_dir: Path,
                keep: int | None, timeout: str) -> None:
    """Snapshot etcd (etcdctl snapshot save), verify it, checksum it, and apply retention to our own files."""
    from auditor.executor.etcd import EtcdTarget, take_snapshot

    manifest = take_snapshot(EtcdTarget(endpoints, cacert, cert, key), out_dir, datetime.now().astimezone(), keep,
                             _seconds(timeout, "--timeout"))
    click.echo(orjson.dumps(manifest, option=orjson.OPT_INDENT_2).decode())


@main.command()
@store_options
@click.option("--cluster", help="Only this cluster.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@handle_errors
def runs(store: str | None, config_path: Path | None, cluster: str | None, output: str, limit: int) -> None:
    """The executor's runs recorded in the history store, newest first."""
    with open_store(store, config_path) as db:
        records = db.runs(cluster, limit)
    if output == "json":
        click.echo(orjson.dumps([r.as_dict() for r in records], option=orjson.OPT_INDENT_2).decode())
        return
    for r in records:
        ended = f"{r.finished_at:%Y-%m-%d %H:%M:%SZ}" if r.finished_at else "-"
        click.echo(f"{r.started_at:%Y-%m-%d %H:%M:%SZ}  {r.status:<10} {r.cluster}  {r.kind} "
                   f"{r.namespace}/{r.object_name} (for {r.target})  ended {ended}")
    if not records:
        click.echo("no executor runs recorded")


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"backup-auditor {__version__}")


if __name__ == "__main__":  # pragma: no cover
    main()
