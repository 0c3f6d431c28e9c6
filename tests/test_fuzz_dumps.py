"""Property-based: random mutations of a real-shaped dump never crash a scan (issue 12, item 7).

Each example changes one to three fields of the objects in ``tests/fuzz_cluster.py`` (a wrong type, a huge
number, control characters, a timestamp at the ends of the calendar, a cron that never fires, a deleted
field, a duplicated object) and scans the dump through the CLI. Whatever the data, the scan:

- ends with a documented exit code (0, or 2 for a dump it cannot read), never an unexpected error;
- prints no traceback, and a refusal is one line naming the file;
- reports no crashed check (``status: error``);
- never turns a volume that was not protected into a protected one, and never calls a volume protected
  without a recovery point within its RPO that is not dated after the scan.

The budget is fixed and the examples derandomized, so CI runs the same examples every time.
"""

from __future__ import annotations

import copy
import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.cli import main
from tests.fuzz_cluster import ODD_VALUES, TARGETS, WELL_FORMED, fuzz_cluster

AS_OF = "2026-11-20T12:00:00Z"
AS_OF_T = datetime.fromisoformat(AS_OF)
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into an object (keys and list indexes), the root excluded."""
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += paths(value, (*prefix, i))
    return out


def mutate(objects: list[dict[str, Any]], data: st.DataObject) -> tuple[list[str], bool]:
    """Apply one to three random mutations in place; returns what was done (for the failure report) and
    whether a well-formed value was set at a parsed field (then a verdict may rightly change)."""
    done, well_formed = [], False
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        if data.draw(st.booleans(), label="targeted"):
            what, value = _targeted(objects, data)
            done.append(what)
            well_formed = well_formed or any(value == v and type(value) is type(v) for v in WELL_FORMED)
            continue
        i = data.draw(st.integers(0, len(objects) - 1), label="object")
        target = objects[i]
        choices = paths(target)
        op = data.draw(st.sampled_from(["set", "set", "set", "delete", "duplicate"]), label="op")
        if op == "duplicate" or not choices:
            objects.append(copy.deepcopy(target))
            done.append(f"duplicate {target.get('kind')} {i}")
            continue
        path = data.draw(st.sampled_from(choices), label="path")
        parent = target
        for key in path[:-1]:
            parent = parent[key]
        if op == "delete":
            del parent[path[-1]]
            done.append(f"delete {target.get('kind')} {path}")
        else:
            value = data.draw(st.sampled_from(ODD_VALUES), label="value")
            parent[path[-1]] = copy.deepcopy(value)
            done.append(f"set {target.get('kind')} {path} = {value!r:.50}")
    return done, well_formed


def _targeted(objects: list[dict[str, Any]], data: st.DataObject) -> tuple[str, Any]:
    """A value aimed at a field the analysis parses (a cron at a Schedule's spec.schedule, ...)."""
    kind, path, values = data.draw(st.sampled_from(TARGETS), label="target")
    candidates = [o for o in objects if o.get("kind") == kind]
    if not candidates:
        return f"no {kind}", None
    target = data.draw(st.sampled_from(candidates), label="object")
    value = data.draw(st.sampled_from(values), label="value")
    parent = target
    for key in path[:-1]:
        if not isinstance(parent.get(key), dict):
            parent[key] = {}
        parent = parent[key]
    parent[path[-1]] = value
    name = target['metadata'].get('name') if isinstance(target.get('metadata'), dict) else None
    return f"set {kind} {name} {'.'.join(path)} = {value!r:.50}", value


def run(directory: str, *args: str) -> Any:
    return CliRunner().invoke(main, ["scan", "--snapshot", directory, "--as-of", AS_OF, *args])


def statuses(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(v["namespace"], v["pvc"]): v["status"] for v in doc["volumes"]}


BASELINE: dict[tuple[str, str], str] = {}


def baseline() -> dict[tuple[str, str], str]:
    if not BASELINE:
        with tempfile.TemporaryDirectory() as d:
            Path(d, "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": fuzz_cluster()}))
            result = run(d, "-o", "json")
            assert result.exit_code == 0, result.output
            BASELINE.update(statuses(json.loads(result.stdout)))
    assert set(BASELINE.values()) == {"protected", "stale", "unprotected", "unknown"}, "every status is exercised"
    return BASELINE


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_no_mutation_of_a_dump_crashes_the_scan_or_invents_protection(data: st.DataObject) -> None:
    before = baseline()
    objects = fuzz_cluster()
    done, well_formed = mutate(objects, data)
    with tempfile.TemporaryDirectory() as d:
        Path(d, "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
        result = run(d, "-o", "json")
        table = run(d) if result.exit_code == 0 else None
    assert result.exception is None or isinstance(result.exception, SystemExit), (done, result.exception)
    assert result.exit_code in (0, 2), (done, result.stderr)
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, (done, result.stderr)
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "all.json" in lines[0], (done, result.stderr)
        return
    assert table is not None and table.exit_code == 0, (done, table.stderr if table else None)
    doc = json.loads(result.stdout)
    assert not [x for x in doc["findings"] if x["status"] == "error"], done
    for v in doc["volumes"]:
        key = (v["namespace"], v["pvc"])
        if v["status"] != "protected":
            continue
        if not well_formed:
            assert before.get(key) in (None, "protected"), (done, key, before.get(key), v["reasons"])
        last = datetime.fromisoformat(v["last_success"])
        assert last <= AS_OF_T + timedelta(minutes=10), (done, v)
        assert (AS_OF_T - last).total_seconds() <= v["rpo_seconds"], (done, v)
