"""k3s/RKE2 ETCDSnapshotFiles are read from dumps into slim etcd snapshot records."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from auditor.collect.dump import read_dump
from tests.checks.rule_fixtures import etcd_snapshot_file


def test_etcd_snapshot_files_from_a_dump(tmp_path: Path) -> None:
    s3_copy = etcd_snapshot_file(2)
    s3_copy["metadata"]["name"] = "s3-" + s3_copy["spec"]["snapshotName"]
    s3_copy["metadata"]["uid"] = "s3-" + s3_copy["metadata"]["uid"]  # another object: another uid
    s3_copy["spec"]["location"] = "s3://k3s-backups/etcd/" + s3_copy["spec"]["snapshotName"]
    s3_copy["spec"]["s3"] = {"bucket": "k3s-backups", "folder": "etcd", "endpoint": "s3.example.com"}
    (tmp_path / "etcdsnapshotfiles.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                                                  "items": [etcd_snapshot_file(2), s3_copy]}))
    (tmp_path / "failed.yaml").write_text(yaml.safe_dump(etcd_snapshot_file(1, error="snapshot save timed out")))
    inv = read_dump(tmp_path, "k3s")
    by_name = {s.meta.name: s for s in inv.etcd_snapshots}
    assert len(by_name) == 3 and all(s.meta.namespace is None and s.source == "k3s" for s in by_name.values())
    local = by_name[etcd_snapshot_file(2)["metadata"]["name"]]
    assert local.location and local.location.startswith("file:///var/lib/rancher/k3s/server/db/snapshots/")
    assert local.ready is True and local.size_bytes == 4820992 and local.node_name == "k3s-server-1"
    assert by_name[s3_copy["metadata"]["name"]].location == s3_copy["spec"]["location"]
    failed = by_name[etcd_snapshot_file(1)["metadata"]["name"]]
    assert failed.ready is False and failed.error == "snapshot save timed out"
    assert inv.unknown_kinds == {}


def test_etcd_snapshot_files_from_a_live_cluster_feed_sys_002(tmp_path: Path) -> None:
    from auditor.output.document import build_document
    from auditor.pipeline import ScanOptions, run_scan
    from tests import factories as f
    from tests.checks.rule_fixtures import k3s_etcd_node
    from tests.kubeapi.server import KubeAPIServer

    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        k3s_etcd_node(), etcd_snapshot_file(30), etcd_snapshot_file(26, error="etcdserver: request timed out")]}))
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed_dir(dump)
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", context="k3s")
        result = run_scan(ScanOptions(kubeconfig=str(kubeconfig), contexts=("k3s",), as_of=f.AS_OF))
    scan = result.clusters[0]
    assert scan.analysis is not None and len(scan.analysis.inventory.etcd_snapshots) == 2
    [finding] = [x for x in scan.results if x.rule_id == "SYS-002"]
    assert finding.status == "open" and "is 1d6h old, older than the etcd RPO of 1d" in finding.message
    assert any(x["rule_id"] == "SYS-002" for x in build_document(result)["findings"])
