"""``auditor serve``: metrics, watches, scheduled reports and jobs."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from auditor.cli.base import _State, handle_errors, main
from auditor.cli.options import source_options, store_option
from auditor.cli.shared import build_options
from auditor.config.history import HistoryConfig
from auditor.server.settings import settings_from_flags


@main.command()
@source_options
@click.option("--listen", default="127.0.0.1:9750", show_default=True, metavar="HOST:PORT",
              help="Address of /metrics, /healthz, /readyz and /api/v1/scan (0.0.0.0:9750 in a pod; port 0: any).")
@click.option("--api-token-file", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Serve /api/v1/scan to requests bearing this token (a file not readable by others); without "
                   "this or --api-auth-kubernetes the data API is off (404).")
@click.option("--api-auth-kubernetes/--no-api-auth-kubernetes", default=None,
              help="Serve /api/v1/scan to bearer tokens the API server authenticates (TokenReview) and authorises "
                   "for `get` on that URL (SubjectAccessReview)  [default: on with --in-cluster].")
@click.option("--tls-cert-file", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Serve HTTPS with this PEM certificate (chain) ...")
@click.option("--tls-private-key-file", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="... and its PEM private key.")
@click.option("--interval", default="5m", show_default=True, help="Full rescan interval (watch events rescan sooner).")
@click.option("--per-volume-metrics/--no-per-volume-metrics", default=True, show_default=True,
              help="One series per volume (namespace aggregates are always exported).")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Rescan within seconds on changes to Backups, Schedules, BSLs, PVCs, PVs and Pods (live only).")
@store_option
@click.option("--pending-writes", type=click.IntRange(min=1), metavar="N",
              help=f"{HistoryConfig.model_fields['pending_writes'].description}  "
                   "[default: history.pending_writes of --config, 50]")
@click.option("--lease-identity", envvar="AUDITOR_LEASE_IDENTITY", metavar="ID",
              help="This replica's holderIdentity in the executor Lease (default: hostname_<random>); only with "
                   "executor.jobs in --config.")
@handle_errors
def serve(listen: str, interval: str, per_volume_metrics: bool, watch: bool, store: str | None,
          pending_writes: int | None,
          lease_identity: str | None, api_token_file: Path | None, api_auth_kubernetes: bool | None,
          tls_cert_file: Path | None, tls_private_key_file: Path | None, **kwargs: Any) -> None:
    """Scan on an interval and on changes; serve Prometheus metrics and the newest scan document.

    The scan document (/api/v1/scan) is served only to authenticated callers: bearer tokens reviewed by the
    API server (in a cluster), or the token of --api-token-file. /metrics, /healthz and /readyz are open.
    --store (default: history.store of --config) records every scan (retention from history.retention),
    compares each cluster with its previous scan (GOV-002) and judges the other clusters' agents (GOV-006,
    GOV-007); while the store is down, --pending-writes scans wait in memory.
    """
    from auditor.server.app import serve as run_server  # deferred: pipeline, store (1.2 s), not for --help

    if api_auth_kubernetes is None:  # in a pod, the API server decides unless a static token is given
        api_auth_kubernetes = bool(kwargs.get("in_cluster")) and api_token_file is None
    settings = settings_from_flags(listen, interval, per_volume_metrics, watch, api_token_file=api_token_file,
                                   api_auth_kubernetes=api_auth_kubernetes, tls_cert_file=tls_cert_file,
                                   tls_key_file=tls_private_key_file)
    if not _State.debug:
        logging.getLogger("auditor.server").setLevel(logging.INFO)
    options = build_options(**kwargs)
    if store or options.config.history.store:
        options = replace(options, store=store or options.config.history.store)
    settings = replace(settings, pending_writes=pending_writes or options.config.history.pending_writes)
    run_server(options, settings, lambda line: click.echo(line, err=True), lease_identity)
