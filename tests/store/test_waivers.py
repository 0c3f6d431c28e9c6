"""Waiver history: the store records when each waiver appeared, changed or vanished (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from auditor.config import AuditConfig
from auditor.store import Store
from tests import factories as f
from tests.store.scans import DAY, cluster, scan

T0 = f.AS_OF - 3 * DAY


def waiver(key: str, reason: str = "retiring", cluster_glob: str = "prod") -> dict[str, Any]:
    return {"id": key, "rules": ["COV-001"], "selector": {"cluster": cluster_glob, "namespace": "legacy"},
            "reason": reason, "owner": "team-crm", "expires": date(2027, 1, 31).isoformat()}


def config(*waivers: dict[str, Any]) -> AuditConfig:
    return AuditConfig.model_validate({"exceptions": {"waivers": list(waivers)}})


def test_appeared_changed_vanished(store_url: str, tmp_path: Path) -> None:
    objects = cluster()
    scan(store_url, objects, T0, tmp_path, config=config(waiver("crm"), waiver("wiki")))
    scan(store_url, objects, T0 + DAY, tmp_path, config=config(waiver("crm"), waiver("wiki")))  # no change
    scan(store_url, objects, T0 + 2 * DAY, tmp_path, config=config(waiver("crm", reason="archived to tape")))
    # a scan of another cluster says nothing about prod's waivers
    scan(store_url, objects, T0 + 3 * DAY, tmp_path, name="staging", config=config())
    with Store(store_url) as store:
        events = [(e.waiver, e.event, e.at) for e in store.waiver_events()]
        assert events == [("crm", "appeared", T0), ("wiki", "appeared", T0),
                          ("crm", "changed", T0 + 2 * DAY), ("wiki", "vanished", T0 + 2 * DAY)]
        changed = store.waiver_events()[2]
        assert changed.detail["reason"] == "archived to tape" and changed.detail["owner"] == "team-crm"
        assert [e.event for e in store.waiver_events(until=T0 + DAY)] == ["appeared", "appeared"]
    # it comes back: appeared again
    scan(store_url, objects, T0 + 4 * DAY, tmp_path, config=config(waiver("crm", reason="archived to tape"),
                                                                  waiver("wiki")))
    with Store(store_url) as store:
        assert [(e.waiver, e.event) for e in store.waiver_events()][-1] == ("wiki", "appeared")


def test_the_report_register_shows_the_history(sqlite_url: str, tmp_path: Path) -> None:
    from auditor.output.report import write_reports
    from auditor.output.report.history import read_store

    objects = cluster()
    scan(sqlite_url, objects, T0, tmp_path, config=config(waiver("crm"), waiver("wiki")))
    result = scan(sqlite_url, objects, T0 + DAY, tmp_path, config=config(waiver("crm", reason="archived to tape")))
    history = read_store(sqlite_url, ["prod"], result.as_of)
    manifest = write_reports(result, ["html"], tmp_path / "out", history=history)
    html = (tmp_path / "out" / manifest.files[0].name).read_text()
    register = html[html.index('id="exceptions"'):html.index('id="signoff"')]
    assert "<th>Since</th><th>History</th>" in register
    crm = register[register.index(">crm<"):]
    crm = crm[:crm.index("</tr>")]
    assert T0.date().isoformat() in crm and f"changed {(T0 + DAY).date().isoformat()}" in crm
    wiki = register[register.index(">wiki<") - 300:]
    assert "vanished" in wiki[:400] and f"vanished {(T0 + DAY).date().isoformat()}" in wiki
