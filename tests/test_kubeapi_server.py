"""The Kubernetes API test server against the official Python client (kubernetes v37)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.kubeapi import KubeAPIServer

TESTDATA = Path(__file__).parent / "kubeapi" / "testdata"
VELERO = ("velero.io", "v1")
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def make_client(server: KubeAPIServer) -> client.ApiClient:
    """An ApiClient for a server, configured the plain way (Configuration(host=...))."""
    cfg = client.Configuration(host=server.url)
    cfg.api_key = {"BearerToken": "test-token"}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    return client.ApiClient(cfg)


@pytest.fixture(scope="module")
def seeded(kube_api_session: KubeAPIServer) -> KubeAPIServer:
    """The session server with the testdata seeded (read-only tests use it)."""
    kube_api_session.seed_dir(TESTDATA)
    return kube_api_session


@pytest.fixture(scope="module")
def core(seeded: KubeAPIServer) -> Iterator[client.CoreV1Api]:
    with make_client(seeded) as api:
        yield client.CoreV1Api(api)


@pytest.fixture
def fresh(kube_api: KubeAPIServer) -> Iterator[client.ApiClient]:
    """A client for the function-scoped server (tests that mutate state)."""
    with make_client(kube_api) as api:
        yield api


def names(items: list[Any]) -> list[str]:
    return [i.metadata.name if hasattr(i, "metadata") else i["metadata"]["name"] for i in items]


def unique_ns(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def cm(name: str, ns: str, **labels: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, namespace=ns, labels=labels), data={"k": "v"})


def backup(name: str, ns: str = "velero", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"storageLocation": "default", "ttl": "720h0m0s"},
        **extra,
    }


# --- discovery ---------------------------------------------------------------------------------------


def test_discovery_documents(core: client.CoreV1Api) -> None:
    api = core.api_client
    resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert resources["pods"].kind == "Pod" and resources["pods"].namespaced
    assert resources["pods"].short_names == ["po"] and "all" in resources["pods"].categories
    assert set(resources["pods/status"].verbs) == {"get", "patch", "update"}
    assert "persistentvolumeclaims/status" in resources
    assert not resources["persistentvolumes"].namespaced
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    assert groups["velero.io"].preferred_version.group_version == "velero.io/v1"
    assert groups["groupsnapshot.storage.k8s.io"].preferred_version.version == "v1beta2"  # storage version
    assert {"apps", "batch", "storage.k8s.io", "coordination.k8s.io", "core.kubestash.com"} <= set(groups)
    velero = {r.name for r in client.CustomObjectsApi(api).get_api_resources("velero.io", "v1").resources}
    assert {"backups", "schedules", "podvolumebackups"} <= velero
    assert "backups/status" not in velero  # Velero's CRDs declare `subresources: {}`
    k8up = {r.name for r in client.CustomObjectsApi(api).get_api_resources("k8up.io", "v1").resources}
    assert {"backups", "backups/status"} <= k8up
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]


def test_discovery_paths_with_trailing_slash_and_health(seeded: KubeAPIServer) -> None:
    http = urllib3.PoolManager()
    for path in ("/version", "/version/", "/api", "/api/", "/apis", "/apis/", "/apis/velero.io", "/apis/apps/v1"):
        assert http.request("GET", seeded.url + path).status == 200, path
    for path in ("/healthz", "/readyz", "/livez"):
        assert http.request("GET", seeded.url + path).data == b"ok"
    missing = http.request("GET", seeded.url + "/apis/nothing.example.com/v1/things")
    assert missing.status == 404
    assert json.loads(missing.data)["message"] == "the server could not find the requested resource"


def test_load_kube_config(seeded: KubeAPIServer, tmp_path: Path) -> None:
    path = seeded.write_kubeconfig(tmp_path / "kubeconfig", context="bench", namespace="app-a")
    api_client = config.new_client_from_config(config_file=str(path))
    assert {"app-a", "app-b", "velero", "default"} <= set(names(client.CoreV1Api(api_client).list_namespace().items))
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=cfg)
    assert cfg.host == seeded.url and cfg.api_key["BearerToken"] == "Bearer test-token"
    _, active = config.list_kube_config_contexts(config_file=str(path))
    assert active["context"]["namespace"] == "app-a"


# --- list --------------------------------------------------------------------------------------------


def test_typed_lists(core: client.CoreV1Api) -> None:
    pvs = core.list_persistent_volume()
    assert len(pvs.items) == 6 and pvs.kind == "PersistentVolumeList"
    assert names(pvs.items) == sorted(names(pvs.items))
    bound = [p for p in pvs.items if p.status.phase == "Bound"]
    assert bound[0].spec.claim_ref.namespace == "app-a" and bound[0].spec.csi.driver == "ebs.csi.aws.com"
    pvcs = core.list_persistent_volume_claim_for_all_namespaces()
    keys = [(p.metadata.namespace, p.metadata.name) for p in pvcs.items]
    assert keys == sorted(keys) and len(keys) == 6
    pods = core.list_namespaced_pod("app-a")
    assert names(pods.items) == ["cache-7d9f8b6c5-x2x4z", "db-0", "db-1"]
    assert int(pods.metadata.resource_version) >= 1
    assert core.list_namespaced_pod("no-such-namespace").items == []


def test_raw_list_preload_false(core: client.CoreV1Api) -> None:
    resp = core.list_pod_for_all_namespaces(_preload_content=False)
    body = json.loads(resp.data)
    assert body["kind"] == "PodList" and body["apiVersion"] == "v1"
    assert all(i["kind"] == "Pod" and i["apiVersion"] == "v1" for i in body["items"])
    assert len(body["items"]) == 6
    custom = client.CustomObjectsApi(core.api_client)
    raw = custom.list_namespaced_custom_object(*VELERO, "velero", "backups", _preload_content=False)
    backups = json.loads(raw.data)
    assert backups["kind"] == "BackupList" and len(backups["items"]) == 6
    assert backups["items"][0]["status"]["phase"] == "Completed"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=db", ["data-db-0", "data-db-1"]),
        ("app==x", ["logs", "scratch", "uploads"]),
        ("app!=x", ["cache", "data-db-0", "data-db-1"]),
        ("app in (cache, db)", ["cache", "data-db-0", "data-db-1"]),
        ("app notin (db,x)", ["cache"]),
        ("tier", ["uploads"]),
        ("!tier", ["cache", "data-db-0", "data-db-1", "logs", "scratch"]),
        ("app=x,tier=web", ["uploads"]),
        ("app=x,!tier", ["logs", "scratch"]),
    ],
)
def test_label_selectors(core: client.CoreV1Api, selector: str, expected: list[str]) -> None:
    items = core.list_persistent_volume_claim_for_all_namespaces(label_selector=selector).items
    assert sorted(names(items)) == expected


@pytest.mark.parametrize("selector", ["app in ()", "app=x y", "=x", "app,", "app in (a"])
def test_label_selector_bad_syntax(core: client.CoreV1Api, selector: str) -> None:
    with pytest.raises(ApiException) as err:
        core.list_persistent_volume_claim_for_all_namespaces(label_selector=selector)
    assert err.value.status == 400
    assert json.loads(err.value.body)["reason"] == "BadRequest"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=db-0", ["db-0"]),
        ("metadata.namespace==app-b", ["migrate-28912345-q8w7e", "web-5c6b7d8f9-abcde", "web-5c6b7d8f9-pending"]),
        ("spec.nodeName=node-2", ["db-1", "web-5c6b7d8f9-abcde"]),
        ("spec.nodeName=", ["web-5c6b7d8f9-pending"]),
        ("status.phase!=Running", ["migrate-28912345-q8w7e", "web-5c6b7d8f9-pending"]),
        ("status.phase=Running,metadata.namespace=app-a", ["cache-7d9f8b6c5-x2x4z", "db-0", "db-1"]),
    ],
)
def test_field_selectors(core: client.CoreV1Api, selector: str, expected: list[str]) -> None:
    assert sorted(names(core.list_pod_for_all_namespaces(field_selector=selector).items)) == expected


def test_field_selector_unsupported_field(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        core.list_persistent_volume_claim_for_all_namespaces(field_selector="spec.storageClassName=gp3")
    assert err.value.status == 400
    assert "field label not supported: spec.storageClassName" in json.loads(err.value.body)["message"]


def test_limit_and_continue(core: client.CoreV1Api) -> None:
    seen: list[tuple[str, str]] = []
    token = None
    pages = 0
    first_rv = None
    while True:
        page = core.list_persistent_volume_claim_for_all_namespaces(limit=4, _continue=token)
        pages += 1
        first_rv = first_rv or page.metadata.resource_version
        assert page.metadata.resource_version == first_rv  # the list's resourceVersion sticks
        seen += [(p.metadata.namespace, p.metadata.name) for p in page.items]
        token = page.metadata._continue
        if not token:
            assert page.metadata.remaining_item_count is None
            break
        assert page.metadata.remaining_item_count == 2
    assert pages == 2 and len(seen) == 6 and seen == sorted(seen)
    custom = client.CustomObjectsApi(core.api_client)
    got, token, pages = [], None, 0
    while True:
        kwargs = {"_continue": token} if token else {}
        page = custom.list_namespaced_custom_object(*VELERO, "velero", "backups", limit=2, **kwargs)
        pages += 1
        got += names(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            break
    assert pages == 3 and got == sorted(got) and len(got) == 6


def test_continue_with_selector_and_concurrent_write(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    core = client.CoreV1Api(fresh)
    ns = "paging"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    for i in range(10):
        core.create_namespaced_config_map(ns, cm(f"c{i:02d}", ns, parity="even" if i % 2 == 0 else "odd"))
    page = core.list_namespaced_config_map(ns, limit=3, label_selector="parity=even")
    assert names(page.items) == ["c00", "c02", "c04"]
    assert page.metadata.remaining_item_count is None  # not computed with a selector
    core.create_namespaced_config_map(ns, cm("c05a", ns, parity="even"))  # after the position: included
    core.create_namespaced_config_map(ns, cm("c01a", ns, parity="even"))  # before it: not
    core.delete_namespaced_config_map("c06", ns)
    rest = core.list_namespaced_config_map(
        ns, limit=10, label_selector="parity=even", _continue=page.metadata._continue
    )
    assert names(rest.items) == ["c05a", "c08"]
    assert rest.metadata.resource_version == page.metadata.resource_version


def test_expired_continue_token(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    core = client.CoreV1Api(fresh)
    page = core.list_namespace(limit=1)
    kube_api.expire_continue_tokens()
    with pytest.raises(ApiException) as err:
        core.list_namespace(limit=1, _continue=page.metadata._continue)
    assert err.value.status == 410
    body = json.loads(err.value.body)
    assert body["reason"] == "Expired"
    assert body["message"].startswith("The provided continue parameter is too old to display a consistent list")
    kube_api.continue_token_ttl = 0.2
    page = core.list_namespace(limit=1)
    time.sleep(0.3)
    with pytest.raises(ApiException) as err:
        core.list_namespace(limit=1, _continue=page.metadata._continue)
    assert err.value.status == 410
    with pytest.raises(ApiException) as err:
        core.list_namespace(limit=1, _continue="not-a-token!")
    assert err.value.status == 400


# --- get / create / update / patch / delete -----------------------------------------------------------


def test_get_and_not_found(core: client.CoreV1Api) -> None:
    pod = core.read_namespaced_pod("db-0", "app-a")
    assert pod.spec.node_name == "node-1" and pod.metadata.uid
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("nope", "app-a")
    body = json.loads(err.value.body)
    assert err.value.status == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'pods "nope" not found'
    assert body["details"] == {"name": "nope", "group": "", "kind": "pods"}
    custom = client.CustomObjectsApi(core.api_client)
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(*VELERO, "velero", "backups", "nope")
    assert json.loads(err.value.body)["message"] == 'backups.velero.io "nope" not found'


def test_create_core_object(fresh: client.ApiClient) -> None:
    core = client.CoreV1Api(fresh)
    created = core.create_namespaced_config_map("default", cm("one", "default", app="x"))
    meta = created.metadata
    assert uuid.UUID(meta.uid).version == 4
    assert meta.resource_version.isdigit() and meta.generation == 1 and meta.namespace == "default"
    raw = core.read_namespaced_config_map("one", "default", _preload_content=False)
    assert RFC3339_Z.match(json.loads(raw.data)["metadata"]["creationTimestamp"])
    gen = core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="job-"))
    )
    assert re.fullmatch(r"job-[a-z0-9]{5}", gen.metadata.name)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", cm("one", "default"))
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", cm("two", "kube-system"))
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("missing-ns", cm("two", "missing-ns"))
    assert err.value.status == 404 and json.loads(err.value.body)["message"] == 'namespaces "missing-ns" not found'
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", cm("Bad_Name", "default"))
    assert err.value.status == 422
    dry = core.create_namespaced_config_map("default", cm("dry", "default"), dry_run="All")
    assert dry.metadata.name == "dry"
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dry", "default")


def test_create_custom_object_returns_201(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    core, custom = client.CoreV1Api(fresh), client.CustomObjectsApi(fresh)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="velero")))
    created = custom.create_namespaced_custom_object(
        *VELERO, "velero", "backups", backup("b1", status={"phase": "Completed"})
    )
    assert created is not None  # the v37 client maps only 201 for this call
    assert created["metadata"]["uid"] and created["metadata"]["generation"] == 1
    assert created["status"] == {"phase": "Completed"}  # no status subresource: status is plain content
    assert kube_api.requests[-1].status == 201
    k8up = custom.create_namespaced_custom_object(
        "k8up.io",
        "v1",
        "velero",
        "backups",
        {"apiVersion": "k8up.io/v1", "kind": "Backup", "metadata": {"name": "k"}, "status": {"started": True}},
    )
    assert "status" not in k8up  # status subresource: the apiserver drops status on create
    assert custom.get_namespaced_custom_object(*VELERO, "velero", "backups", "b1")["spec"]["ttl"] == "720h0m0s"


def test_update_conflict_and_generation(fresh: client.ApiClient) -> None:
    core = client.CoreV1Api(fresh)
    first = core.create_namespaced_config_map("default", cm("u", "default"))
    first.data = {"k": "v2"}
    second = core.replace_namespaced_config_map("u", "default", first)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert second.metadata.generation == 2
    first.data = {"k": "stale"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("u", "default", first)  # first carries the old resourceVersion
    body = json.loads(err.value.body)
    assert err.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "u": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    same = core.replace_namespaced_config_map("u", "default", second)  # a no-op write keeps the revision
    assert same.metadata.resource_version == second.metadata.resource_version
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("gone", "default", cm("gone", "default"))
    assert err.value.status == 404


def test_custom_resource_update_requires_resource_version(fresh: client.ApiClient) -> None:
    core, custom = client.CoreV1Api(fresh), client.CustomObjectsApi(fresh)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="velero")))
    custom.create_namespaced_custom_object(*VELERO, "velero", "backups", backup("b"))
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(*VELERO, "velero", "backups", "b", backup("b"))
    assert err.value.status == 422


def test_access_reviews_are_answered_not_stored(fresh: client.ApiClient) -> None:
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(verb="list", resource="backups", group="velero.io")
        )
    )
    out = client.AuthorizationV1Api(fresh).create_self_subject_access_review(review)
    assert out.status.allowed is True and out.spec.resource_attributes.resource == "backups"


def test_lease_leader_election_conflict(fresh: client.ApiClient) -> None:
    coord = client.CoordinationV1Api(fresh)
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="backup-auditor", namespace="default"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15),
    )
    created = coord.create_namespaced_lease("default", lease)
    rv = created.metadata.resource_version
    created.spec.holder_identity = "b"
    won = coord.replace_namespaced_lease("backup-auditor", "default", created)
    assert won.spec.holder_identity == "b"
    created.spec.holder_identity = "c"
    created.metadata.resource_version = rv
    with pytest.raises(ApiException) as err:
        coord.replace_namespaced_lease("backup-auditor", "default", created)
    assert err.value.status == 409
    assert coord.read_namespaced_lease("backup-auditor", "default").spec.holder_identity == "b"


def test_merge_json_and_strategic_patches(fresh: client.ApiClient) -> None:
    core, custom = client.CoreV1Api(fresh), client.CustomObjectsApi(fresh)
    core.create_namespaced_config_map("default", cm("p", "default", app="x"))
    patched = core.patch_namespaced_config_map(
        "p", "default", {"metadata": {"labels": {"tier": "a"}}, "data": {"n": "1"}}
    )
    assert patched.metadata.labels == {"app": "x", "tier": "a"} and patched.data == {"k": "v", "n": "1"}
    patched = core.patch_namespaced_config_map(
        "p", "default", [{"op": "replace", "path": "/data/k", "value": "w"}, {"op": "remove", "path": "/data/n"}]
    )
    assert patched.data == {"k": "w"}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "p", "default", [{"op": "test", "path": "/data/k", "value": "nope"}, {"op": "remove", "path": "/data/k"}]
        )
    assert err.value.status == 422
    assert "test failed" in err.value.body
    assert core.read_namespaced_config_map("p", "default").data == {"k": "w"}  # atomic
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("p", "default", [{"op": "remove", "path": "/data/missing"}])
    assert err.value.status == 422
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="web", namespace="default"),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="a", image="a:1"), client.V1Container(name="b", image="b:1")]
        ),
    )
    core.create_namespaced_pod("default", pod)
    merged = core.patch_namespaced_pod("web", "default", {"spec": {"containers": [{"name": "b", "image": "b:2"}]}})
    assert [(c.name, c.image) for c in merged.spec.containers] == [("a", "a:1"), ("b", "b:2")]
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="velero")))
    custom.create_namespaced_custom_object(*VELERO, "velero", "backups", backup("bp"))
    out = custom.patch_namespaced_custom_object(*VELERO, "velero", "backups", "bp", {"spec": {"ttl": None, "x": 1}})
    assert "ttl" not in out["spec"] and out["spec"]["x"] == 1
    out = custom.patch_namespaced_custom_object(
        *VELERO,
        "velero",
        "backups",
        "bp",
        [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}],
        _content_type="application/json-patch+json",
    )
    assert out["metadata"]["labels"] == {"a": "b"}
    with pytest.raises(ApiException) as err:  # CRs do not support strategic merge patch
        custom.patch_namespaced_custom_object(
            *VELERO, "velero", "backups", "bp", {"spec": {}}, _content_type="application/strategic-merge-patch+json"
        )
    assert err.value.status == 415
    with pytest.raises(ApiException) as err:  # stale resourceVersion inside a patch is a precondition
        core.patch_namespaced_config_map("p", "default", {"metadata": {"resourceVersion": "1"}, "data": {"k": "z"}})
    assert err.value.status == 409


def test_unsupported_patch_type_and_malformed_body(kube_api: KubeAPIServer) -> None:
    http = urllib3.PoolManager()
    url = kube_api.url + "/api/v1/namespaces/default"
    resp = http.request("PATCH", url, body=b"{}", headers={"Content-Type": "text/plain"})
    assert resp.status == 415 and json.loads(resp.data)["reason"] == "UnsupportedMediaType"
    resp = http.request(
        "POST",
        kube_api.url + "/api/v1/namespaces/default/configmaps",
        body=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 400 and json.loads(resp.data)["kind"] == "Status"
    resp = http.request(
        "PUT",
        kube_api.url + "/api/v1/namespaces/default/configmaps",
        body=b"{}",
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 405
    assert http.request("GET", kube_api.url + "/version").status == 200  # still alive


def test_garbage_requests_never_kill_the_server(kube_api: KubeAPIServer) -> None:
    http = urllib3.PoolManager(retries=False)
    url = kube_api.url
    cases = [
        ("GET", "/api/v1/pods?limit=abc", b""),
        ("GET", "/api/v1/pods?watch=1&resourceVersion=abc", b""),
        ("GET", "/api/v1/pods?fieldSelector=nope", b""),
        ("POST", "/api/v1/namespaces/default/configmaps", b"[]"),
        ("POST", "/api/v1/namespaces/default/configmaps", b'{"metadata": 5}'),
        ("POST", "/api/v1/namespaces/default/configmaps", b"\xff\xfe"),
        ("PATCH", "/api/v1/namespaces/default", b'[{"op":"bogus"}]'),
        ("PUT", "/api/v1/namespaces/default", b'{"metadata":{"resourceVersion":"abc"}}'),
        ("DELETE", "/apis//v1", b""),
        ("GET", "/%zz", b""),
    ]
    for method, path, body in cases:
        ctype = "application/json-patch+json" if method == "PATCH" else "application/json"
        resp = http.request(method, url + path, body=body, headers={"Content-Type": ctype})
        assert 400 <= resp.status < 500, (method, path, resp.status)
        assert json.loads(resp.data)["kind"] == "Status"
    with socket.create_connection(("127.0.0.1", kube_api.port)) as sock:
        sock.sendall(b"POST /api/v1/namespaces HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 413")
    with socket.create_connection(("127.0.0.1", kube_api.port)) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        assert b'"kind":"Status"' in sock.recv(300)
    assert kube_api.errors == []
    assert http.request("GET", url + "/version").status == 200


def test_handler_exception_becomes_500(kube_api: KubeAPIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.kubeapi import listing

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(listing, "list_objects", boom)
    http = urllib3.PoolManager()
    resp = http.request("GET", kube_api.url + "/api/v1/namespaces")
    body = json.loads(resp.data)
    assert resp.status == 500 and body["reason"] == "InternalError" and "kaboom" in body["message"]
    assert kube_api.errors and "kaboom" in kube_api.errors[0]
    assert http.request("GET", kube_api.url + "/api/v1/namespaces/default").status == 200


def test_delete_and_finalizers(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    core = client.CoreV1Api(fresh)
    core.create_namespaced_config_map("default", cm("plain", "default"))
    deleted = core.delete_namespaced_config_map("plain", "default")
    assert deleted is not None
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("plain", "default")
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("plain", "default")
    assert err.value.status == 404
    held = cm("held", "default")
    held.metadata.finalizers = ["example.com/protect"]
    core.create_namespaced_config_map("default", held)
    core.delete_namespaced_config_map("held", "default")
    still = core.read_namespaced_config_map("held", "default")
    assert still.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("held", "default")
    assert err.value.status == 404
    for i in range(3):
        core.create_namespaced_config_map("default", cm(f"col{i}", "default", batch="yes" if i < 2 else "no"))
    core.delete_collection_namespaced_config_map("default", label_selector="batch=yes")
    assert names(core.list_namespaced_config_map("default").items) == ["col2"]


def test_namespace_delete_cascades(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    core = client.CoreV1Api(fresh)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="gone")))
    core.create_namespaced_config_map("gone", cm("x", "gone"))
    terminating = core.delete_namespace("gone")
    assert terminating["status"]["phase"] == "Terminating"  # namespaces are emptied asynchronously
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("gone", cm("y", "gone"))
    assert err.value.status == 403 and "because it is being terminated" in err.value.body
    deadline = time.monotonic() + 5
    while kube_api.get_object("", "v1", "namespaces", None, "gone") is not None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert core.list_namespaced_config_map("gone").items == []


def test_status_subresource(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    core, custom = client.CoreV1Api(fresh), client.CustomObjectsApi(fresh)
    k8up = ("k8up.io", "v1", "default", "backups")
    body = {"apiVersion": "k8up.io/v1", "kind": "Backup", "metadata": {"name": "s"}, "spec": {"keepJobs": 1}}
    custom.create_namespaced_custom_object(*k8up, body)
    out = custom.patch_namespaced_custom_object(*k8up, "s", {"spec": {"keepJobs": 2}, "status": {"started": True}})
    assert out["spec"]["keepJobs"] == 2 and "status" not in out and out["metadata"]["generation"] == 2
    out = custom.patch_namespaced_custom_object_status(
        *k8up, "s", {"spec": {"keepJobs": 9}, "status": {"started": True}}
    )
    assert out["status"] == {"started": True} and out["spec"]["keepJobs"] == 2
    assert out["metadata"]["generation"] == 2
    current = custom.get_namespaced_custom_object(*k8up, "s")
    current["status"] = {"finished": True}
    current["spec"]["keepJobs"] = 5
    replaced = custom.replace_namespaced_custom_object_status(*k8up, "s", current)
    assert replaced["status"] == {"finished": True} and replaced["spec"]["keepJobs"] == 2
    with pytest.raises(ApiException) as err:  # Velero CRDs have no status subresource
        custom.patch_namespaced_custom_object_status(*VELERO, "default", "backups", "x", {"status": {}})
    assert err.value.status == 404
    pod = core.create_namespaced_pod(
        "default",
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="p"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c")]),
            status=client.V1PodStatus(phase="Running"),
        ),
    )
    assert pod.status.phase == "Pending"  # the apiserver resets pod status on create
    pod = core.patch_namespaced_pod_status("p", "default", {"status": {"phase": "Running", "podIP": "10.0.0.9"}})
    assert pod.status.phase == "Running"
    pod = core.patch_namespaced_pod("p", "default", {"status": {"phase": "Failed"}})
    assert pod.status.phase == "Running"
    core.create_namespaced_config_map("default", cm("nostatus", "default"))  # no status subresource
    http = urllib3.PoolManager()
    assert http.request("GET", kube_api.url + "/api/v1/namespaces/default/configmaps/nostatus/status").status == 404
    with_status = cm("with-status", "default")
    core.create_namespaced_config_map("default", with_status)
    out = core.patch_namespaced_config_map("with-status", "default", {"status": {"free": "form"}})
    assert out is not None  # for types without the subresource, status is ordinary content


def test_crd_registration_at_runtime(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(fresh)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "shortNames": ["wd"]},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    "subresources": {"status": {}},
                }
            ],
        },
    }
    created = ext.create_custom_resource_definition(crd)
    assert {c.type for c in created.status.conditions} == {"NamesAccepted", "Established"}
    groups = {g.name for g in client.ApisApi(fresh).get_api_versions().groups}
    assert "example.com" in groups
    custom = client.CustomObjectsApi(fresh)
    resources = custom.get_api_resources("example.com", "v1").resources
    assert {r.name for r in resources} == {"widgets", "widgets/status"}
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", obj)
    assert len(custom.list_cluster_custom_object("example.com", "v1", "widgets")["items"]) == 1
    ext.delete_custom_resource_definition("widgets.example.com")
    assert "example.com" not in {g.name for g in client.ApisApi(fresh).get_api_versions().groups}
    with pytest.raises(ApiException) as err:
        custom.list_cluster_custom_object("example.com", "v1", "widgets")
    assert err.value.status == 404


# --- watch -------------------------------------------------------------------------------------------


def _collect(
    w: watch.Watch, stream: Iterator[dict[str, Any]], out: list[tuple[str, str]], ready: threading.Event
) -> None:
    for event in stream:
        obj = event["raw_object"]
        out.append((event["type"], obj["metadata"]["name"]))
        if len(out) >= 2:
            ready.set()
        if len(out) == 5:
            w.stop()


def test_watch_core_objects(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    core = client.CoreV1Api(fresh)
    core.create_namespaced_config_map("default", cm("a", "default"))
    core.create_namespaced_config_map("default", cm("b", "default"))
    events: list[tuple[str, str]] = []
    ready = threading.Event()
    w = watch.Watch()
    t = threading.Thread(
        target=_collect,
        args=(w, w.stream(core.list_namespaced_config_map, "default", timeout_seconds=5), events, ready),
    )
    t.start()
    assert ready.wait(5)
    core.patch_namespaced_config_map("a", "default", {"data": {"x": "y"}})
    core.delete_namespaced_config_map("b", "default")
    core.create_namespaced_config_map("kube-system", cm("elsewhere", "kube-system"))
    kube_api.put_object(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "direct", "namespace": "default"}}
    )
    t.join(10)
    assert not t.is_alive()
    assert events == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b"), ("ADDED", "direct")]


def test_watch_custom_objects_from_resource_version(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    core, custom = client.CoreV1Api(fresh), client.CustomObjectsApi(fresh)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="velero")))
    listed = custom.list_namespaced_custom_object(*VELERO, "velero", "backups")
    custom.create_namespaced_custom_object(*VELERO, "velero", "backups", backup("w1"))
    custom.patch_namespaced_custom_object(*VELERO, "velero", "backups", "w1", {"status": {"phase": "Completed"}})
    kube_api.delete_object(*VELERO, "backups", "velero", "w1")
    stream = watch.Watch().stream(
        custom.list_namespaced_custom_object,
        *VELERO,
        "velero",
        "backups",
        resource_version=listed["metadata"]["resourceVersion"],
        timeout_seconds=1,
    )
    got = [(e["type"], e["object"].get("status", {}).get("phase")) for e in stream]
    assert got == [("ADDED", None), ("MODIFIED", "Completed"), ("DELETED", "Completed")]


def test_watch_label_selector_moves(fresh: client.ApiClient) -> None:
    core = client.CoreV1Api(fresh)
    core.create_namespaced_config_map("default", cm("m", "default", app="in"))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.patch_namespaced_config_map("m", "default", {"metadata": {"labels": {"app": "out"}}})
    core.patch_namespaced_config_map("m", "default", {"metadata": {"labels": {"app": "in"}}})
    stream = watch.Watch().stream(
        core.list_namespaced_config_map, "default", label_selector="app=in", resource_version=rv, timeout_seconds=1
    )
    assert [e["type"] for e in stream] == ["DELETED", "ADDED"]


def test_watch_bookmarks_and_initial_events(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    kube_api.settings.bookmark_interval = 0.2
    core = client.CoreV1Api(fresh)
    core.create_namespaced_config_map("default", cm("bm", "default"))
    stream = watch.Watch().stream(
        core.list_namespaced_config_map, "default", allow_watch_bookmarks=True, timeout_seconds=1
    )
    types = [e["type"] for e in stream]
    assert types[0] == "ADDED" and "BOOKMARK" in types
    http = urllib3.PoolManager()
    resp = http.request(
        "GET",
        kube_api.url + "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true"
        "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    )
    lines = [json.loads(line) for line in resp.data.splitlines()]
    assert [e["type"] for e in lines[:2]] == ["ADDED", "BOOKMARK"]
    assert lines[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_watch_too_old_resource_version(fresh: client.ApiClient) -> None:
    server = KubeAPIServer(history=5).start()
    try:
        with make_client(server) as api:
            core = client.CoreV1Api(api)
            rv = core.list_namespaced_config_map("default").metadata.resource_version
            for i in range(8):
                core.create_namespaced_config_map("default", cm(f"x{i}", "default"))
            with pytest.raises(ApiException) as err:
                list(
                    watch.Watch().stream(
                        core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
                    )
                )
            assert err.value.status == 410
    finally:
        server.stop()


# --- faults ------------------------------------------------------------------------------------------


def no_retry_client(server: KubeAPIServer) -> client.ApiClient:
    cfg = client.Configuration(host=server.url)
    cfg.retries = False
    return client.ApiClient(cfg)


def test_fault_429_with_retry_after(kube_api: KubeAPIServer) -> None:
    fault = kube_api.add_fault("GET", r"/api/v1/namespaces$", status=429, retry_after=2, times=1)
    with no_retry_client(kube_api) as api:
        core = client.CoreV1Api(api)
        with pytest.raises(ApiException) as err:
            core.list_namespace()
        assert err.value.status == 429 and err.value.headers["Retry-After"] == "2"
        body = json.loads(err.value.body)
        assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] == 2
        assert core.list_namespace().items  # times=1: the next request is fine
    assert fault.hits == 1 and not fault.active


@pytest.mark.parametrize(("code", "reason"), [(500, "InternalError"), (503, "ServiceUnavailable")])
def test_fault_server_errors(kube_api: KubeAPIServer, code: int, reason: str) -> None:
    kube_api.add_fault("GET", r"/namespaces", status=code)
    with no_retry_client(kube_api) as api:
        for _ in range(2):
            with pytest.raises(ApiException) as err:
                client.CoreV1Api(api).list_namespace()
            assert err.value.status == code and json.loads(err.value.body)["reason"] == reason
        kube_api.clear_faults()
        assert client.CoreV1Api(api).list_namespace().items


def test_fault_latency(kube_api: KubeAPIServer) -> None:
    kube_api.add_fault(None, r"/api/v1/namespaces$", latency=0.4)
    with make_client(kube_api) as api:
        start = time.monotonic()
        client.CoreV1Api(api).list_namespace()
        assert time.monotonic() - start >= 0.4
        with pytest.raises(urllib3.exceptions.MaxRetryError):
            client.CoreV1Api(api).list_namespace(_request_timeout=0.1)


def test_fault_connection_reset_mid_stream(kube_api: KubeAPIServer) -> None:
    kube_api.add_fault("GET", r"/configmaps", reset=True, times=1)
    with no_retry_client(kube_api) as api:
        core = client.CoreV1Api(api)
        with pytest.raises((urllib3.exceptions.ProtocolError, urllib3.exceptions.HTTPError)):
            core.list_config_map_for_all_namespaces()
        assert core.list_config_map_for_all_namespaces().kind == "ConfigMapList"
    assert kube_api.requests[-2].status == 200  # headers were sent before the reset


def test_fault_reset_raw_socket(kube_api: KubeAPIServer) -> None:
    kube_api.add_fault("GET", r"/api/v1/namespaces$", reset=True)
    with socket.create_connection(("127.0.0.1", kube_api.port)) as sock:
        sock.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        with pytest.raises(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
            raise ConnectionResetError("closed without reset")  # pragma: no cover - only if no RST arrives
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    assert head.startswith(b"HTTP/1.1 200") and 0 < len(body) < length


def test_fault_forbidden_on_one_resource(seeded: KubeAPIServer) -> None:
    fault = seeded.add_fault("GET", r"/persistentvolumeclaims", status=403)
    try:
        with no_retry_client(seeded) as api:
            core = client.CoreV1Api(api)
            with pytest.raises(ApiException) as err:
                core.list_namespaced_persistent_volume_claim("app-a")
            body = json.loads(err.value.body)
            assert err.value.status == 403 and body["reason"] == "Forbidden"
            assert body["message"] == (
                'persistentvolumeclaims is forbidden: User "system:serviceaccount:default:test" cannot list '
                'resource "persistentvolumeclaims" in API group "" in the namespace "app-a"'
            )
            assert core.list_persistent_volume().items  # other resources unaffected
    finally:
        fault.cancel()


def test_fault_410_on_continue_only(seeded: KubeAPIServer) -> None:
    fault = seeded.add_fault("GET", r"/persistentvolumes", query={"continue": "*"}, status=410, times=1)
    with no_retry_client(seeded) as api:
        core = client.CoreV1Api(api)
        page = core.list_persistent_volume(limit=2)
        with pytest.raises(ApiException) as err:
            core.list_persistent_volume(limit=2, _continue=page.metadata._continue)
        assert err.value.status == 410 and json.loads(err.value.body)["reason"] == "Expired"
        assert core.list_persistent_volume(limit=2, _continue=page.metadata._continue).items
    assert fault.hits == 1


def test_request_log(kube_api: KubeAPIServer, fresh: client.ApiClient) -> None:
    kube_api.reset_requests()
    client.CoreV1Api(fresh).list_namespace(label_selector="a=b", limit=5)
    method, path, query, status = kube_api.requests[-1]
    assert (method, path, status) == ("GET", "/api/v1/namespaces", 200)
    assert query == {"labelSelector": "a=b", "limit": "5"}


# --- seeding, tables, helpers, standalone ------------------------------------------------------------


def test_seed_dir_and_unknown_kinds(kube_api: KubeAPIServer) -> None:
    loaded = kube_api.seed_dir(TESTDATA)
    assert loaded == 30
    assert kube_api.unknown_kinds == {"example.com/v1/Widget": 1}
    pv = kube_api.get_object("", "v1", "persistentvolumes", None, "pv-released-legacy")
    assert pv is not None and pv["metadata"]["uid"] and pv["metadata"]["resourceVersion"]
    seeded_backup = kube_api.get_object(*VELERO, "backups", "velero", "daily-20250520020000")
    assert seeded_backup is not None and seeded_backup["status"]["phase"] == "Completed"
    assert seeded_backup["metadata"]["creationTimestamp"] == "2025-05-20T02:00:00Z"  # kept as given
    assert kube_api.get_object("", "v1", "namespaces", None, "app-b") is not None  # implied namespace
    assert kube_api.resource_version >= int(seeded_backup["metadata"]["resourceVersion"])
    kube_api.seed([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "no-ns"}}])
    assert kube_api.get_object("", "v1", "configmaps", "default", "no-ns") is not None


def test_table_responses(seeded: KubeAPIServer) -> None:
    http = urllib3.PoolManager()
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    resp = http.request("GET", seeded.url + "/api/v1/persistentvolumes?limit=4", headers={"Accept": accept})
    tbl = json.loads(resp.data)
    assert tbl["kind"] == "Table" and tbl["apiVersion"] == "meta.k8s.io/v1"
    cols = [c["name"] for c in tbl["columnDefinitions"] if c["priority"] == 0]
    assert cols[:7] == ["Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass"]
    assert len(tbl["rows"]) == 4 and tbl["metadata"]["continue"]
    assert tbl["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert tbl["rows"][0]["cells"][:6] == ["pv-released-legacy", "100Gi", "RWO", "Retain", "Released", "app-c/old"]
    resp = http.request(
        "GET",
        seeded.url + "/apis/velero.io/v1/namespaces/velero/schedules?includeObject=Object",
        headers={"Accept": accept},
    )
    tbl = json.loads(resp.data)
    assert [c["name"] for c in tbl["columnDefinitions"]] == [
        "Name",
        "Status",
        "Schedule",
        "LastBackup",
        "Age",
        "Paused",
    ]
    assert tbl["rows"][0]["cells"][:3] == ["daily", "Enabled", "0 2 * * *"]
    assert tbl["rows"][0]["cells"][5] is False and tbl["rows"][0]["object"]["kind"] == "Schedule"
    resp = http.request("GET", seeded.url + "/api/v1/namespaces/app-a/pods/db-1", headers={"Accept": accept})
    row = json.loads(resp.data)["rows"][0]
    assert row["cells"][:4] == ["db-1", "1/1", "Running", 1]


def test_put_and_delete_object_helpers(kube_api: KubeAPIServer) -> None:
    stored = kube_api.put_object(backup("h", status={"phase": "Completed"}))
    assert stored["status"]["phase"] == "Completed" and stored["metadata"]["uid"]
    assert kube_api.get_object("", "v1", "namespaces", None, "velero") is not None
    again = kube_api.put_object({**stored, "status": {"phase": "Deleting"}})
    assert again["metadata"]["uid"] == stored["metadata"]["uid"]
    assert int(again["metadata"]["resourceVersion"]) > int(stored["metadata"]["resourceVersion"])
    assert [o["metadata"]["name"] for o in kube_api.list_objects(*VELERO, "backups")] == ["h"]
    assert kube_api.delete_object(*VELERO, "backups", "velero", "h") is not None
    assert kube_api.get_object(*VELERO, "backups", "velero", "h") is None


def test_standalone_process(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.kubeapi",
            "--seed",
            str(TESTDATA),
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY http://127.0.0.1:")
        url = line.split()[1]
        api = config.new_client_from_config(config_file=str(kubeconfig))
        assert api.configuration.host == url
        assert len(client.CoreV1Api(api).list_persistent_volume().items) == 6
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_metadata_only_list_carries_no_values(kube_api: Any) -> None:
    """`as=PartialObjectMetadataList` returns metadata only: a Secret's data never crosses the wire."""
    import urllib.request

    kube_api.seed([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default",
                                                                       "labels": {"a": "b"}},
                    "data": {"k": "c2VjcmV0"}}])
    req = urllib.request.Request(
        f"{kube_api.url}/api/v1/secrets?limit=10",
        headers={"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read()
    doc = json.loads(body)
    assert doc["kind"] == "PartialObjectMetadataList"
    assert doc["items"][0]["kind"] == "PartialObjectMetadata" and doc["items"][0]["metadata"]["labels"] == {"a": "b"}
    assert b"c2VjcmV0" not in body


def test_foreground_server_holds_every_request_for_its_latency(tmp_path: Path) -> None:
    """``python -m tests.kubeapi --latency MS`` (bench/parallel.py's remote API server): every request is
    answered, and none before its latency; SIGTERM stops it cleanly. A negative latency is refused."""
    import signal

    refused = subprocess.run([sys.executable, "-m", "tests.kubeapi", "--latency", "-5"], capture_output=True,
                             text=True, cwd=Path(__file__).parents[1], timeout=60)
    assert refused.returncode == 2 and "--latency must not be negative" in refused.stderr
    proc = subprocess.Popen([sys.executable, "-m", "tests.kubeapi", "--seed", str(TESTDATA), "--port", "0",
                             "--latency", "300"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=Path(__file__).parents[1])
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        http = urllib3.PoolManager()
        for path in ("/version", "/api/v1/namespaces?limit=1"):
            started = time.monotonic()
            assert http.request("GET", url + path, timeout=30).status == 200
            assert time.monotonic() - started >= 0.3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
