"""The exceptions register: scopes as written, and the waivers' history from the store (appeared, changed,
vanished)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from auditor.output.report.history import WaiverChange
from auditor.output.report.tables import exception_rows

T = datetime(2026, 11, 1, tzinfo=UTC)


def waiver(key: str, **kw: Any) -> dict[str, Any]:
    return {"id": key, "rules": ["COV-001"], "selector": {"cluster": "prod", "namespace": "legacy", "kind": None,
                                                          "name": ".*", "labels": {}},
            "reason": "r", "owner": "o", "expires": "2027-01-31", "source": "config", **kw}


def test_history_and_vanished_waivers() -> None:
    doc = {"exceptions": {"matched": [{**waiver("crm"), "findings": 2}], "unused": [], "expired": []}}
    changes = (WaiverChange("crm", "appeared", T, waiver("crm")),
               WaiverChange("wiki", "appeared", T, waiver("wiki")),
               WaiverChange("crm", "changed", T.replace(day=5), waiver("crm", reason="new")),
               WaiverChange("wiki", "vanished", T.replace(day=9), waiver("wiki", owner="team-wiki")))
    rows = {r.id: r for r in exception_rows(doc, changes) or ()}
    assert rows["crm"].state == "matched" and rows["crm"].since == "2026-11-01"
    assert rows["crm"].history == "changed 2026-11-05" and rows["crm"].findings == 2
    assert rows["wiki"].state == "vanished" and rows["wiki"].owner == "team-wiki"
    assert rows["wiki"].history == "vanished 2026-11-09" and rows["wiki"].findings is None
    no_store = exception_rows(doc)
    assert no_store is not None and [r.since for r in no_store] == [None]


def test_an_annotation_waiver_shows_its_object_not_a_regex() -> None:
    old_document = waiver("annotation:staging/PersistentVolumeClaim/ci/build-cache", source="annotation",
                          selector={"cluster": "staging", "namespace": "ci", "kind": "PersistentVolumeClaim",
                                    "name": "build\\-cache", "labels": {}})
    doc = {"exceptions": {"matched": [old_document], "unused": [], "expired": []}}
    (row,) = exception_rows(doc) or ()
    assert row.scope == "staging/ci/PersistentVolumeClaim/build-cache"
