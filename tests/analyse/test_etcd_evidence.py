"""etcd snapshot evidence: the newest verified snapshot per cluster, its source, and whether etcd is self-managed."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.analyse.etcd import etcd_evidence
from auditor.collect.builder import InventoryBuilder
from auditor.collect.dump import add_object
from auditor.collect.etcd_manifests import with_etcd_manifests
from auditor.config import AuditConfig, EtcdConfig, load_config
from auditor.errors import ConfigError
from auditor.model.inventory import Gap, Inventory
from tests import factories as f
from tests.checks.rule_fixtures import etcd_pod, etcd_snapshot_file, k3s_etcd_node


def inventory(*objects: Any, gaps: tuple[Gap, ...] = ()) -> Inventory:
    builder = InventoryBuilder("c1", "test")
    for obj in objects:
        add_object(builder, copy.deepcopy(obj), "test")
    for gap in gaps:
        builder.gap(gap)
    return builder.build()


def manifest_pair(directory: Path, hours_ago: float, with_db: bool = True) -> str:
    """What ``auditor backup etcd`` leaves: etcd-snapshot-<time>.db and its manifest."""
    stamp = f.ts(hours_ago).replace("-", "").replace(":", "").replace("T", "").rstrip("Z")
    name = f"etcd-snapshot-{stamp}.db"
    body = b"snapshot" * 10
    if with_db:
        (directory / name).write_bytes(body)
    (directory / name.replace(".db", ".json")).write_text(json.dumps({
        "file": name, "sha256": hashlib.sha256(body).hexdigest(), "taken_at": f.ts(hours_ago),
        "endpoints": "https://10.0.0.1:2379", "etcd": {"revision": 42, "totalKey": 7, "totalSize": 20480}}))
    return name


def test_newest_ready_k3s_snapshot_wins_over_older_and_failed_ones() -> None:
    inv = inventory(k3s_etcd_node(), etcd_snapshot_file(30), etcd_snapshot_file(5),
                    etcd_snapshot_file(1, error="upload failed"))
    ev = etcd_evidence(inv)
    assert ev.newest is not None and ev.newest.created == f.AS_OF.replace(hour=7)
    assert ev.newest.source == "k3s" and ev.newest.node_name == "k3s-server-1"
    assert ev.newest.size_bytes == 4820992 and ev.age(f.AS_OF) == 5 * 3600
    assert [s.error for s in ev.failed] == ["upload failed"]
    assert ev.self_managed == "k3s/RKE2 etcd node(s): k3s-server-1"


def test_self_managed_etcd_is_seen_from_kubeadm_pods_and_managed_planes_are_unknown() -> None:
    assert etcd_evidence(inventory(etcd_pod("cp-1"), etcd_pod("cp-2"))).self_managed == \
        "etcd pod(s) in kube-system: etcd-cp-1, etcd-cp-2"
    managed = etcd_evidence(inventory(f.node("ip-10-0-0-1"), f.pod("coredns-1", "kube-system")))
    assert managed.self_managed is None and managed.newest is None and managed.age(f.AS_OF) is None


def test_a_gap_that_could_hide_evidence_is_reported() -> None:
    gap = Gap("etcdsnapshotfiles.k3s.cattle.io", "forbidden", "forbidden")
    served = Gap("etcdsnapshotfiles.k3s.cattle.io", "not-served", "no such group")
    assert etcd_evidence(inventory(gaps=(gap,))).blind == (gap,)
    assert etcd_evidence(inventory(gaps=(served,))).blind == ()


def test_executor_manifests_from_a_directory(tmp_path: Path) -> None:
    old = manifest_pair(tmp_path, 26)
    new = manifest_pair(tmp_path, 3)
    orphan = manifest_pair(tmp_path, 1, with_db=False)  # its .db was deleted: not usable
    (tmp_path / "etcd-snapshot-notes.json").write_text("not ours")
    config = EtcdConfig.model_validate({"snapshots": [{"cluster": "c*", "dir": str(tmp_path)}], "rpo": "12h"})
    inv = with_etcd_manifests(inventory(etcd_pod()), config)
    ev = etcd_evidence(inv)
    assert ev.newest is not None and ev.newest.snapshot_name == new and ev.newest.source == "executor"
    assert ev.newest.location == f"file://{tmp_path.resolve()}/{new}" and ev.newest.size_bytes == 20480
    assert [s.snapshot_name for s in ev.failed] == [orphan]
    assert old in {s.snapshot_name for s in inv.etcd_snapshots} and inv.complete and config.rpo == 12 * 3600


def test_manifests_configured_for_another_cluster_are_not_read(tmp_path: Path) -> None:
    manifest_pair(tmp_path, 3)
    config = EtcdConfig.model_validate({"snapshots": [{"cluster": "prod-*", "dir": str(tmp_path)}]})
    assert with_etcd_manifests(inventory(), config).etcd_snapshots == ()


def test_an_unreadable_or_foreign_manifest_is_a_gap_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "etcd-snapshot-20261120100000.json").write_text('{"file": "something-else.db"}')
    config = EtcdConfig.model_validate({"snapshots": [{"dir": str(tmp_path)}]})
    inv = with_etcd_manifests(inventory(), config)
    assert inv.etcd_snapshots == () and not inv.complete
    assert "etcd-snapshot-20261120100000.json: not an etcd snapshot manifest" in inv.gaps[0].message
    assert etcd_evidence(inv).blind == inv.gaps


@pytest.mark.parametrize(("entry", "message"), [
    ({"cluster": "*"}, "give exactly one of dir or s3"),
    ({"dir": "/x", "s3": "s3://b/p"}, "give exactly one of dir or s3"),
    ({"s3": "https://b/p"}, "s3 must be an s3://bucket/prefix URL"),
])
def test_bad_etcd_config_is_a_clear_error(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text(json.dumps({"etcd": {"snapshots": [entry]}}))
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    assert AuditConfig().etcd.snapshots == ()
