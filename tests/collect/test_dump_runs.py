"""Runs of a dump's items decoded as one array give what one item at a time gives: the same records in the same
order, the same duplicate warnings, the same message naming file, item and field for a bad item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect import decode, dump
from auditor.collect.dump import read_dump
from auditor.errors import InputError
from tests import factories as f

EXAMPLES = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _good(n: int) -> list[dict[str, Any]]:
    return [
        f.pvc(f"c{n}", "shop", volume=f"pv-{n}"), f.pv(f"pv-{n}", "shop", f"c{n}", source="nfs"),
        f.pod(f"p{n}", "shop", {"data": f"c{n}"}), f.backup(f"b{n}", schedule_name="daily"),
        f.pod_volume_backup(f"pvb{n}", f"b{n}", "shop", f"p{n}", "data", f"c{n}"),
    ]


#: Items the typed path refuses or does not read, which the checked reader reads.
READ: list[Any] = [
    f.namespace("shop"),
    {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "shop"}, "spec": {}},
    {**f.pod("labels", "shop"), "metadata": {"name": "labels", "namespace": "shop", "labels": {"a": 1}}},
    {**f.pvc("labels", "shop"), "metadata": {"name": "labels", "namespace": "shop", "labels": {"n": 2}}},
    {**f.pvc("v2", "shop"), "apiVersion": "v2"},
]

#: Items the checked reader names as wrong (the first one in a file ends its reading).
BAD: list[Any] = [
    {**f.pvc("nons", "shop"), "metadata": {"name": "nons"}},  # namespaced without a namespace
    {**f.pod("nons", "shop"), "metadata": {"name": "nons"}},
    {**f.pvc("noname", "shop"), "metadata": {"namespace": "shop"}},
    f.pvc("badsize", "shop", size="lots"),
    {**f.pvc("modes", "shop"), "spec": {"accessModes": "ReadWriteOnce"}},
    {**f.pod("when", "shop"), "metadata": {"name": "when", "namespace": "shop", "creationTimestamp": "x"}},
    {**f.backup("errs"), "status": {"errors": "many"}},
    {**f.pvc("nokind", "shop"), "kind": None},
    {"metadata": {"name": "x"}},
    7,
    ["not", "an", "object"],
]


def _read(root: Path, *, runs: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """The inventory (or the message) of a dump, read with runs of items decoded together or one at a time."""
    with monkeypatch.context() as m:
        if not runs:
            m.setattr(decode.Typed, "wires", lambda self, raws: None)
        try:
            inv = read_dump(root, "c")
        except InputError as exc:
            return "error", str(exc)
    return "inventory", inv


def _write(root: Path, items: list[Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=1))


#: A block: ``length`` well-formed items of one kind (index into :func:`_good`), then maybe an item the checked
#: reader reads, and maybe a copy of an item read before (a duplicate: a warning, in reading order).
BLOCKS = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 12), st.none() | st.integers(0, len(READ) - 1),
                            st.booleans()), max_size=10)


@EXAMPLES
@given(BLOCKS, st.none() | st.tuples(st.integers(0, 200), st.integers(0, len(BAD) - 1)), st.integers(1, 8),
       st.integers(1, 16))
def test_random_mixes_read_as_one_item_at_a_time(tmp_path_factory: pytest.TempPathFactory,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 blocks: list[tuple[int, int, int | None, bool]],
                                                 bad: tuple[int, int] | None, first: int, most: int) -> None:
    items: list[Any] = []
    for kind, length, odd, again in blocks:
        items += [_good(len(items) + n)[kind] for n in range(length)]
        if odd is not None:
            items.append(READ[odd])
        if again and items:
            items.append(items[len(items) // 2])
    if bad is not None:
        items.insert(min(bad[0], len(items)), BAD[bad[1]])
    root = tmp_path_factory.mktemp("dump")
    _write(root, items)
    monkeypatch.setattr(dump, "_RUN_FIRST", first)
    monkeypatch.setattr(dump, "_RUN_MOST", max(first, most))
    assert _read(root, runs=True, monkeypatch=monkeypatch) == _read(root, runs=False, monkeypatch=monkeypatch)


@pytest.mark.parametrize("odd", [*READ, *BAD])
def test_an_odd_item_anywhere_in_a_run_reads_as_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      odd: Any) -> None:
    kinds = [k for k in range(5) if isinstance(odd, dict) and _good(0)[k]["kind"] == odd.get("kind")] or [0]
    monkeypatch.setattr(dump, "_RUN_FIRST", 4)
    monkeypatch.setattr(dump, "_RUN_MOST", 8)
    for at in range(0, 24, 3):
        items = [_good(n)[kinds[0]] for n in range(24)]
        items.insert(at, odd)
        root = tmp_path / str(at)
        _write(root, items)
        assert _read(root, runs=True, monkeypatch=monkeypatch) == _read(root, runs=False, monkeypatch=monkeypatch)


def test_a_refused_copy_in_a_run_arrives_after_the_records_before_it(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dump, "_RUN_FIRST", 4)
    monkeypatch.setattr(dump, "_RUN_MOST", 8)
    for kind in range(5):
        items = [_good(n)[kind] for n in range(20)]
        group = items[9]["apiVersion"].rpartition("/")[0]
        items.insert(11, {**items[9], "apiVersion": f"{group}/v2" if group else "v2"})  # decoded alone
        _write(tmp_path, items)
        runs = _read(tmp_path, runs=True, monkeypatch=monkeypatch)
        assert runs == _read(tmp_path, runs=False, monkeypatch=monkeypatch)
        assert runs[0] == "inventory" and len(runs[1].warnings) == 1
        assert "items[11] (same kind, namespace and name as " in runs[1].warnings[0].message


def test_runs_are_decoded_together_and_a_bad_item_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[int] = []
    wires = decode.Typed.wires

    def spy(self: decode.Typed, raws: list[Any]) -> list[Any] | None:
        decoded.append(len(raws))
        return wires(self, raws)

    monkeypatch.setattr(decode.Typed, "wires", spy)
    pvcs = [f.pvc(f"c{i}", "shop") for i in range(300)]
    _write(tmp_path, pvcs)
    inv = read_dump(tmp_path, "c")
    assert [p.meta.name for p in inv.pvcs] == sorted(f"c{i}" for i in range(300))
    assert sum(decoded) == 299 and max(decoded) == dump._RUN_MOST  # the first item tells the kind
    pvcs[150] = f.pvc("c150", "shop", size="lots")
    _write(tmp_path, pvcs)
    with pytest.raises(InputError, match=r"all\.json items\[150\], PersistentVolumeClaim shop/c150, "
                                         r"field spec\.resources\.requests\.storage: not a resource quantity"):
        read_dump(tmp_path, "c")


def test_duplicates_in_and_across_runs_warn_in_reading_order(tmp_path: Path) -> None:
    items = [f.pvc(f"c{i % 70}", "shop", phase="Bound" if i < 70 else "Pending") for i in range(140)]
    _write(tmp_path, items)
    inv = read_dump(tmp_path, "c")
    assert len(inv.pvcs) == 70 and {p.phase for p in inv.pvcs} == {"Pending"}
    assert [w.name for w in inv.warnings] == [f"c{i}" for i in range(70)]
    assert "items[70]" in inv.warnings[0].message and "items[0]" in inv.warnings[0].message
