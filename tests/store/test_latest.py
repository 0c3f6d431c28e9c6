"""A cluster's part of a stored document parsed from its JSON (``cluster_part_json``) is the part parsed whole
(``cluster_part``), and the fleet report merged from parts whose unlisted entries were never parsed whole is the
report merged from whole parts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.output.report.fleet import COUNTED_ONLY, FleetEntry, merge
from auditor.store.latest import HEAD_KEYS, cluster_part, cluster_part_json

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _golden(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GOLDEN / name).read_text())
    return doc


def _entry(cluster: str) -> FleetEntry:
    return FleetEntry(cluster=cluster, uid=None, scan_id=1, as_of=AT, at=AT, silent_after=7200.0, error=None)


@pytest.mark.parametrize("cluster", ["demo-prod", "demo-staging", "not-in-the-scan"])
def test_the_part_parsed_from_json_is_the_part_parsed_whole(cluster: str) -> None:
    doc = _golden("demo.json")
    assert cluster_part_json(orjson.dumps(doc), cluster) == cluster_part(doc, cluster)


@pytest.mark.parametrize("detail", ["summary", "attention"])
def test_the_fleet_document_is_the_same_when_unlisted_entries_stay_heads(detail: str) -> None:
    doc = _golden("demo.json")
    data = orjson.dumps(doc)
    clusters = [c["name"] for c in doc["clusters"]]
    light = {c: cluster_part_json(data, c, COUNTED_ONLY) for c in clusters}
    whole = {c: cluster_part(doc, c) for c in clusters}
    heads = [v for part in light.values() for v in part["volumes"] if set(v) <= set(HEAD_KEYS)]
    assert heads, "the demo has protected volumes: they stay heads"
    assert merge([(_entry(c), light[c]) for c in clusters], at=AT, detail=detail) == \
        merge([(_entry(c), whole[c]) for c in clusters], at=AT, detail=detail)


def test_entries_that_are_not_objects_or_of_another_cluster_are_left_out() -> None:
    doc = {"clusters": [{"name": "a"}, {"name": "b"}],
           "volumes": [1, "x", None, [], {"cluster": "b", "status": "protected"}, {"status": "unprotected"},
                       {"cluster": "a", "status": "unprotected", "pvc": "p"}],
           "findings": {"not": "a list"}}
    for cluster in ("a", "b"):
        expected = cluster_part(doc, cluster)
        assert cluster_part_json(orjson.dumps(doc), cluster, COUNTED_ONLY) == expected  # parsed whole: a dict list
    del doc["findings"]
    part = cluster_part_json(orjson.dumps(doc), "a", COUNTED_ONLY)
    assert part["volumes"] == [{"cluster": "a", "status": "unprotected", "pvc": "p"}]
    assert cluster_part_json(orjson.dumps(doc), "b", COUNTED_ONLY)["volumes"] == \
        [{"cluster": "b", "status": "protected"}]


_value = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(
    ["protected", "unprotected", "stale", "unknown", "critical", "high", "medium", "low", "open", "excepted",
     "GOV-006", "COV-001", "a", "b"]))
_entry_st = st.dictionaries(st.sampled_from([*HEAD_KEYS, "pvc", "message", "extra"]), _value, max_size=7)


@settings(max_examples=150, deadline=None)
@given(volumes=st.lists(_entry_st, max_size=12), findings=st.lists(_entry_st, max_size=12),
       detail=st.sampled_from(["summary", "attention"]))
def test_any_entries_merge_alike_whole_or_as_heads(volumes: list[dict[str, Any]], findings: list[dict[str, Any]],
                                                  detail: str) -> None:
    doc = {"schema_version": "1", "as_of": "2026-11-20T12:00:00Z",
           "clusters": [{"name": "a", "complete": True}, {"name": "b", "complete": True}],
           "volumes": volumes, "findings": findings}
    data = orjson.dumps(doc)
    for cluster in ("a", "b"):
        light = cluster_part_json(data, cluster, COUNTED_ONLY)
        whole = cluster_part(doc, cluster)
        assert merge([(_entry(cluster), light)], at=AT, detail=detail) == \
            merge([(_entry(cluster), whole)], at=AT, detail=detail)
