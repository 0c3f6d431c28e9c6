"""The ``auditor`` command: one module a command family, each registered on :data:`main` when imported.

Exit codes: 0 ok, 1 runtime error (a cluster unreachable, an API failure), 2 usage or input error,
3 ``--fail-on`` matched, 4 ``--min-score`` missed.
"""

import click

from auditor import __version__
from auditor.cli import (  # noqa: F401  (registers the commands)
    audit,
    completion,
    drill,
    evidence,
    executor,
    fleet,
    history,
    preflight,
    rbac,
    rules,
    serve,
)
from auditor.cli.base import build_options, main
from auditor.cli.kubectl import kubectl_main

__all__ = ["build_options", "kubectl_main", "main"]


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"backup-auditor {__version__}")
