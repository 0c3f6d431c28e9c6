"""The ``auditor`` root group; the only place where errors become one-line messages and exit codes.

The root group loads a command's module only when that command is run (or completed, or asked for its
``--help``): ``auditor --help`` lists every command from :data:`COMMANDS` without importing one, so no command
pays for another's imports. ``tests/test_cli_help.py`` checks the table against the commands themselves.

Exit codes: 0 ok, 1 runtime error (a cluster unreachable, an API failure), 2 usage or input error.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from auditor import __version__
from auditor.errors import AuditorError, ConfigError
from auditor.model.durations import parse_duration
from auditor.model.time import parse_time
from auditor.output.safe import SafeLogFormatter, clean

F = TypeVar("F", bound=Callable[..., Any])

#: Every command but ``version``: the module that registers it on :data:`main` when imported, and its
#: summary for ``auditor --help`` (the first sentence of its docstring, as Click would shorten it).
COMMANDS: dict[str, tuple[str, str]] = {
    "backup": ("auditor.cli.executor",
               "Drive backups now: a Velero Backup from a schedule, a CSI VolumeSnapshot, an etcd snapshot."),
    "completion": ("auditor.cli.completion",
                   "Print the shell completion script for SHELL (see the README for how to install it)."),
    "demo": ("auditor.cli.audit", "Run the main job on the embedded demo cluster (no cluster, no network)."),
    "diff": ("auditor.cli.history",
             "New, resolved and changed findings, and volumes whose status changed, from SCAN_A to SCAN_B."),
    "explain": ("auditor.cli.audit", "Explain a verdict in full."),
    "fleet": ("auditor.cli.fleet",
              "One row per cluster in the history store: its newest scan and age, complete or not, volumes by "
              "status, findings by severity, framework scores, and whether its agent went silent (GOV-006: no "
              "scan for twice its interval, or 2 h); two clusters claiming one name are both shown (GOV-007)."),
    "history": ("auditor.cli.history",
                "Scans over time per cluster (every cluster in the store unless --cluster): coverage, share "
                "within RPO, findings by severity, compliance scores."),
    "preflight": ("auditor.cli.preflight",
                  "Check, before a disaster, whether a Velero backup restores into a target cluster: its bucket "
                  "is visible there, its volumes' classes, drivers, snapshot classes and node-agent exist, its "
                  "kinds are served, Velero and its plugins run."),
    "rbac": ("auditor.cli.rbac",
             "Print Roles and RoleBindings granting `get` on exactly the credential Secrets the backup "
             "configuration names (storage locations, Velero's repository and server credentials, the other "
             "backup tools' repository, backend and encryption Secrets), per namespace:"),
    "report": ("auditor.cli.audit",
               "Write compliance reports with an integrity manifest (timestamped names; see docs/reports.md)."),
    "restore-drill": ("auditor.cli.drill",
                      "Restore the latest good backup of a schedule into scratch namespaces, verify it (PVCs "
                      "bound, pods ready, --check), delete only the scratch namespaces, and annotate the Restore "
                      "with the verdict (the evidence GOV-001 counts)."),
    "rules": ("auditor.cli.rules",
              "List the rule catalog (``-o md`` writes docs/rules.md), with the custom rules of --rules-dir and "
              "of the custom_rules_dirs of --config when given."),
    "runs": ("auditor.cli.history", "The executor's runs recorded in the history store, newest first."),
    "scan": ("auditor.cli.audit", "Scan clusters (live or dumps) and report every volume's protection."),
    "serve": ("auditor.cli.serve",
              "Scan on an interval and on changes; serve Prometheus metrics and the newest scan document."),
    "snapshot": ("auditor.cli.audit",
                 "Write a live cluster's objects as a dump DIRECTORY (secret values removed; credential "
                 "fingerprints kept)."),
    "verify": ("auditor.cli.evidence",
               "Check every report set in DIRECTORY against its manifest and the manifest's signature."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name from :data:`COMMANDS` the first time they are asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(COMMANDS[cmd_name][0])  # the module registers its commands on main
        return super().get_command(ctx, cmd_name)

    def _listed(self, name: str) -> click.Command:
        """The command if loaded, else a stand-in with the table's summary: listings load nothing."""
        return self.commands.get(name) or click.Command(name, help=COMMANDS[name][1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``auditor --help``, as Click writes it, from the table."""
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = [(name, self._listed(name).get_short_help_str(limit)) for name in self.list_commands(ctx)
                if not self._listed(name).hidden]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """``auditor <TAB>``: the command names and summaries from the table, then the group's options."""
        items = [CompletionItem(name, help=self._listed(name).get_short_help_str())
                 for name in self.list_commands(ctx) if name.startswith(incomplete) and not self._listed(name).hidden]
        return items + click.Command.shell_complete(self, ctx, incomplete)


class _State:
    debug = False


def _fail(message: str, code: int) -> None:
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


@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "AUDITOR"})
@click.option("--debug", is_flag=True, help="Verbose logs and tracebacks on errors.")
@click.version_option(__version__, prog_name="backup-auditor")
def main(debug: bool) -> None:
    """backup-auditor: the truth about your Kubernetes backups."""
    _State.debug = debug
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeLogFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler])


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"backup-auditor {__version__}")


def parse_seconds(text: str, flag: str, *, zero: bool = False) -> float:
    """A duration flag (``30s``, ``2m30s`` or bare seconds) as seconds; 0 only where ``zero`` allows it."""
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
