"""``auditor serve --store`` as an agent of the hub: it keeps scanning while the store is down (scans wait in
memory, a gauge counts them, they are written in order when it is back), and judges the other agents the
store knows (GOV-006 silence, GOV-007 one name for two clusters), exported as metrics."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from auditor.pipeline import ScanOptions
from auditor.server.app import AuditorServer
from auditor.server.settings import ServeSettings
from auditor.store import Store
from auditor.store import schema as s
from tests.store.postgres import PostgresServer, start_server
from tests.store.scans import record, write_dump
from tests.store.test_agents import agent_cluster
from tests.store.test_fleet import agent_scan

QUICK = ServeSettings(host="127.0.0.1", port=0, interval=2.0, watch=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metrics(app: AuditorServer) -> str:
    with urllib.request.urlopen(f"{app.url}/metrics", timeout=10) as response:
        return str(response.read().decode())


def value(text: str, series: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait(what: str, check: Any, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def stoppable() -> Iterator[PostgresServer]:
    """A PostgreSQL of its own on a loopback port, for this test to stop and start."""
    server = start_server(port=free_port())
    if server is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_a_store_that_goes_away_and_comes_back_loses_no_scan(stoppable: PostgresServer, tmp_path: Path) -> None:
    from sqlalchemy import make_url

    database = make_url(stoppable.create_database()).database  # the server works...
    assert database is not None
    url = stoppable.tcp_url(database).replace("postgres@", "postgres:not-shown@")
    stoppable.halt()  # ...and is down when serve starts
    dump = write_dump(tmp_path / "dump", agent_cluster(3))
    app = AuditorServer(ScanOptions(snapshots=(dump,), cluster_name="agent-3", store=url), QUICK)
    app.start()
    try:
        wait("three scans while the store is down", lambda: app.current.get().seq >= 3
             and value(metrics(app), "backup_auditor_store_up") == 0.0)
        text = metrics(app)
        pending = value(text, "backup_auditor_store_pending_writes")
        assert pending is not None and pending >= 2, text
        assert value(text, "backup_auditor_store_up") == 0.0
        assert value(text, 'backup_auditor_scan_success{cluster="agent-3"}') == 1.0, "scanning goes on"
        assert app.current.get().ready
        unknown = {r.rule_id: r for r in app.current.get().data.result.results if r.rule_id in ("GOV-006", "GOV-007")}
        assert {k: r.status for k, r in unknown.items()} == {"GOV-006": "not-evaluated", "GOV-007": "not-evaluated"}
        assert all("127.0.0.1" in r.message and "not-shown" not in r.message for r in unknown.values()), unknown
        stoppable.resume()
        wait("the store back", lambda: value(metrics(app), "backup_auditor_store_up") == 1.0)
        wait("the waiting scans written", lambda: (value(metrics(app), "backup_auditor_store_pending_writes")
                                                   or 0) <= 1)  # a new scan may have just come in
    finally:
        app.stop()  # writes what still waits
        seq = app.current.get().seq
    assert app.hub is not None and app.hub.writer.pending_writes == 0 and app.hub.writer.dropped == 0
    with Store(url) as store, store.engine.connect() as conn:
        rows = conn.execute(select(s.ClusterScan.cluster, s.ClusterScan.cluster_uid, s.ClusterScan.as_of,
                                   s.ClusterScan.interval_seconds).order_by(s.ClusterScan.id)).all()
        assert len(rows) == seq >= 3, "every scan is recorded, those of the outage too"
        assert {(r.cluster, r.cluster_uid, r.interval_seconds) for r in rows} == {("agent-3", "uid-3", 2.0)}
        times = [r.as_of for r in rows]
        assert times == sorted(times), "written in the order they were scanned"
        [agent] = store.identities()
        assert (agent.name, agent.uid, agent.interval_seconds) == ("agent-3", "uid-3", 2.0)
    log = (stoppable.root / "server.log").read_text(errors="replace")
    assert "not-shown" not in log


def test_serve_judges_the_other_agents_and_exports_their_silence(tmp_path: Path) -> None:
    sqlite_url = str(tmp_path / "store.db")
    now = datetime.now(UTC).replace(microsecond=0)
    with Store(sqlite_url) as store:
        record(store, agent_scan(tmp_path, "prod-ap", "uid-ap", now - timedelta(hours=3)), interval=300)
        record(store, agent_scan(tmp_path, "prod-us", "uid-us", now - timedelta(minutes=2)), interval=300)
        record(store, agent_scan(tmp_path, "agent-3", "uid-clone", now - timedelta(minutes=2)), interval=300)
    dump = write_dump(tmp_path / "dump", agent_cluster(3))
    app = AuditorServer(ScanOptions(snapshots=(dump,), cluster_name="agent-3", store=sqlite_url),
                        QUICK)
    app.start()
    try:
        def judged() -> bool:
            results = app.current.get().data.result.results
            return any(r.rule_id == "GOV-006" for r in results)

        def own_recorded() -> bool:  # the first scan is judged on the fleet read before it; its own row comes
            fleet = app.hub.writer.fleet if app.hub else None  # with the first write
            return any(a.uid == "uid-3" for a in fleet or ())

        wait("a scan judged on the fleet, its own recorded", lambda: judged() and own_recorded())
        results = app.current.get().data.result.results
        silence = sorted((r.name, r.status) for r in results if r.rule_id == "GOV-006")
        # every other cluster: the clone named agent-3 too, never this serve's own agent-3 (uid-3)
        assert silence == [("agent-3", "pass"), ("prod-ap", "open"), ("prod-us", "pass")]
        [claim] = [r for r in results if r.rule_id == "GOV-007"]
        assert claim.status == "open" and claim.evidence["other_uids"] == ["uid-clone"]
        text = metrics(app)
        assert value(text, 'backup_auditor_agent_silent{cluster="prod-ap",uid="uid-ap"}') == 1.0
        assert value(text, 'backup_auditor_agent_silent{cluster="prod-us",uid="uid-us"}') == 0.0
        assert value(text, 'backup_auditor_agent_silent{cluster="agent-3",uid="uid-3"}') == 0.0, "its own: scanning"
        assert value(text, 'backup_auditor_cluster_name_claims{cluster="agent-3"}') == 2.0
        assert value(text, 'backup_auditor_findings{cluster="agent-3",rule="GOV-006",severity="high",'
                           'status="open"}') == 1.0
    finally:
        app.stop()


def test_the_pending_writes_limit_drops_the_oldest_loudly(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """Beyond ``history.pending_writes`` the oldest waiting scan is dropped: an error line naming the limit and
    its time, the dropped counter and the limit as metrics; never silently."""
    from auditor.errors import StoreError
    from auditor.output.document import build_document
    from auditor.output.hub_metrics import hub_families
    from auditor.server.hub import StoreWriter

    def unreachable(url: str, retry_for: float) -> Store:
        raise StoreError("history store postgresql://auditor@db.example/hub: connection refused")

    writer = StoreWriter("postgresql://auditor@db.example/hub", retention=None, interval=60, max_pending=2,
                         opener=unreachable)  # not started: nothing is written, the scans wait
    scans = [agent_scan(tmp_path / str(i), "agent-1", "uid-1", datetime(2026, 11, 20, 10, i, tzinfo=UTC))
             for i in range(4)]
    with caplog.at_level("ERROR", logger="auditor.server.hub"):
        for result in scans:
            writer.submit(result, build_document(result))
    assert (writer.pending_writes, writer.dropped) == (2, 2)
    assert writer.flush() is False and writer.pending_writes == 2, "the store down: the newest two still wait"
    dropped = [r.getMessage() for r in caplog.records if "dropped unwritten" in r.getMessage()]
    assert len(dropped) == 2 and "more than 2 scans waiting" in dropped[0], dropped
    assert "2026-11-20T10:00:00Z" in dropped[0] and "2026-11-20T10:01:00Z" in dropped[1]
    series = {m.name: [s.value for s in m.samples] for m in hub_families(writer.status())}
    assert series["backup_auditor_store_pending_writes_limit"] == [2.0]
    assert series["backup_auditor_store_dropped_writes"] == [2.0]
    assert series["backup_auditor_store_pending_writes"] == [2.0]


def test_pending_writes_from_the_config_or_the_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``serve --pending-writes`` wins over ``history.pending_writes``; one text describes both."""
    from click.testing import CliRunner

    import auditor.server.app
    from auditor.cli import main
    from auditor.config import HistoryConfig

    seen: list[int] = []
    monkeypatch.setattr(auditor.server.app, "serve", lambda options, settings, *a: seen.append(settings.pending_writes))
    config = tmp_path / "audit.yaml"
    config.write_text("history:\n  pending_writes: 7\n")
    dump = write_dump(tmp_path / "dump", agent_cluster(1))
    runner = CliRunner()
    for extra, expected in (([], 7), (["--pending-writes", "3"], 3)):
        done = runner.invoke(main, ["serve", "--snapshot", str(dump), "--config", str(config), *extra])
        assert done.exit_code == 0, done.output
        assert seen.pop() == expected
    done = runner.invoke(main, ["serve", "--snapshot", str(dump)])
    assert done.exit_code == 0 and seen.pop() == 50, "the default"
    assert runner.invoke(main, ["serve", "--snapshot", str(dump), "--pending-writes", "0"]).exit_code == 2
    [option] = [p for p in main.commands["serve"].params if p.name == "pending_writes"]
    description = HistoryConfig.model_fields["pending_writes"].description
    assert description and (getattr(option, "help", "") or "").startswith(description)
