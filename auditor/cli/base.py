"""The ``auditor`` root group and shared options; the only place where errors become one-line messages
and exit codes.

Exit codes: 0 ok, 1 runtime error (a cluster unreachable, an API failure), 2 usage or input error.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from auditor import __version__
from auditor.config import load_config
from auditor.errors import AuditorError
from auditor.model.time import parse_time

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    debug = False


def _fail(message: str, code: int) -> None:
    from auditor.output.safe import clean

    click.echo(f"error: {clean(message)}", err=True)
    sys.exit(code)


def _quiet_broken_pipe() -> None:
    """The reader went away (``auditor demo -o json | head``): that is not an error. Python would complain
    again when it flushes stdout at exit, so stdout now points at /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(0)


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
        except BrokenPipeError:
            _quiet_broken_pipe()
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
    from auditor.output.safe import SafeLogFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeLogFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler])


def parse_seconds(text: str, flag: str, *, zero: bool = False) -> float:
    """A duration flag (``30s``, ``2m30s`` or bare seconds) as seconds; 0 only where ``zero`` allows it."""
    from auditor.errors import ConfigError
    from auditor.model.durations import parse_duration

    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise ConfigError(f"{flag}: {exc}") from None
    if not 0 <= seconds <= 86400 or (seconds == 0 and not zero):
        raise ConfigError(f"{flag} {text!r}: must be {'0 or ' if zero else ''}more than 0s and at most 1d")
    return seconds


def build_options(snapshots: tuple[Path, ...] = (), cluster_name: str | None = None, kubeconfig: str | None = None,
                  contexts: tuple[str, ...] = (), all_contexts: bool = False, in_cluster: bool = False,
                  catalogs: tuple[str, ...] = (), config_path: Path | None = None, as_of: str | None = None,
                  demo: bool = False, exceptions_file: Path | None = None, framework: str | None = None,
                  no_secret_values: bool = False, fingerprint_key_file: Path | None = None,
                  rules_dirs: tuple[Path, ...] = (), request_timeout: str = "30s",
                  cluster_deadline: str = "150s", parallel: int | None = None) -> Any:
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
    from auditor.custom_rules.loader import load_rule_dirs

    return load_rule_dirs(directories)


def _progress() -> Any:
    """A live line on stderr for long live scans (kinds and pages read), only when both stdout and stderr are
    terminals: nothing in pipes, files or CI logs."""
    if not (sys.stderr.isatty() and sys.stdout.isatty()):
        return None
    from rich.console import Console

    from auditor.cli.progress import ScanProgress

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
    from auditor import formats
    from auditor.output.report.rendering import Rendering

    printer = formats.get(output).stdout
    if printer is None:
        raise click.BadParameter(f"{output} is written as a report file, not printed (auditor report --format)")
    printer(Rendering.of_scan(result, focus), _Stdout())


def stdout_console(**options: Any) -> Any:
    """A rich Console on stdout whose broken pipe ends the command quietly with exit 0 (rich exits 1)."""
    from auditor.output.safe import SafeConsole

    class _Console(SafeConsole):  # data is printed without markup, control characters escaped
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _Console(**options)


def gate_document(doc: dict[str, Any], fail_on: str | None, min_score: float | None) -> int:
    """:func:`gate` on a saved scan document (``report --from-scan``)."""
    from auditor.model.rules import SEVERITIES

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
    from auditor.model.rules import SEVERITIES

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
    from auditor.store import Store

    return Store(store or load_config(config_path).history.store, create=False)
