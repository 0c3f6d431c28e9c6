"""``auditor rules``: the catalog (built-in and custom rules) and ``auditor rules test`` for custom rules."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson
from rich.text import Text

from auditor.cli.base import handle_errors, main
from auditor.cli.options import config_option, rules_dir_option
from auditor.cli.shared import custom_rules, stdout_console
from auditor.config import load_config
from auditor.output.catalog import render_markdown, render_table
from auditor.output.safe import terminal_console


@main.group(invoke_without_command=True)
@click.option("-o", "--output", type=click.Choice(["table", "md", "json"]), default="table", show_default=True)
@rules_dir_option
@config_option
@click.pass_context
@handle_errors
def rules(ctx: click.Context, output: str, rules_dirs: tuple[Path, ...], config_path: Path | None) -> None:
    """List the rule catalog (``-o md`` writes docs/rules.md), with the custom rules of --rules-dir and of the
    custom_rules_dirs of --config when given."""
    if ctx.invoked_subcommand is not None:
        return
    from auditor.load.rules import load_catalog  # deferred: every check module (0.4 s), not for --help

    catalog = load_catalog() + tuple(r.rule for r in custom_rules(load_config(config_path), rules_dirs))
    if output == "json":
        click.echo(orjson.dumps([r.model_dump() for r in catalog], option=orjson.OPT_INDENT_2).decode())
    elif output == "md":
        click.echo(render_markdown(catalog), nl=False)
    else:
        render_table(catalog, stdout_console(highlight=False))


@rules.command("test")
@click.argument("directories", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@handle_errors
def rules_test(directories: tuple[Path, ...]) -> None:
    """Run the inline tests of the custom rules in DIRECTORIES.

    Exit codes: 0 every test passed; 1 a test failed; 2 a rule file is invalid.
    """
    # deferred: CEL (0.5 s), when the command runs, not for --help
    from auditor.custom_rules.loader import load_rule_dirs
    from auditor.custom_rules.testing import run_tests

    loaded = load_rule_dirs(directories)
    console = terminal_console()
    passed = failed = 0
    for result in run_tests(loaded):
        line = Text("PASS " if result.ok else "FAIL ", style="green" if result.ok else "bold red")
        line.append(f"{result.rule_id} {result.name}")
        if not result.ok:
            line.append(f": {result.detail}")
        console.print(line)
        passed += result.ok
        failed += not result.ok
    untested = [r.id for r in loaded if not r.tests]
    console.print(Text(f"{passed} passed, {failed} failed" +
                       (f"; rules without tests: {', '.join(untested)}" if untested else "")))
    if failed:
        sys.exit(1)
