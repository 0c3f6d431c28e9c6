"""``auditor completion bash|zsh|fish`` and the dynamic completions of contexts and namespaces.

Contexts and namespaces come from the kubeconfig (``--kubeconfig`` already on the command line, else
``$KUBECONFIG``, else ``~/.kube/config``): the contexts' names and their ``namespace`` fields. Completing
never calls the API server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import yaml
from click.shell_completion import CompletionItem, get_completion_class

from auditor import yamlsafe
from auditor.cli.base import main

SHELLS = ("bash", "zsh", "fish")


@main.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.option("--prog-name", default="auditor", show_default=True,
              help="The command to complete (kubectl-backup_auditor for the plugin's script).")
def completion(shell: str, prog_name: str) -> None:
    """Print the shell completion script for SHELL (see the README for how to install it)."""
    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click knows the three
        raise click.UsageError(f"no completion for {shell}")
    click.echo(cls(main, {}, prog_name, "_AUDITOR_COMPLETE").source())


def kubeconfig_files(ctx: click.Context) -> list[Path]:
    explicit = ctx.params.get("kubeconfig")
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def kubeconfig_contexts(ctx: click.Context) -> list[dict[str, Any]]:
    """The contexts of the kubeconfig files (unreadable files are skipped: completion never fails)."""
    contexts: list[dict[str, Any]] = []
    for path in kubeconfig_files(ctx):
        try:
            data = yamlsafe.load(path.read_text())  # aliases bounded: completion must stay instant
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            contexts += [c for c in data.get("contexts") or [] if isinstance(c, dict) and c.get("name")]
    return contexts


def complete_contexts(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    names = sorted({str(c["name"]) for c in kubeconfig_contexts(ctx)})
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_namespaces(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The namespaces the kubeconfig's contexts name (of the chosen --context ones, when given)."""
    chosen = set(ctx.params.get("contexts") or ())
    found = {str((c.get("context") or {}).get("namespace")) for c in kubeconfig_contexts(ctx)
             if (not chosen or c["name"] in chosen) and isinstance(c.get("context"), dict)
             and (c.get("context") or {}).get("namespace")}
    return [CompletionItem(n) for n in sorted(found) if n.startswith(incomplete)]
