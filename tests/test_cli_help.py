"""Every command's --help runs without a warning, and a shared option says the same wherever it appears."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from auditor.cli import main

CommandPath = tuple[str, ...]


def commands(group: click.Command = main, path: CommandPath = ()) -> Iterator[tuple[CommandPath, click.Command]]:
    """Every command, loaded as running it would (the root group imports a command's module on demand)."""
    yield path, group
    if isinstance(group, click.Group):
        ctx = click.Context(group, info_name=path[-1] if path else "auditor")
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, f"{' '.join((*path, name))} is listed but cannot be loaded"
            yield from commands(command, (*path, name))


def help_problems(root: click.Command, path: tuple[str, ...]) -> list[str]:
    """Python warnings (click's duplicate-parameter warning among them) and stderr of ``path --help``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(root, [*path, "--help"])
    problems = [str(w.message) for w in caught]
    if result.stderr:
        problems.append(result.stderr)
    if result.exit_code != 0:
        problems.append(f"exit {result.exit_code}: {result.output}")
    return problems


ALL = [path for path, _ in commands()]


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) or "auditor" for p in ALL])
def test_help_has_no_warnings(path: tuple[str, ...]) -> None:
    assert help_problems(main, path) == []


def test_the_check_sees_a_duplicate_option() -> None:
    """The test above could fail: a command declaring an option twice is caught."""

    @click.group()
    def root() -> None:
        pass

    @root.command()
    @click.option("--cluster")
    @click.option("--cluster", "again")
    def twice(cluster: str | None, again: str | None) -> None:
        pass

    assert any("--cluster" in p for p in help_problems(root, ("twice",)))


def test_runs_prints_no_warnings(tmp_path: Path) -> None:
    """``auditor runs`` in a fresh interpreter (warnings on): only its output, nothing on stderr."""
    from auditor.store import Store

    url = str(tmp_path / "store.db")
    Store(url).close()
    run = subprocess.run([sys.executable, "-W", "default", "-m", "auditor", "runs", "--store", url],
                         capture_output=True, text=True, timeout=120, check=False)
    assert (run.returncode, run.stderr, run.stdout) == (0, "", "no executor runs recorded\n")


SHARED = ("--store", "--kubeconfig", "--context", "--in-cluster", "--config", "--rules-dir", "--as-of",
          "--no-secret-values", "--fingerprint-key-file")


def test_shared_options_have_one_help_text() -> None:
    texts: dict[str, set[str]] = defaultdict(set)
    where: dict[str, list[str]] = defaultdict(list)
    for path, command in commands():
        for param in command.params:
            for flag in SHARED:
                # preflight's --context names the source cluster: another option under the same flag
                if isinstance(param, click.Option) and flag in param.opts and param.name != "source_context":
                    texts[flag].add((param.help or "").replace("; repeatable.", "."))
                    where[flag].append(" ".join(path))
    assert len(where["--store"]) >= 6 and len(where["--kubeconfig"]) >= 4
    assert {flag: len(t) for flag, t in texts.items()} == dict.fromkeys(SHARED, 1)
    assert all(t != {""} for t in texts.values())


def test_lazy_table_names_every_command_with_its_own_summary() -> None:
    """``auditor --help`` lists commands from ``COMMANDS`` without importing them: the table names exactly the
    commands the modules register, each with the summary Click takes from its docstring."""
    from auditor.cli.base import COMMANDS

    ctx = click.Context(main, info_name="auditor")
    loaded = {name: main.get_command(ctx, name) for name in COMMANDS}
    for name, command in loaded.items():
        assert command is not None and command.callback is not None, name
        module = command.callback.__module__
        assert (module, command.get_short_help_str(10**6)) == COMMANDS[name], name
    assert set(main.commands) == {*COMMANDS, "version"}  # no module registers a command the table lacks


def test_root_help_loads_no_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auditor --help`` in a fresh interpreter: the same listing as with every command loaded, and no
    command module, no pipeline, no config imported."""
    from auditor.cli.base import COMMANDS

    code = ("import json, sys\nfrom auditor.cli import main\ntry:\n    main(['--help'], prog_name='auditor')\n"
            "except SystemExit:\n    pass\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('auditor.'))), file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, "COLUMNS": "80"})
    modules = json.loads(run.stderr)
    assert [m for m in modules if m.startswith(("auditor.cli.", "auditor.pipeline", "auditor.config",
                                                "auditor.analyse", "auditor.store"))] == \
        ["auditor.cli.base", "auditor.cli.kubectl"]
    assert len(list(commands())) > len(COMMANDS)  # every command loaded now
    monkeypatch.setenv("COLUMNS", "80")
    assert main.get_help(click.Context(main, info_name="auditor")) + "\n" == run.stdout


def test_completing_a_command_name_loads_no_command() -> None:
    """``auditor <TAB>`` in a fresh interpreter offers every command with its summary, importing none; the
    same items as with every command loaded."""
    from click.shell_completion import ShellComplete

    code = ("import json, sys\nfrom click.shell_completion import ShellComplete\nfrom auditor.cli import main\n"
            "items = ShellComplete(main, {}, 'auditor', '_AUDITOR_COMPLETE').get_completions([], '')\n"
            "print(json.dumps([[i.value, i.help] for i in items]))\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('auditor.cli.'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    items, modules = (json.loads(line) for line in run.stdout.splitlines())
    assert modules == ["auditor.cli.base", "auditor.cli.kubectl"]
    assert len(list(commands())) > len(items)  # every command loaded here
    loaded = ShellComplete(main, {}, "auditor", "_AUDITOR_COMPLETE").get_completions([], "")
    assert items == [[i.value, i.help] for i in loaded] and len(items) == 18
