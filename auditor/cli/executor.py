"""Driving backups: the ``backup`` group."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson
import yaml

from auditor import demo as demo_data
from auditor.cli.base import F, handle_errors, main
from auditor.cli.options import cluster_access_options, config_option, store_option
from auditor.cli.shared import build_options
from auditor.collect.clusters import in_cluster_target, kubeconfig_targets
from auditor.collect.dump import read_dump
from auditor.config import EtcdJob, SnapshotJob, help_text, load_config
from auditor.errors import AuditorError, ClusterAccessError, InputError
from auditor.executor import run as executor
from auditor.executor.etcd import EtcdTarget, plan_snapshot, take_snapshot
from auditor.executor.protect import plan_protection, waivers_of
from auditor.executor.runner import execute
from auditor.executor.snapshots import retention_for, snapshot_for
from auditor.executor.source import schedule_from_cluster, schedule_from_dump, snapshot_inventory
from auditor.executor.templates import backup_from_template
from auditor.executor.velero import backup_from_schedule
from auditor.model.durations import format_duration, parse_duration


@main.group()
def backup() -> None:
    """Drive backups now: a Velero Backup from a schedule, a CSI VolumeSnapshot, an etcd snapshot."""


def output_option(default: str) -> Callable[[F], F]:
    """``-o``: the objects an executor command creates (or would), as JSON or YAML."""
    return click.option("-o", "--output", type=click.Choice(["json", "yaml"]), default=default, show_default=True,
                        help="How the created (or, with --dry-run, planned) objects are printed.")


def executor_options(fn: F) -> F:
    """Where an executor command reads and writes: a dump or the demo (dry runs only), or a cluster, and
    the history store its runs are recorded in (``auditor runs`` lists them)."""
    options = [
        click.option("--snapshot", "dump", type=click.Path(path_type=Path, file_okay=False),
                     help="Read from a dump (only with --dry-run)."),
        click.option("--demo", is_flag=True, help="Read from the demo (only with --dry-run)."),
        cluster_access_options(),
        click.option("--dry-run", is_flag=True, help="Print the object that would be created; create nothing."),
        output_option("yaml"),
        store_option,
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
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _cluster_api(kubeconfig: str | None, context: str | None, in_cluster: bool) -> tuple[Any, str]:
    target = in_cluster_target("in-cluster") if in_cluster else \
        kubeconfig_targets(kubeconfig, (context,) if context else (), False)[0]
    return target.api_client, target.name


def _show(value: Any, output: str) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() if output == "json"
               else yaml.safe_dump(value, sort_keys=False).rstrip())


def _dump_needs_dry_run(dump: Path | None, demo: bool, dry_run: bool) -> None:
    if (dump or demo) and not dry_run:
        raise click.UsageError("a dump cannot be written to: use --dry-run with --snapshot or --demo")


@backup.command("run")
@click.option("--schedule", "schedule_key", metavar="NAMESPACE/NAME",
              help="The Velero Schedule whose template the Backup takes (as velero backup create --from-schedule).")
@click.option("--template", "template_name", metavar="NAME",
              help="Or a Backup template from executor.templates of --config.")
@config_option
@executor_options
@click.option("--wait/--no-wait", default=False, help="Follow the Backup to a terminal phase.")
@click.option("--timeout", default="4h", show_default=True, help="How long --wait follows it.")
@handle_errors
def backup_run(schedule_key: str | None, template_name: str | None, config_path: Path | None, dump: Path | None,
               demo: bool, kubeconfig: str | None, context: str | None, in_cluster: bool, dry_run: bool, output: str,
               store: str | None, wait: bool, timeout: str) -> None:
    """Create a Backup now, from a Velero Schedule or a config template. Exit 0 when it was created (and,
    with --wait, Completed); 1 when it failed or did not finish in time. With --store, the run is recorded
    before anything is created, and an unfinished run for the same target is resumed, not started twice."""
    now = datetime.now().astimezone()  # names the run: taken before any request, so runs started together agree
    if (schedule_key is None) == (template_name is None):
        raise click.UsageError("give exactly one of --schedule NAMESPACE/NAME or --template NAME")
    _dump_needs_dry_run(dump, demo, dry_run)
    limit = _seconds(timeout, "--timeout")
    api, cluster = None, ""
    if not (dump or demo):
        api, cluster = _cluster_api(kubeconfig, context, in_cluster)
    if template_name is not None:
        config = load_config(config_path)
        name = template_name
        obj = backup_from_template(config.executor.template(name), config.velero_namespace or "velero", now)
    else:
        assert schedule_key is not None
        namespace, name = _namespaced(schedule_key, "--schedule")
        if dump or demo:
            schedule = schedule_from_dump(dump or demo_data.CLUSTER_DIR, namespace, name)
        else:
            schedule = schedule_from_cluster(api, namespace, name)
        obj = backup_from_schedule(schedule, now)
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
@click.option("--prune", "keep", metavar="DURATION|policy",
              help=help_text(SnapshotJob, "prune"))
@config_option
@handle_errors
def backup_snapshot(pvc_key: str, dump: Path | None, demo: bool, kubeconfig: str | None, context: str | None,
                    in_cluster: bool, dry_run: bool, output: str, store: str | None, wait: bool, timeout: str,
                    keep: str | None, config_path: Path | None) -> None:
    """Take a CSI VolumeSnapshot of one PVC now, with the VolumeSnapshotClass Velero would choose,
    labelled as the auditor's (only such snapshots are ever pruned). With --store, the run is recorded
    before anything is created, and an unfinished run for the same PVC is resumed, not started twice."""
    now = datetime.now().astimezone()  # names the run: taken before any request, so runs started together agree
    namespace, name = _namespaced(pvc_key, "NAMESPACE/PVC")
    _dump_needs_dry_run(dump, demo, dry_run)
    limit = _seconds(timeout, "--timeout")
    keep_seconds = _seconds(keep, "--prune") if keep and keep != "policy" else None
    api, cluster = None, ""
    if dump or demo:
        inventory = read_dump(dump or demo_data.CLUSTER_DIR)
    else:
        api, cluster = _cluster_api(kubeconfig, context, in_cluster)
        inventory = snapshot_inventory(api, namespace, name)
    obj = snapshot_for(inventory, namespace, name, now)
    if keep == "policy":
        keep_seconds = retention_for(load_config(config_path), inventory, namespace, name)
        click.echo(f"pruning the auditor's snapshots of {pvc_key} older than {format_duration(keep_seconds)} "
                   "(the retention of its policy)", err=True)
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
@click.option("--endpoints", required=True, help=help_text(EtcdJob, "endpoints"))
@click.option("--cacert", type=click.Path(path_type=Path, dir_okay=False), help=help_text(EtcdJob, "cacert"))
@click.option("--cert", type=click.Path(path_type=Path, dir_okay=False), help=help_text(EtcdJob, "cert"))
@click.option("--key", type=click.Path(path_type=Path, dir_okay=False), help=help_text(EtcdJob, "key"))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help=help_text(EtcdJob, "out"))
@click.option("--keep", type=click.IntRange(min=1), help=help_text(EtcdJob, "keep"))
@click.option("--timeout", default="5m", show_default=True, help="How long etcdctl may take.")
@click.option("--s3", "s3_url", metavar="s3://BUCKET/PREFIX", help=help_text(EtcdJob, "s3"))
@click.option("--s3-endpoint", metavar="URL", help=help_text(EtcdJob, "s3_endpoint"))
@click.option("--s3-region", help=help_text(EtcdJob, "s3_region"))
@click.option("--s3-ca-file", type=click.Path(path_type=Path, dir_okay=False), help=help_text(EtcdJob, "s3_ca_file"))
@click.option("--s3-profile", help=help_text(EtcdJob, "s3_profile"))
@click.option("--keep-local/--no-keep-local", default=True, show_default=True, help=help_text(EtcdJob, "keep_local"))
@click.option("--dry-run", is_flag=True, help="Print what would be saved, uploaded and pruned; touch nothing.")
@output_option("json")
@handle_errors
def backup_etcd(endpoints: str, cacert: Path | None, cert: Path | None, key: Path | None, out_dir: Path,
                keep: int | None, timeout: str, s3_url: str | None, s3_endpoint: str | None, s3_region: str | None,
                s3_ca_file: Path | None, s3_profile: str | None, keep_local: bool, dry_run: bool,
                output: str) -> None:
    """Snapshot etcd (etcdctl snapshot save), verify it, checksum it, and apply retention to our own files;
    with --s3, upload it, verify the upload and apply retention under the prefix too."""
    from auditor.collect.s3 import S3Target  # deferred: minio (0.2 s), for this command only

    if not s3_url and (s3_endpoint or s3_region or s3_ca_file or s3_profile or not keep_local):
        raise click.UsageError("--s3-endpoint, --s3-region, --s3-ca-file, --s3-profile and --no-keep-local "
                               "need --s3")
    upload = S3Target.parse(s3_url, endpoint=s3_endpoint, region=s3_region, ca_file=s3_ca_file,
                            profile=s3_profile) if s3_url else None
    target, now = EtcdTarget(endpoints, cacert, cert, key), datetime.now().astimezone()
    if dry_run:
        _show(plan_snapshot(target, out_dir, now, keep, upload=upload, keep_local=keep_local), output)
        return
    manifest = take_snapshot(target, out_dir, now, keep, _seconds(timeout, "--timeout"), upload=upload,
                             keep_local=keep_local)
    _show(manifest, output)


@backup.command("protect-unprotected")
@click.option("--snapshot", "dump", type=click.Path(path_type=Path, file_okay=False),
              help="Plan from a dump (only with --dry-run).")
@click.option("--demo", is_flag=True, help="Plan from the demo (only with --dry-run).")
@cluster_access_options()
@config_option
@click.option("--namespace", "namespaces", multiple=True, metavar="GLOB",
              help="Only PVCs in matching namespaces (repeatable).")
@click.option("--include-stale", is_flag=True, help="Also PVCs whose newest recovery point is beyond their RPO.")
@click.option("--max", "max_count", type=click.IntRange(min=1), default=20, show_default=True,
              help="Refuse to create more snapshots than this in one run.")
@click.option("--dry-run", is_flag=True, help="Print the VolumeSnapshots that would be created; create nothing.")
@output_option("yaml")
@store_option
@click.option("--wait/--no-wait", default=False, help="Wait until each snapshot is readyToUse.")
@click.option("--timeout", default="10m", show_default=True, help="How long --wait waits for each snapshot.")
@handle_errors
def backup_protect_unprotected(dump: Path | None, demo: bool, kubeconfig: str | None, context: str | None,
                               in_cluster: bool, config_path: Path | None, namespaces: tuple[str, ...],
                               include_stale: bool, max_count: int, dry_run: bool, output: str, store: str | None,
                               wait: bool, timeout: str) -> None:
    """Opt-in: scan, then take a CSI VolumeSnapshot of every audited PVC found unprotected (a stopgap on the
    volume's own storage, not an off-site backup). Exit 0 when every snapshot was created (and, with --wait,
    became ready); 1 when any failed or a PVC could not be snapshotted. With --store, each snapshot is a run
    (exactly once per PVC; an unfinished run is resumed)."""
    from auditor.pipeline import run_scan  # deferred: the pipeline (0.6 s), only for this command

    _dump_needs_dry_run(dump, demo, dry_run)
    limit = _seconds(timeout, "--timeout")
    if dump or demo:
        options = build_options(snapshots=(dump,) if dump else (), demo=demo, config_path=config_path,
                                no_secret_values=True)
        api, cluster = None, ""
    else:
        api, cluster = _cluster_api(kubeconfig, context, in_cluster)
        options = build_options(kubeconfig=kubeconfig, contexts=(context,) if context else (), in_cluster=in_cluster,
                                config_path=config_path, no_secret_values=True)
    result = run_scan(options)
    scans = [c for c in result.clusters if c.analysis is not None]
    if demo:
        scans = scans[:1]  # the demo's first cluster: one cluster's objects in one List
    if not scans:
        raise ClusterAccessError(next((c.error for c in result.clusters if c.error), None) or "nothing was scanned")
    analysis = scans[0].analysis
    assert analysis is not None
    statuses = ("unprotected", "stale") if include_stale else ("unprotected",)
    plan = plan_protection(analysis, datetime.now().astimezone(), statuses=statuses, namespaces=namespaces,
                           waived=waivers_of(scans[0].results))
    todo = [c for c in plan if c.snapshot is not None]
    for c in plan:
        if c.out_of_scope:
            click.echo(f"left out {c.key} ({c.status}): {c.out_of_scope}", err=True)
        if c.skipped:
            click.echo(f"skipped {c.key} ({c.status}): {c.skipped}", err=True)
    if not todo:
        click.echo(f"nothing to snapshot in {scans[0].name}: no {' or '.join(statuses)} PVC can be snapshotted",
                   err=True)
    if len(todo) > max_count:
        raise InputError(f"{len(todo)} PVCs would be snapshotted, more than --max {max_count}: narrow it with "
                         "--namespace or raise --max")
    if dry_run or api is None:
        _show({"apiVersion": "v1", "kind": "List", "items": [c.snapshot for c in todo]}, output)
        if any(c.skipped for c in plan):
            sys.exit(1)
        return
    failed = sum(1 for c in plan if c.skipped)
    made = []
    for c in todo:
        assert c.snapshot is not None
        try:
            made.append(execute(api, c.snapshot, cluster=cluster, target=c.pvc, store_url=store, wait=wait,
                                timeout=limit, echo=lambda line: click.echo(line, err=True)))
        except AuditorError as exc:
            failed += 1
            click.echo(f"failed {c.key}: {exc}", err=True)
    _show({"apiVersion": "v1", "kind": "List", "items": made}, output)
    click.echo(f"{len(made)} VolumeSnapshot(s) {'ready' if wait else 'created'}, {failed} PVC(s) not protected; "
               "a snapshot is a stopgap on the volume's own storage, not an off-site backup", err=True)
    if failed:
        sys.exit(1)
