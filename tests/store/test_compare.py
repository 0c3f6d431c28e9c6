"""The pure comparison behind GOV-002: unreadable kinds, open weakenings carried across scans, selectors."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest

from auditor.analyse.coverage import ClusterAnalysis, analyse_cluster
from auditor.analyse.history import _selects_at_least, compare_with_previous, recorded_state
from auditor.analyse.protection import BackupSnap, ProtectionState
from auditor.analyse.protection_state import protection_state
from auditor.config import AuditConfig
from auditor.model.inventory import Gap
from tests import factories as f
from tests.store.scans import cluster

S = f.schedule
DAY = timedelta(days=1)
FORBIDDEN = Gap("schedules.velero.io", "forbidden", "schedules.velero.io is forbidden")


def analysis(objects: list[Any], day: int, previous: ProtectionState | None = None,
             gaps: tuple[Gap, ...] = ()) -> ClusterAnalysis:
    inv = f.inventory(*objects)
    if gaps:
        inv = dataclasses.replace(inv, gaps=gaps, schedules=())
    return analyse_cluster(inv, AuditConfig(), f.AS_OF + day * DAY, previous=previous)


def weakened(a: ClusterAnalysis) -> dict[str, set[str]]:
    comparison = compare_with_previous(a)
    assert comparison is not None
    return {v.ref: {c.code for c in v.changes} for v in comparison.verdicts if v.weakened}


def test_a_kind_this_scan_cannot_read_is_not_compared() -> None:
    day0 = recorded_state(analysis(cluster(schedule=S("daily")), 0))
    blind = analysis(cluster(schedule=S("daily")), 1, day0, (FORBIDDEN,))
    comparison = compare_with_previous(blind)
    assert comparison is not None
    assert not weakened(blind), "an unreadable schedule is not a deleted one"
    assert comparison.skipped == (("Schedule/velero/daily", "Schedule objects could not be read in this scan"),)


def test_after_a_blind_scan_the_last_known_state_is_the_baseline() -> None:
    day0 = recorded_state(analysis(cluster(schedule=S("daily")), 0))
    day1 = recorded_state(analysis(cluster(), 1, day0, (FORBIDDEN,)))
    assert "velero/daily" in day1.of("Schedule") and "Schedule" not in day1.unreadable
    assert weakened(analysis(cluster(), 2, day1)) == {"Schedule/velero/daily": {"schedule_deleted"}}


def test_an_open_weakening_survives_a_blind_scan() -> None:
    day0 = recorded_state(analysis(cluster(schedule=S("daily")), 0))
    day1 = recorded_state(analysis(cluster(schedule=S("daily", paused=True)), 1, day0))
    assert set(day1.weakened) == {"Schedule/velero/daily"}
    day2 = recorded_state(analysis(cluster(schedule=S("daily", paused=True)), 2, day1, (FORBIDDEN,)))
    assert day2.weakened == day1.weakened
    day3 = analysis(cluster(schedule=S("daily", paused=True)), 3, day2)
    comparison = compare_with_previous(day3)
    assert comparison is not None
    [v] = [v for v in comparison.verdicts if v.weakened]
    assert v.first_seen == f.AS_OF + DAY


def test_state_survives_json() -> None:
    day0 = recorded_state(analysis(cluster(schedule=S("daily", labelSelector={"matchLabels": {"a": "b"}})), 0))
    day1 = recorded_state(analysis(cluster(schedule=S("daily", paused=True)), 1, day0))
    again = ProtectionState.from_dict(json.loads(json.dumps(day1.to_dict())))
    assert again == day1
    later = ProtectionState.from_dict({"as_of": "2026-11-20T12:00:00Z", "objects": {"Backup": {
        "velero/b": {"phase": "Completed", "schedule": None, "storage_location": None, "expiration": None,
                     "a_field_added_later": 1}}}})
    assert later.of("Backup")["velero/b"] == BackupSnap("Completed", None, None, None)


def test_no_secret_values_in_the_state() -> None:
    objects = cluster(bsls=[f.bsl(config={"region": "eu", "s3Url": "https://s3.example", "profile": "p"},
                                  credential={"name": "cloud-credentials", "key": "cloud"})])
    state = json.dumps(protection_state(analysis(objects, 0)).to_dict())
    assert "https://s3.example" in state and "cloud-credentials" not in state and "profile" not in state


@pytest.mark.parametrize(("before", "after", "at_least"), [
    ((), (), True),
    ((), (("a In x",),), False),
    ((("a In x",),), (), True),
    ((("a In x",),), (("a In x,y",),), True),
    ((("a In x,y",),), (("a In x",),), False),
    ((("a In x", "b In y"),), (("a In x",),), True),
    ((("a In x",),), (("a In x", "b In y"),), False),
    ((("a In x",),), (("a Exists",),), True),
    ((("a In x",), ("b In y",)), (("a In x",),), False),
    ((("a In x",), ("b In y",)), (("b In y",), ("a In x",)), True),
    ((("a NotIn x,y",),), (("a NotIn x",),), True),
    ((("a DoesNotExist",),), (("a NotIn x",),), True),
    ((("a NotIn x",),), (("a NotIn x,y",),), False),
])
def test_selector_implication(before: tuple[tuple[str, ...], ...], after: tuple[tuple[str, ...], ...],
                              at_least: bool) -> None:
    assert _selects_at_least(before, after) is at_least
