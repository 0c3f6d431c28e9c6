"""Options more than one command takes, each declared once here with one help text.

A command takes a shared option through its decorator (``@store_option``, ``@cluster_access_options()``, ...),
so a flag means the same, reads the same environment variable and says the same in every ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from auditor import formats
from auditor.config import FRAMEWORKS
from auditor.model.rules import SEVERITIES

F = TypeVar("F", bound=Callable[..., Any])



def _apply(fn: F, options: list[Callable[[F], F]]) -> F:
    """Decorate with ``options`` so that ``--help`` lists them in the order given."""
    for option in reversed(options):
        fn = option(fn)
    return fn


def _complete(what: str) -> Any:
    """Completion of contexts or namespaces from the kubeconfig (imported only when completing)."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> Any:
        from auditor.cli import completion  # completion reads kubeconfigs: loaded only when a shell asks

        fn = completion.complete_contexts if what == "contexts" else completion.complete_namespaces
        return fn(ctx, param, incomplete)

    return complete


store_option = click.option(
    "--store", is_flag=False, flag_value="default", envvar="AUDITOR_STORE", metavar="URL",
    help="History store: a SQLAlchemy URL (postgresql://...) or a SQLite file; alone, the per-user default. "
         "What the command keeps or reads there is in its description.")


def config_option(fn: F) -> F:
    """``--config``: the audit config, whatever part of it the command reads."""
    return click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
                        help="Audit config (YAML): policies, exceptions, history store, reports, executor.")(fn)


def kubeconfig_option(fn: F) -> F:
    # eager: --context completion reads the kubeconfig named before it
    return click.option("--kubeconfig", type=click.Path(dir_okay=False), is_eager=True,
                        help="Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).")(fn)


def context_option(*, multiple: bool = False) -> Callable[[F], F]:
    """``--context``: one cluster, or (``multiple``) each one given, as ``contexts``."""
    return click.option("--context", "contexts" if multiple else "context", multiple=multiple,
                        shell_complete=_complete("contexts"),
                        help="Kubeconfig context (default: the current one)" + ("; repeatable." if multiple else "."))


in_cluster_option = click.option("--in-cluster", is_flag=True,
                                 help="Use the pod's service account (inside a cluster).")


def cluster_access_options(*, multiple: bool = False) -> Callable[[F], F]:
    """``--kubeconfig``, ``--context`` and ``--in-cluster``: how a live cluster is reached."""

    def decorate(fn: F) -> F:
        return _apply(fn, [kubeconfig_option, context_option(multiple=multiple), in_cluster_option])

    return decorate


def rules_dir_option(fn: F) -> F:
    return click.option("--rules-dir", "rules_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False),
                        help="Directory of custom CEL rules, one *.yaml a rule (repeatable; "
                             "docs/custom-rules.md).")(fn)


def as_of_option(fn: F) -> F:
    return click.option("--as-of", help="Judge at this RFC 3339 time instead of now.")(fn)


def secret_options(fn: F) -> F:
    """Whether backup credentials are fingerprinted (their values are never kept)."""
    return _apply(fn, [
        click.option("--no-secret-values", is_flag=True,
                     help="Never read Secret values; rules that need them report 'not evaluated'."),
        click.option("--fingerprint-key-file", type=click.Path(path_type=Path, dir_okay=False),
                     help="Key for credential fingerprints (default: created under ~/.config/backup-auditor)."),
    ])


def timing_options(fn: F) -> F:
    """How long a live read may wait: per request and per cluster (what is not read in time is a gap)."""
    return _apply(fn, [
        click.option("--request-timeout", default="30s", show_default=True, metavar="DURATION",
                     help="Longest wait for one API request (a stalled list becomes a gap; not retried)."),
        click.option("--cluster-deadline", default="150s", show_default=True, metavar="DURATION",
                     help="Total time to read one live cluster; what is not read by then becomes a gap and the "
                          "next cluster starts (0: no deadline)."),
    ])


def source_options(fn: F) -> F:
    """Where the inventory comes from and how it is judged: shared by scan, explain, report, serve and rbac."""
    fn = _apply(fn, [
        click.option("--snapshot", "snapshots", multiple=True, type=click.Path(path_type=Path),
                     help="Read a dump directory instead of a live cluster (repeatable)."),
        click.option("--cluster-name", help="Cluster name for a single --snapshot (default: the directory's)."),
        kubeconfig_option,
        context_option(multiple=True),
        click.option("--all-contexts", is_flag=True, help="Scan every context of the kubeconfig."),
        in_cluster_option,
        click.option("--parallel", type=click.IntRange(1, 64), metavar="N",
                     help="Clusters (contexts, or dumps) scanned at once, each read, analysed and judged in a "
                          "worker process [default: min(4, clusters) contexts; dumps one after another]; the "
                          "result is the same as one at a time."),
        click.option("--velero-catalog", "catalogs", multiple=True,
                     help="Local copy of a BackupStorageLocation prefix: DIR, or CLUSTER=DIR (repeatable)."),
        config_option,
        as_of_option,
        click.option("--demo", is_flag=True, help="Use the embedded demo cluster (no cluster, no network)."),
        rules_dir_option,
        click.option("--exceptions", "exceptions_file", type=click.Path(path_type=Path, dir_okay=False),
                     help="Exceptions (waivers) YAML, added to the config's exceptions."),
        click.option("--framework", type=click.Choice(FRAMEWORKS),
                     help="Focus on one compliance framework's controls and rules."),
        secret_options,
    ])
    return timing_options(fn)


def gate_options(fn: F) -> F:
    """CI gates: shared by scan and report."""
    return _apply(fn, [
        click.option("--fail-on", type=click.Choice(SEVERITIES),
                     help="Exit 3 if an open finding has this severity or a worse one."),
        click.option("--min-score", type=click.FloatRange(0, 100),
                     help="Exit 4 if a framework's compliance score (percent) is below this."),
    ])


def store_options(fn: F) -> F:
    """Reading the history store: shared by history, diff and runs."""
    return _apply(fn, [
        store_option,
        config_option,
        click.option("--cluster", "clusters", multiple=True, metavar="NAME",
                     help="Only this cluster (repeatable; default: every cluster in the store)."),
        click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True),
    ])


class FormatChoice(click.Choice[str]):
    """The registered formats that print on stdout, read from the registry whenever click asks."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return formats.stdout_names()

    @choices.setter
    def choices(self, value: object) -> None:
        """click sets the choices once; they are the registry's."""


class _RegistryOption(click.Option):
    """An option whose help is written from the format registry when it is shown."""

    def __init__(self, *args: Any, describe: Callable[[], str], **kwargs: Any) -> None:
        self._describe = describe
        super().__init__(*args, **kwargs)

    @property
    def help(self) -> str | None:
        return self._describe()

    @help.setter
    def help(self, value: str | None) -> None:
        """The help is the registry's."""


def _describe_outputs() -> str:
    return "; ".join(f"{f.name}: {f.help}" for f in formats.all_formats() if f.stdout is not None) + "."


def _describe_report_formats() -> str:
    return f"Comma-separated: {', '.join(formats.file_names())}, or all."


output_format_option = click.option("-o", "--output", type=FormatChoice(), default="table", show_default=True,
                                    cls=_RegistryOption, describe=_describe_outputs)
report_formats_option = click.option("--format", "formats", default="html,pdf", show_default=True, metavar="LIST",
                                     cls=_RegistryOption, describe=_describe_report_formats)
