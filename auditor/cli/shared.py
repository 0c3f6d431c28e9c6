"""What several commands share: the scan options from their flags, printing a scan, CI gating, the store.

Imported by the command modules at their top, so it imports nothing heavy at its own: the pipeline, the report
renderers and the store are imported where they are used, so that a command's ``--help`` and shell completion
never load them (``python -X importtime``: the pipeline 0.6 s, the store 1.1 s).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from auditor import demo as demo_data
from auditor import formats
from auditor.cli.base import _as_of, parse_seconds
from auditor.cli.progress import ScanProgress
from auditor.config import load_config, load_exceptions
from auditor.model.rules import SEVERITIES
from auditor.output.safe import SafeConsole


def build_options(snapshots: tuple[Path, ...] = (), cluster_name: str | None = None, kubeconfig: str | None = None,
                  contexts: tuple[str, ...] = (), all_contexts: bool = False, in_cluster: bool = False,
                  catalogs: tuple[str, ...] = (), config_path: Path | None = None, as_of: str | None = None,
                  demo: bool = False, exceptions_file: Path | None = None, framework: str | None = None,
                  no_secret_values: bool = False, fingerprint_key_file: Path | None = None,
                  rules_dirs: tuple[Path, ...] = (), request_timeout: str = "30s",
                  cluster_deadline: str = "150s", parallel: int | None = None) -> Any:
    from auditor.pipeline import ScanOptions  # deferred: the pipeline (0.6 s) is not loaded for --help

    previous: dict[str, Any] = {}
    if demo:
        previous = demo_data.previous_states()
        snapshots = tuple(demo_data.CLUSTER_DIRS.values())  # each dump's manifest names its cluster
        catalogs = catalogs or (f"{demo_data.CLUSTER_NAME}={demo_data.CATALOG_DIR}",)
        config_path = config_path or demo_data.CONFIG_FILE
        as_of = as_of or demo_data.demo_as_of().strftime("%Y-%m-%dT%H:%M:%SZ")
    config = load_config(config_path)
    if exceptions_file:
        waivers = config.exceptions.waivers + load_exceptions(exceptions_file)
        config = config.model_copy(update={"exceptions": config.exceptions.model_copy(update={"waivers": waivers})})
    return ScanOptions(snapshots=snapshots, cluster_name=cluster_name, kubeconfig=kubeconfig, contexts=contexts,
                       all_contexts=all_contexts, in_cluster=in_cluster, catalogs=catalogs, config=config,
                       as_of=_as_of(as_of), secret_values=not no_secret_values,
                       fingerprint_key_file=fingerprint_key_file, framework=framework, previous=previous,
                       custom_rules=custom_rules(config, rules_dirs),
                       request_timeout=parse_seconds(request_timeout, "--request-timeout"),
                       cluster_deadline=parse_seconds(cluster_deadline, "--cluster-deadline", zero=True) or None,
                       parallel=parallel)


def custom_rules(config: Any, rules_dirs: tuple[Path, ...]) -> tuple[Any, ...]:
    """The config's custom_rules_dirs and --rules-dir, compiled (nothing to import when there are none)."""
    directories = (*config.custom_rules_dirs, *rules_dirs)
    if not directories:
        return ()
    from auditor.custom_rules.loader import load_rule_dirs  # deferred: CEL (0.5 s) only when rules are given

    return load_rule_dirs(directories)


def _progress() -> Any:
    """A live line on stderr for long live scans (kinds and pages read), only when both stdout and stderr are
    terminals: nothing in pipes, files or CI logs."""
    if not (sys.stderr.isatty() and sys.stdout.isatty()):
        return None
    return ScanProgress(Console(stderr=True))


class _Stdout:
    """Standard output for a format's printer (``auditor.formats.Sink``)."""

    @property
    def binary(self) -> Any:
        sys.stdout.flush()  # what was printed as text goes first
        return sys.stdout.buffer

    @property
    def text(self) -> Any:
        return sys.stdout

    def console(self) -> Any:
        width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
        return stdout_console(highlight=False, soft_wrap=True, width=width)


def emit(result: Any, output: str, focus: tuple[str, ...] = ()) -> None:
    """The scan on stdout in a registered format (``scan -o``); ``focus``: the frameworks a Markdown
    summary narrows to, as a report's would."""
    from auditor.output.report.rendering import Rendering  # deferred: the report model (0.45 s), not for --help

    printer = formats.get(output).stdout
    if printer is None:
        raise click.BadParameter(f"{output} is written as a report file, not printed (auditor report --format)")
    printer(Rendering.of_scan(result, focus), _Stdout())


def stdout_console(**options: Any) -> Any:
    """A rich Console on stdout whose broken pipe ends the command quietly with exit 0 (rich exits 1)."""
    class _Console(SafeConsole):  # data is printed without markup, control characters escaped
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _Console(**options)


def gate_document(doc: dict[str, Any], fail_on: str | None, min_score: float | None) -> int:
    """:func:`gate` on a saved scan document (``report --from-scan``)."""
    if fail_on:
        worst = SEVERITIES.index(fail_on)
        if any(f.get("status") == "open" and f.get("severity") in SEVERITIES
               and SEVERITIES.index(f["severity"]) <= worst for f in doc.get("findings") or []):
            return 3
    if min_score is not None:
        scores = [c.get("score") or 0.0 for c in doc.get("compliance") or []]
        if any(s * 100 < min_score for s in scores):
            return 4
    return 0


def gate(result: Any, fail_on: str | None, min_score: float | None) -> int:
    """CI gating: 3 when an open finding is at or above ``fail_on``, 4 when a framework score is below
    ``min_score`` percent (a framework nothing could be evaluated for counts as 0), else 0."""
    if fail_on:
        worst = SEVERITIES.index(fail_on)
        if any(SEVERITIES.index(f.severity) <= worst for f in result.findings if f.status == "open"):
            return 3
    if min_score is not None:
        scores = [fw.score or 0.0 for c in result.clusters for fw in c.compliance]
        if any(s * 100 < min_score for s in scores):
            return 4
    return 0


def open_store(store: str | None, config_path: Path | None) -> Any:
    from auditor.store import Store  # deferred: SQLAlchemy (1.1 s) only when a store is opened

    return Store(store or load_config(config_path).history.store, create=False)
