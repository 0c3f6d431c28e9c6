"""The inventory builder resolves duplicates when it builds, as if each had replaced its copy on arrival."""

from __future__ import annotations

from auditor.collect.builder import InventoryBuilder
from auditor.model import records as r


def _ns(name: str, uid: str | None, phase: str) -> r.Namespace:
    return r.Namespace(r.Meta(name=name, uid=uid), phase=phase)


def _pod(name: str, uid: str | None, phase: str) -> r.Pod:
    return r.Pod(r.Meta(name=name, namespace="shop", uid=uid), phase=phase, node_name=None, ready=False,
                 volumes=(), mounted=(), block_devices=())


def test_a_chain_of_duplicates_keeps_the_last_copies_and_warns_in_reading_order() -> None:
    b = InventoryBuilder("c", "s")
    b.add("namespaces", _ns("a", "u1", "first"), "Namespace", "ns.json", 0)
    b.add("pods", _pod("p", "u9", "first"), "Pod", "pods.json", 0)
    b.add("namespaces", _ns("a", "u2", "second"), "Namespace", "ns.json", 1)  # same name: replaces a/u1
    b.add("pods", _pod("q", "u9", "second"), "Pod", "pods.json", 1)  # same uid as p: replaces it
    b.add("namespaces", _ns("b", "u1", "third"), "Namespace", "more.yaml")  # u1 was replaced: a new object
    b.add("namespaces", _ns("c", "u2", "fourth"), "Namespace")  # same uid as a/u2, read without a location
    inv = b.build()
    assert [(n.meta.name, n.phase) for n in inv.namespaces] == [("b", "third"), ("c", "fourth")]
    assert [(p.meta.name, p.phase) for p in inv.pods] == [("q", "second")]
    assert [(w.kind, w.name, w.message) for w in inv.warnings] == [
        ("Namespace", "a", "duplicate object in ns.json items[1] (same kind, namespace and name as ns.json "
                           "items[0]): counted once, the later copy is used"),
        ("Pod", "q", "duplicate uid u9 in pods.json items[1]: the same object as shop/p (pods.json items[0]); "
                     "counted once, the later copy is used"),
        ("Namespace", "c", "duplicate uid u2: the same object as a (ns.json items[1]); counted once, the later "
                           "copy is used"),
    ]


def test_without_duplicates_the_records_are_sorted_and_nothing_is_warned() -> None:
    b = InventoryBuilder("c", "s")
    for i in (3, 1, 2):
        b.add("namespaces", _ns(f"n{i}", f"u{i}", "Active"))
    inv = b.build()
    assert [n.meta.name for n in inv.namespaces] == ["n1", "n2", "n3"] and inv.warnings == ()


def test_records_added_in_bulk_build_what_one_by_one_builds() -> None:
    """``add_all`` (a live list's records) is ``add`` of each in turn: the same records in the same order, and
    duplicates across fields warned in the order they were read (a bulk before and after single adds)."""
    pages = [
        ("namespaces", [_ns("a", "u1", "first"), _ns("z", "u3", "x")]),
        ("pods", [_pod("p", "u9", "first")]),
        ("namespaces", []),
        ("namespaces", [_ns("a", "u2", "second"), _ns("m", "u4", "y")]),
        ("pods", [_pod("q", "u9", "second"), _pod("b", "u7", "z")]),
        ("namespaces", [_ns("c", "u2", "fourth")]),
    ]
    one, bulk = InventoryBuilder("c", "s"), InventoryBuilder("c", "s")
    one.add("namespaces", _ns("first", "u0", "file"), "Namespace", "ns.json", 0)
    bulk.add("namespaces", _ns("first", "u0", "file"), "Namespace", "ns.json", 0)
    for field, records in pages:
        for record in records:
            one.add(field, record)
        bulk.add_all(field, records)
    expected, got = one.build(), bulk.build()
    assert got == expected
    assert [n.meta.name for n in got.namespaces] == ["c", "first", "m", "z"]
    assert [w.name for w in got.warnings] == ["a", "q", "c"], "warned in reading order across fields"
