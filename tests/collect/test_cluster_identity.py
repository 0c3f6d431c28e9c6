"""A cluster's identity: the uid of its kube-system namespace, read by listing with a field selector."""

from __future__ import annotations

from pathlib import Path

from auditor.collect.clusters import kube_system_uid, kubeconfig_targets
from auditor.model.inventory import Inventory
from tests.kubeapi.server import KubeAPIServer


def test_the_kube_system_uid_is_read_by_a_list(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    [target] = kubeconfig_targets(str(kube_api.write_kubeconfig(tmp_path / "kubeconfig")), (), False)
    expected = kube_api.get_object("", "v1", "namespaces", None, "kube-system")
    assert expected is not None and expected["metadata"]["uid"]
    assert kube_system_uid(target.api_client) == expected["metadata"]["uid"]
    lists = [r for r in kube_api.requests if r.path == "/api/v1/namespaces"]
    assert lists and all(r.query.get("fieldSelector") == "metadata.name=kube-system" for r in lists), "a list"


def test_no_kube_system_or_no_answer_is_no_uid(tmp_path: Path) -> None:
    with KubeAPIServer(builtin_namespaces=False) as server:
        [target] = kubeconfig_targets(str(server.write_kubeconfig(tmp_path / "kubeconfig")), (), False)
        assert kube_system_uid(target.api_client) is None
        server.add_fault("GET", r"^/api/v1/namespaces$", status=403)
        assert kube_system_uid(target.api_client, timeout=5) is None


def test_the_uid_comes_with_a_live_scan(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    from auditor.analyse.fleet import cluster_uid
    from auditor.pipeline import ScanOptions, run_scan

    kubeconfig = str(kube_api.write_kubeconfig(tmp_path / "kubeconfig", context="prod"))
    result = run_scan(ScanOptions(kubeconfig=kubeconfig))
    [c] = result.clusters
    assert c.analysis is not None
    inventory: Inventory = c.analysis.inventory
    expected = kube_api.get_object("", "v1", "namespaces", None, "kube-system")
    assert expected is not None and cluster_uid(inventory.namespaces) == expected["metadata"]["uid"]
