"""``auditor rbac``: print the Roles that grant the auditor exactly the credential Secrets a cluster names."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from auditor.cli.base import handle_errors, main
from auditor.cli.options import source_options
from auditor.cli.shared import build_options
from auditor.errors import ConfigError


def _service_account(text: str) -> tuple[str, str]:
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise ConfigError(f"--service-account {text!r}: expected NAMESPACE/NAME, e.g. backup-auditor/backup-auditor")
    return namespace, name


@main.command()
@source_options
@click.option("--service-account", default="backup-auditor/backup-auditor", show_default=True,
              metavar="NAMESPACE/NAME", help="The auditor's service account, bound to every Role.")
@handle_errors
def rbac(service_account: str, **kwargs: Any) -> None:
    """Print Roles and RoleBindings granting `get` on exactly the credential Secrets the backup configuration
    names (storage locations, Velero's repository and server credentials, the other backup tools' repository,
    backend and encryption Secrets), per namespace:

        auditor rbac --context prod | kubectl --context prod apply -f -

    Exit codes: 0 ok; 1 a cluster could not be read; 2 bad input or configuration.
    """
    # deferred: the pipeline (0.6 s), not for --help
    from auditor.output.rbac import credential_grants, rbac_manifests
    from auditor.pipeline import collect_inventories

    account = _service_account(service_account)
    options = replace(build_options(**kwargs), secret_values=False)  # names are all this needs
    failed = False
    for name, inventory, error in collect_inventories(options):
        if inventory is None:
            click.echo(f"error: {error}", err=True)
            failed = True
            continue
        sys.stdout.write(rbac_manifests(name, credential_grants(inventory), account))
    sys.stdout.flush()
    if failed:
        sys.exit(1)
