"""``auditor scan --store``, ``auditor history`` and ``auditor diff``: records, trends, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditor.cli import main
from auditor.store import Store
from tests import factories as f
from tests.store.scans import cluster, write_dump


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def dumps(tmp_path: Path) -> tuple[Path, Path]:
    return (write_dump(tmp_path / "monday", cluster(schedule=f.schedule("daily"))),
            write_dump(tmp_path / "tuesday", cluster(schedule=f.schedule("daily", ttl="24h0m0s"))))


def test_scan_history_diff(tmp_path: Path, dumps: tuple[Path, Path]) -> None:
    store = str(tmp_path / "history.db")
    for dump, day in zip(dumps, ("19", "20"), strict=True):
        done = run("scan", "--snapshot", str(dump), "--cluster-name", "prod", "--as-of", f"2026-11-{day}T12:00:00Z",
                   "--store", store, "-o", "json")
        assert done.exit_code == 0, done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert [x["name"] for x in findings if x["rule_id"] == "GOV-002"] == ["daily"]

    history = json.loads(run("history", "--store", store, "-o", "json").stdout)["scans"]
    assert [(h["scan_id"], h["cluster"], h["volumes_audited"]) for h in history] == [(1, "prod", 1), (2, "prod", 1)]
    assert {"coverage", "within_rpo", "findings_by_severity", "compliance"} <= set(history[0])
    table = run("history", "--store", store)
    assert table.exit_code == 0 and "prod" in table.stdout and "in RPO" in table.stdout

    [d] = json.loads(run("diff", "1", "2", "--store", store, "-o", "json").stdout)["clusters"]
    assert ("GOV-002", "daily") in [(x["rule_id"], x["name"]) for x in d["new"]]
    text = run("diff", "--store", store).stdout
    assert "scan 1" in text and "scan 2" in text and "GOV-002" in text and "TTL reduced from 30d to 1d" in text


def test_the_store_from_the_environment_and_the_config(tmp_path: Path, dumps: tuple[Path, Path]) -> None:
    env_store = str(tmp_path / "env.db")
    assert run("scan", "--snapshot", str(dumps[0]), env={"AUDITOR_STORE": env_store}).exit_code == 0
    assert len(json.loads(run("history", "-o", "json", env={"AUDITOR_STORE": env_store}).stdout)["scans"]) == 1
    config = tmp_path / "audit.yaml"
    config.write_text(f"history:\n  store: {tmp_path / 'cfg.db'}\n  retention: {{max_scans: 1}}\n")
    for _ in range(2):
        assert run("scan", "--snapshot", str(dumps[0]), "--config", str(config)).exit_code == 0
    rows = json.loads(run("history", "--config", str(config), "-o", "json").stdout)["scans"]
    assert [r["scan_id"] for r in rows] == [2], "retention from the config kept one scan"


def test_scan_without_store_records_nothing(tmp_path: Path, dumps: tuple[Path, Path]) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert run("scan", "--snapshot", str(dumps[0]), env=env).exit_code == 0
    assert not (tmp_path / "xdg").exists()
    assert run("scan", "--snapshot", str(dumps[0]), "--store", env=env).exit_code == 0, "--store alone: the default"
    assert (tmp_path / "xdg" / "backup-auditor" / "store.db").exists()
    assert len(json.loads(run("history", "-o", "json", env=env).stdout)["scans"]) == 1


def test_errors_are_one_line(tmp_path: Path, dumps: tuple[Path, Path]) -> None:
    store = str(tmp_path / "s.db")
    missing = run("history", "--store", str(tmp_path / "none.db"))
    assert missing.exit_code == 1 and missing.stderr.count("\n") == 1
    assert missing.stderr.startswith("error: no history store at")
    run("scan", "--snapshot", str(dumps[0]), "--store", store)
    unknown = run("diff", "1", "7", "--store", store)
    assert unknown.exit_code == 2 and unknown.stderr == f"error: no scan 7 in the history store sqlite:///{store} " \
                                                        "(see auditor history)\n"
    alone = run("diff", "--store", store)
    assert alone.exit_code == 1 and "nothing to compare" in alone.stderr
    bad = run("scan", "--snapshot", str(dumps[0]), "--store", f"postgresql://a:sekret@/x?host={tmp_path}",
              env={"AUDITOR_STORE_RETRY_SECONDS": "1"})  # no server there: retried for 1 s, then one line
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "sekret" not in bad.stderr
    assert bad.stdout == "", "no output when the scan cannot be recorded"
    wrong = run("history", "--store", "mysql://h/db")
    assert wrong.exit_code == 1 and "unsupported store backend 'mysql'" in wrong.stderr
    config = tmp_path / "bad.yaml"
    config.write_text("history:\n  weakening: {ttl_cut: false}\n")
    bad_config = run("history", "--config", str(config))
    assert bad_config.exit_code == 2 and "history.weakening.ttl_cut" in bad_config.stderr


def test_runs_declares_each_option_once(tmp_path: Path) -> None:
    """``auditor runs`` (and every other command) builds its options without a single warning: a duplicate
    option makes Click warn on every call, which is what ``runs`` printed six times."""
    import warnings

    import click

    def commands(cmd: click.Command, path: str) -> list[tuple[str, click.Command]]:
        ctx = click.Context(cmd)  # the root group loads a command's module when asked for it
        subs = [(n, cmd.get_command(ctx, n)) for n in cmd.list_commands(ctx)] if isinstance(cmd, click.Group) else []
        return [(path, cmd), *[c for name, sub in subs for c in commands(sub, f"{path} {name}")]]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        for path, cmd in commands(main, "auditor"):
            cmd.get_params(click.Context(cmd, info_name=path))
        store = tmp_path / "store.db"
        Store(str(store)).close()
        listed = run("runs", "--store", str(store), "--cluster", "prod", "-o", "json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == [], listed.stderr
    done = subprocess.run([sys.executable, "-W", "error", "-m", "auditor", "runs", "--store", f"sqlite:///{store}",
                           "--cluster", "prod", "-o", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "" and json.loads(done.stdout) == [], done.stderr
