"""``auditor restore-drill``: prove a schedule's backups restore (see ``auditor/executor/drill.py``)."""

from __future__ import annotations

import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from auditor import demo as demo_data
from auditor.cli.base import handle_errors, main
from auditor.cli.executor import _cluster_api, _dump_needs_dry_run, _namespaced, _seconds, _show, executor_options
from auditor.config import RestoreDrillJob, help_text
from auditor.executor.drill import plan_drill
from auditor.executor.source import drill_inputs_from_dump


@main.command("restore-drill")
@click.option("--schedule", "schedule_key", required=True, metavar="NAMESPACE/NAME",
              help=help_text(RestoreDrillJob, "schedule"))
@executor_options
@click.option("--check", "check_cmd", metavar="CMD",
              help="A command run after PVCs are bound and pods ready (shell-split, no shell); exit 0 passes. "
                   "It gets DRILL_NAMESPACES, DRILL_BACKUP, DRILL_RESTORE and KUBECONFIG.")
@click.option("--keep-namespaces", is_flag=True, help=help_text(RestoreDrillJob, "keep_namespaces"))
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Follow, verify and clean up; --no-wait only creates the Restore and records it submitted.")
@click.option("--timeout", default="1h", show_default=True, help="How long the Restore may take.")
@click.option("--verify-timeout", default="5m", show_default=True,
              help="How long PVCs may take to bind and pods to become ready.")
@click.option("--check-timeout", default="10m", show_default=True, help="How long --check may run.")
@handle_errors
def restore_drill(schedule_key: str, dump: Path | None, demo: bool, kubeconfig: str | None, context: str | None,
                  in_cluster: bool, dry_run: bool, output: str, store: str | None, check_cmd: str | None,
                  keep_namespaces: bool, wait: bool, timeout: str, verify_timeout: str, check_timeout: str) -> None:
    """Restore the latest good backup of a schedule into scratch namespaces, verify it (PVCs bound, pods
    ready, --check), delete only the scratch namespaces, and annotate the Restore with the verdict (the
    evidence GOV-001 counts). Exit 0 when the drill passed, 1 when it failed. With --store, the drill is
    recorded as a run (auditor runs)."""
    now = datetime.now(UTC)  # names the Restore: taken before any request, so drills started together agree
    # deferred, not for --help: the drill's I/O loads the store (SQLAlchemy, 1.1 s)
    from auditor.executor.drill_io import list_backups, list_namespaces, run_drill

    namespace, name = _namespaced(schedule_key, "--schedule")
    _dump_needs_dry_run(dump, demo, dry_run)
    limits = {hint: _seconds(value, hint) for hint, value in
              (("--timeout", timeout), ("--verify-timeout", verify_timeout), ("--check-timeout", check_timeout))}
    try:
        check = shlex.split(check_cmd) if check_cmd else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--check") from None
    if dump or demo:
        backups, namespaces = drill_inputs_from_dump(dump or demo_data.CLUSTER_DIR, namespace, name)
        at = demo_data.demo_as_of() if demo else datetime.now(UTC)  # the demo's backups are dated relative to it
        plan = plan_drill(namespace, name, backups, namespaces, at)
        _show({"apiVersion": "v1", "kind": "List", "items": plan.objects()}, output)
        return
    api, cluster = _cluster_api(kubeconfig, context, in_cluster)
    if dry_run:
        plan = plan_drill(namespace, name, list_backups(api, namespace, name), list_namespaces(api), datetime.now(UTC))
        _show({"apiVersion": "v1", "kind": "List", "items": plan.objects()}, output)
        return
    result = run_drill(api, namespace, name, cluster=cluster, store_url=store, timeout=limits["--timeout"],
                       check=check, keep_namespaces=keep_namespaces, echo=lambda line: click.echo(line, err=True),
                       wait=wait, verify_timeout=limits["--verify-timeout"], check_timeout=limits["--check-timeout"],
                       kubeconfig=kubeconfig, at=now)
    if result.check_output and not result.passed:
        click.echo("check output (tail):\n" + result.check_output.rstrip(), err=True)
    _show({"passed": result.passed, "restore": result.restore, "backup": result.backup, "reason": result.reason,
           "namespaces": list(result.namespaces), "detail": result.detail}, output)
    if wait and not result.passed:
        sys.exit(1)
