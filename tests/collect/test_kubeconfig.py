"""Kubeconfigs read without the Kubernetes package: merging, contexts, users, bad input, in-cluster."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from auditor.collect.clusters import in_cluster_target, kubeconfig_targets
from auditor.collect.kubeclient import KubeClient
from auditor.collect.kubeconfig import in_cluster_connection, load_kubeconfig
from auditor.collect.live import LiveSource, RetryPolicy
from auditor.errors import ApiStatusError, ClusterAccessError, ConfigError
from tests.collect.kubeconfigs import kubeconfig
from tests.kubeapi.server import KubeAPIServer

SECRET = "s3cr3t-T0KEN-never-shown"
FAST = RetryPolicy(attempts=2, base_delay=0.01)


def version(client: object) -> str | None:
    return LiveSource(client, "c", retry=FAST).server_version()


def test_a_token_user_reaches_the_server_and_a_wrong_one_is_refused(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    kube_api.settings.accepted_credentials = {f"Bearer {SECRET}"}
    path = kubeconfig(tmp_path / "kc", {"good": ({"server": kube_api.url}, {"token": SECRET}),
                                        "bad": ({"server": kube_api.url}, {"token": "wrong"})}, current="good")
    [target] = kubeconfig_targets(str(path), (), False)
    assert target.name == "good" and isinstance(target.api_client, KubeClient)
    assert version(target.api_client)
    [bad] = kubeconfig_targets(str(path), ("bad",), False)
    with pytest.raises(ClusterAccessError, match="cluster c: not authorised"):
        version(bad.api_client)
    assert SECRET not in repr(target.api_client) and SECRET not in repr(target.api_client.connection)


def test_a_token_file_is_read_again_when_it_changes(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("first\n")
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": kube_api.url}, {"tokenFile": "token"})}, current="c")
    [target] = kubeconfig_targets(str(path), (), False)  # tokenFile relative to the kubeconfig's folder
    kube_api.settings.accepted_credentials = {"Bearer first"}
    assert version(target.api_client)
    (tmp_path / "token").write_text("second-rotated\n")
    kube_api.settings.accepted_credentials = {"Bearer second-rotated"}
    assert version(target.api_client)


def test_basic_auth(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    kube_api.settings.accepted_credentials = {"Basic " + base64.b64encode(b"admin:pa55").decode()}
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": kube_api.url}, {"username": "admin", "password": "pa55"})},
                      current="c")
    assert version(kubeconfig_targets(str(path), (), False)[0].api_client)


def test_a_proxy_url_carries_the_requests(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    """The test server answers absolute-form requests as a forward proxy hands them on."""
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": "http://kube.invalid:6443", "proxy-url": kube_api.url},
                                              {"token": "t"})}, current="c")
    kube_api.reset_requests()
    assert version(kubeconfig_targets(str(path), (), False)[0].api_client)
    assert [r.path for r in kube_api.requests] == ["/version"]


def test_kubeconfig_files_merge_as_kubectl_merges_them(kube_api: KubeAPIServer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first = kubeconfig(tmp_path / "first", {"a": ({"server": kube_api.url}, {"token": "token-a"}),
                                            "shared": ({"server": kube_api.url}, {"token": "from-first"})},
                       current="a")
    second = kubeconfig(tmp_path / "second", {"b": ({"server": kube_api.url}, {"token": "token-b"}),
                                              "shared": ({"server": "http://127.0.0.1:9"}, {"token": "no"})},
                        current="b")
    missing = tmp_path / "missing"
    monkeypatch.setenv("KUBECONFIG", f"{missing}:{first}::{second}")
    config = load_kubeconfig(None)
    assert list(config.contexts) == ["a", "shared", "b"] and config.files == [first, second]
    assert config.current_context == "a", "the first file's current-context wins"
    assert [t.name for t in kubeconfig_targets(None, (), False)] == ["a"]
    assert [t.name for t in kubeconfig_targets(None, (), True)] == ["a", "shared", "b"]
    kube_api.settings.accepted_credentials = {"Bearer from-first", "Bearer token-b"}
    for target in kubeconfig_targets(None, ("shared", "b"), False):
        assert version(target.api_client), f"{target.name}: the first file's entries win"
    with pytest.raises(ConfigError, match=r"kubeconfig has no context nope \(it has: a, shared, b\)"):
        kubeconfig_targets(None, ("nope",), False)
    monkeypatch.setenv("KUBECONFIG", str(missing))
    with pytest.raises(ConfigError, match="no kubeconfig found"):
        kubeconfig_targets(None, (), False)


def test_current_context_semantics(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"a": ({"server": "http://127.0.0.1:9"}, {})})
    with pytest.raises(ConfigError, match="no current context; pass --context or --all-contexts"):
        kubeconfig_targets(str(path), (), False)
    doc = yaml.safe_load(path.read_text())
    doc["current-context"] = "gone"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="current-context gone is not one of its contexts"):
        kubeconfig_targets(str(path), (), False)
    assert [t.name for t in kubeconfig_targets(str(path), ("a",), False)] == ["a"]


BAD = {
    "missing client-key file": ({}, {"client-certificate-data": base64.b64encode(b"x").decode(),
                                     "client-key": "nowhere.key"}, r"client-key .*nowhere.key: no such file"),
    "bad base64 in CA data": ({"certificate-authority-data": "%%%not-base64"}, {},
                              r"cluster c-cluster: certificate-authority-data is not valid base64"),
    "bad base64 in key data": ({}, {"client-certificate-data": base64.b64encode(b"x").decode(),
                                    "client-key-data": SECRET + "!"}, r"client-key-data is not valid base64"),
    "certificate without key": ({}, {"client-certificate-data": base64.b64encode(b"x").decode()},
                                r"client-key \(or client-key-data\) is not set"),
    "no server": ({"server": None}, {}, "server is not set"),
    "CA data not PEM": ({"server": "https://127.0.0.1:9", "certificate-authority-data": base64.b64encode(
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").decode()}, {},
        "certificate-authority-data holds no readable PEM certificate"),
    "key data not PEM": ({"server": "https://127.0.0.1:9"}, {
        "client-certificate-data": base64.b64encode(b"not a cert").decode(),
        "client-key-data": base64.b64encode(SECRET.encode()).decode()},
        "client-certificate-data and client-key-data: not a readable PEM certificate and matching key"),
    "exec v1 without interactiveMode": ({}, {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                      "command": "true"}}, "interactiveMode must be set"),
    "exec v1alpha1": ({}, {"exec": {"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}},
                      "apiVersion client.authentication.k8s.io/v1alpha1 is not supported"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_clear_message_without_secrets(tmp_path: Path, case: str) -> None:
    cluster, user, words = BAD[case]
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": "http://127.0.0.1:9", **cluster},
                                              {"token": SECRET, **user})}, current="c")
    with pytest.raises(ClusterAccessError) as caught:
        kubeconfig_targets(str(path), (), False)
    message = str(caught.value)
    assert f"context c: kubeconfig {path}" in message and len(message.splitlines()) == 1
    assert re.search(words, message), message
    assert SECRET not in message and base64.b64encode(SECRET.encode()).decode() not in message


def test_unreadable_kubeconfig_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"kubeconfig {tmp_path / 'none'}: no such file"):
        kubeconfig_targets(str(tmp_path / "none"), (), False)
    (tmp_path / "list").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="a list, not a mapping"):
        kubeconfig_targets(str(tmp_path / "list"), (), False)
    (tmp_path / "broken").write_text("contexts: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        kubeconfig_targets(str(tmp_path / "broken"), (), False)
    (tmp_path / "noname").write_text(json.dumps({"contexts": [{"context": {}}]}))
    with pytest.raises(ConfigError, match=r"contexts\[0\] has no name"):
        kubeconfig_targets(str(tmp_path / "noname"), (), False)
    undefined = tmp_path / "undefined"
    undefined.write_text(json.dumps({"current-context": "x", "contexts": [{"name": "x", "context": {
        "cluster": "nowhere", "user": "nobody"}}]}))
    with pytest.raises(ClusterAccessError, match=r"context x: .*cluster nowhere is not defined"):
        kubeconfig_targets(str(undefined), (), False)


def test_an_auth_provider_user_is_served_by_the_kubernetes_package(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    """Legacy auth-provider users (oidc, gcp, azure) keep working: the Kubernetes package's client serves them."""
    payload = base64.urlsafe_b64encode(json.dumps({"exp": 4102444800, "sub": "me"}).encode()).decode().rstrip("=")
    jwt = f"eyJhbGciOiJub25lIn0.{payload}.c2ln"
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": kube_api.url}, {"auth-provider": {
        "name": "oidc", "config": {"id-token": jwt, "idp-issuer-url": "https://issuer.invalid"}}})}, current="c")
    [target] = kubeconfig_targets(str(path), (), False)
    assert type(target.api_client).__module__.startswith("kubernetes.")
    kube_api.settings.accepted_credentials = {f"Bearer {jwt}"}
    assert version(target.api_client)


def test_in_cluster_configuration(tmp_path: Path, kube_api: KubeAPIServer) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("-")
    conn = in_cluster_connection({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}, tmp_path)
    assert conn.server == "https://[fd00::1]:443" and conn.ca_file == str(tmp_path / "ca.crt")
    assert conn.token_file == str(tmp_path / "token") and "sa-token" not in repr(conn)
    with pytest.raises(ConfigError, match="not running inside a cluster: KUBERNETES_SERVICE_HOST"):
        in_cluster_connection({}, tmp_path)
    (tmp_path / "token").unlink()
    with pytest.raises(ConfigError, match=r"not running inside a cluster: .*token is missing"):
        in_cluster_connection({"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"}, tmp_path)
    with pytest.raises(ConfigError, match="not running inside a cluster"):
        in_cluster_target(None)  # this test process is no pod


def test_in_cluster_token_rotation_reaches_the_server(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    """The service account token is read again when the kubelet rotates it (here over plain HTTP)."""
    from dataclasses import replace

    (tmp_path / "token").write_text("sa-1")
    (tmp_path / "ca.crt").write_text("-")
    conn = in_cluster_connection({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "1"}, tmp_path)
    client = KubeClient(replace(conn, server=kube_api.url, ca_file=None))
    kube_api.settings.accepted_credentials = {"Bearer sa-1"}
    assert version(client)
    (tmp_path / "token").write_text("sa-2-rotated")
    kube_api.settings.accepted_credentials = {"Bearer sa-2-rotated"}
    assert version(client)
    (tmp_path / "token").unlink()
    with pytest.raises(ClusterAccessError, match=r"token file .*token: No such file"):
        version(client)


def test_unreachable_is_status_zero(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": "http://127.0.0.1:9"}, {"token": SECRET})}, current="c")
    client = kubeconfig_targets(str(path), (), False)[0].api_client
    with pytest.raises(ApiStatusError) as caught:
        LiveSource(client, "c", retry=FAST).get_json("/version")
    assert caught.value.status == 0 and SECRET not in str(caught.value)


def test_a_live_scan_never_imports_the_kubernetes_package(kube_api_session: KubeAPIServer, tmp_path: Path) -> None:
    """``auditor scan --context X`` in a fresh interpreter: the scan runs and ``kubernetes`` is not loaded."""
    path = kube_api_session.write_kubeconfig(tmp_path / "kc", context="probe")
    code = ("import sys\nfrom auditor.cli.base import main\n"
            "try:\n    main(['scan', '--kubeconfig', sys.argv[1], '--context', 'probe', '-o', 'json'],"
            " standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print('KUBERNETES' if any(m == 'kubernetes' or m.startswith('kubernetes.') for m in sys.modules)"
            " else 'CLEAN', file=sys.stderr)\n")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert run.stderr.strip().splitlines()[-1] == "CLEAN", run.stderr
    assert json.loads(run.stdout)["clusters"][0]["name"] == "probe"


def test_no_secret_reaches_the_logs(kube_api: KubeAPIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every request of a scan, refused and accepted, logged at DEBUG (urllib3's lines included): no token."""
    import logging

    kube_api.seed_dir(Path(__file__).resolve().parents[1] / "kubeapi" / "testdata")
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": kube_api.url}, {"token": SECRET}),
                                        "basic": ({"server": kube_api.url}, {"username": "u", "password": SECRET})})
    caplog.set_level(logging.DEBUG)
    good, basic = kubeconfig_targets(str(path), ("c", "basic"), False)
    assert LiveSource(good.api_client, "c", retry=FAST).collect().complete
    kube_api.settings.accepted_credentials = {"Bearer nobody"}
    with pytest.raises(ClusterAccessError, match="not authorised"):
        LiveSource(basic.api_client, "basic", retry=FAST).collect()
    assert "GET /api/v1/" in caplog.text, "urllib3's request lines were captured"
    assert SECRET not in caplog.text
    assert base64.b64encode(f"u:{SECRET}".encode()).decode() not in caplog.text


def test_the_environment_s_proxy_as_kubectl_reads_it(kube_api: KubeAPIServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Without proxy-url, HTTP(S)_PROXY carries the requests unless NO_PROXY names the server; loopback never."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", kube_api.url)
    path = kubeconfig(tmp_path / "kc", {"far": ({"server": "http://kube.invalid:6443"}, {"token": "t"}),
                                        "near": ({"server": kube_api.url}, {"token": "t"})})
    [far] = kubeconfig_targets(str(path), ("far",), False)
    kube_api.reset_requests()
    assert version(far.api_client) and [r.path for r in kube_api.requests] == ["/version"]
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a dead proxy: loopback servers never use it
    assert version(kubeconfig_targets(str(path), ("near",), False)[0].api_client)
    monkeypatch.setenv("HTTP_PROXY", kube_api.url)
    monkeypatch.setenv("NO_PROXY", ".invalid")
    [far] = kubeconfig_targets(str(path), ("far",), False)
    with pytest.raises(ClusterAccessError, match="cannot reach"):
        version(far.api_client)
