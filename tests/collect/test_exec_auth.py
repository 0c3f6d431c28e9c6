"""Exec credential plugins: run as kubectl runs them, cached until they expire, run again on 401."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.collect.clusters import kubeconfig_targets
from auditor.collect.live import LiveSource, RetryPolicy
from auditor.errors import ClusterAccessError
from tests.collect.kubeconfigs import Plugin, kubeconfig
from tests.kubeapi.server import KubeAPIServer

FAST = RetryPolicy(attempts=2, base_delay=0.01)
V1BETA1 = "client.authentication.k8s.io/v1beta1"


def source(path: Path, context: str = "c") -> LiveSource:
    [target] = kubeconfig_targets(str(path), (context,), False)
    return LiveSource(target.api_client, "c", retry=FAST)


def test_the_plugin_token_reaches_the_server_and_the_plugin_gets_what_kubectl_gives(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    plugin = Plugin(tmp_path / "plugin")
    path = kubeconfig(tmp_path / "kc", {"c": (
        {"server": kube_api.url, "extensions": [{"name": "client.authentication.k8s.io/exec",
                                                 "extension": {"audience": "test"}}]},
        {"exec": plugin.exec_config(provideClusterInfo=True)})})
    kube_api.settings.accepted_credentials = {"Bearer exec-token-1"}
    live = source(path)
    assert plugin.runs == 0, "the plugin runs at the first request, not when the kubeconfig is read"
    assert live.server_version()
    assert live.get_json("/api/v1/namespaces")["items"]
    assert plugin.runs == 1, "no expiry: one run serves every request"
    seen = plugin.seen(1)
    assert seen["args"] == ["--flag", "value"] and seen["env"] == "from-kubeconfig"
    assert seen["info"]["apiVersion"] == "client.authentication.k8s.io/v1"
    assert seen["info"]["kind"] == "ExecCredential" and seen["info"]["spec"]["interactive"] is False
    assert seen["info"]["spec"]["cluster"] == {"server": kube_api.url, "config": {"audience": "test"}}
    assert seen["stdin_tty"] is False


def test_the_credential_is_kept_until_it_expires(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    plugin = Plugin(tmp_path / "plugin", api_version=V1BETA1, expires_in=1.5)
    config = plugin.exec_config()
    del config["interactiveMode"]  # v1beta1: IfAvailable by default
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": kube_api.url}, {"exec": config})})
    kube_api.settings.accepted_credentials = {"Bearer exec-token-1", "Bearer exec-token-2"}
    live = source(path)
    live.get_json("/version")
    live.get_json("/version")
    assert plugin.runs == 1
    time.sleep(1.6)
    live.get_json("/version")
    assert plugin.runs == 2, "run again once expired"
    assert "cluster" not in plugin.seen(1)["info"]["spec"], "no provideClusterInfo: no cluster"


def test_a_401_runs_the_plugin_again_and_repeats_the_request(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    plugin = Plugin(tmp_path / "plugin")
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": kube_api.url}, {"exec": plugin.exec_config()})})
    kube_api.settings.accepted_credentials = {"Bearer exec-token-1"}
    live = source(path)
    assert live.server_version()
    kube_api.settings.accepted_credentials = {"Bearer exec-token-2"}  # the server revoked the first token
    kube_api.reset_requests()
    assert live.get_json("/api/v1/namespaces")["items"]
    assert plugin.runs == 2
    assert [r.status for r in kube_api.requests] == [401, 200]
    kube_api.settings.accepted_credentials = {"Bearer never"}
    with pytest.raises(ClusterAccessError, match="not authorised"):
        live.server_version()
    assert plugin.runs == 3, "one new run per refused request, no loop"


def test_a_scan_through_the_plugin_matches_the_token_scan(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    kube_api.seed_dir(Path(__file__).resolve().parents[1] / "kubeapi" / "testdata")
    plugin = Plugin(tmp_path / "plugin")
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": kube_api.url}, {"exec": plugin.exec_config()})})
    inv = source(path).collect()
    plain = LiveSource(kubeconfig_targets(str(kube_api.write_kubeconfig(tmp_path / "plain", context="c")), (),
                                          False)[0].api_client, "c", retry=FAST).collect()
    assert inv.complete and len(inv.pvcs) == len(plain.pvcs) > 0 and len(inv.backups) == len(plain.backups)
    assert plugin.runs == 1


SECRETLY = "PLUGIN-PRINTED-SECRET"
FAILURES = {
    "not found": ({"command": "no-such-plugin-anywhere", "installHint": "install it with: brew install x"},
                  {}, r"exec plugin no-such-plugin-anywhere: executable no-such-plugin-anywhere not found "
                      r"\(install it with: brew install x\)"),
    "non-zero exit": ({}, {"exit": 3}, "exited with code 3"),
    "bad json": ({}, {"raw": SECRETLY + " {"}, r"its output is not JSON \(an ExecCredential was expected\)"),
    "wrong version": ({}, {"answer_version": "client.authentication.k8s.io/v1beta1"},
                      "it answered apiVersion client.authentication.k8s.io/v1beta1, "
                      "client.authentication.k8s.io/v1 was asked for"),
    "no token": ({}, {"token": False}, "status has neither token nor clientCertificateData"),
    "bad expiry": ({}, {"raw": json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                                           "status": {"token": SECRETLY, "expirationTimestamp": "tomorrow"}})},
                   "status.expirationTimestamp 'tomorrow' is not an RFC 3339 time"),
    "always interactive": ({"interactiveMode": "Always"}, {}, "interactiveMode Always needs a terminal"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_a_failing_plugin_is_a_clear_message(kube_api: KubeAPIServer, tmp_path: Path, case: str) -> None:
    import re

    extra, settings, words = FAILURES[case]
    if case == "always interactive" and sys.stdin is not None and sys.stdin.isatty():
        pytest.skip("standard input is a terminal here (pytest -s)")
    plugin = Plugin(tmp_path / "plugin", **settings)
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": kube_api.url}, {"exec": plugin.exec_config(**extra)})})
    with pytest.raises(ClusterAccessError) as caught:
        source(path).server_version()
    message = str(caught.value)
    assert re.search(words, message), message
    assert f"kubeconfig {path}, context c, user c-user, exec plugin" in message
    assert SECRETLY not in message and len(message.splitlines()) == 1


def test_a_failing_plugin_is_the_cluster_s_error_row_not_a_traceback(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    plugin = Plugin(tmp_path / "plugin", exit=2)
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": kube_api.url}, {"exec": plugin.exec_config()})},
                      current="c")
    run = subprocess.run([sys.executable, "-m", "auditor", "scan", "--kubeconfig", str(path), "-o", "json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    [row] = json.loads(run.stdout)["clusters"]
    assert row["name"] == "c" and "exec plugin plugin.py: exited with code 2" in row["error"]
    assert "plugin: giving up" in run.stderr, "the plugin's stderr is the user's, as with kubectl"
