"""Where a config key and a CLI option mean the same thing, one text describes both."""

from __future__ import annotations

import click
import pytest
from pydantic import BaseModel

from auditor.cli.base import main
from auditor.config import EtcdJob, PreflightPair, RestoreDrillJob, SnapshotJob


def option(path: tuple[str, ...], name: str) -> click.Option:
    command: click.Command = main
    for part in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), part)  # the root group loads its modules on demand
        assert found is not None
        command = found
    [found] = [p for p in command.params if isinstance(p, click.Option) and name in p.opts]
    return found


def described(model: type[BaseModel]) -> list[str]:
    return [name for name, f in model.model_fields.items() if f.description]


@pytest.mark.parametrize(("path", "model"), [
    (("backup", "etcd"), EtcdJob), (("restore-drill",), RestoreDrillJob), (("backup", "snapshot"), SnapshotJob),
    (("preflight",), PreflightPair),
])
def test_each_described_key_is_its_options_help(path: tuple[str, ...], model: type[BaseModel]) -> None:
    keys = described(model)
    assert keys
    for key in keys:
        help_text = option(path, "--" + key.replace("_", "-")).help or ""
        assert help_text.startswith(model.model_fields[key].description or "-"), (key, help_text)
