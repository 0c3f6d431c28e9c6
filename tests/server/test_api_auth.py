"""The data API of ``auditor serve`` is authenticated: reviews by the API server (the in-cluster path, end to
end against the API test server), a static token, HTTPS, and one-line errors for bad token/cert/key files."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from auditor import demo
from auditor.cli.shared import build_options
from auditor.server.app import AuditorServer
from auditor.server.settings import ServeSettings
from tests.kubeapi.server import KubeAPIServer

from .conftest import demo_server, serve_args
from .stack import AUDITOR, Process, http_get, start_auditor, wait_until

FAST = ServeSettings(host="127.0.0.1", port=0, interval=60.0, watch=False)
SCAN = "/api/v1/scan"
READER_TOKEN = "reader-token-7f3a9c"  # distinctive: the log must never contain any of these
STRANGER_TOKEN = "stranger-token-51be20"
FORGED_TOKEN = "forged-token-c0ffee"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def kube() -> Iterator[KubeAPIServer]:
    server = demo_server()
    server.settings.tokens.update({
        READER_TOKEN: {"username": "alice", "uid": "u-1", "groups": ["system:authenticated"]},
        STRANGER_TOKEN: {"username": "mallory", "uid": "u-2", "groups": ["system:authenticated"]}})
    server.settings.grants.add(("alice", "get", SCAN))
    try:
        yield server
    finally:
        server.stop()


def test_tokens_are_reviewed_by_the_api_server(kube: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context=demo.CLUSTER_NAME)
    proc, url = start_auditor([*serve_args(kubeconfig, tmp_path / "key"), "--no-watch", "--api-auth-kubernetes"])
    try:
        status, body = http_get(url + SCAN)
        assert status == 401 and json.loads(body) == {"error": "unauthorized: send Authorization: Bearer TOKEN"}
        assert http_get(url + SCAN, headers=bearer(FORGED_TOKEN))[0] == 401
        assert http_get(url + SCAN, headers=bearer(STRANGER_TOKEN))[0] == 403
        status, body = http_get(url + SCAN, headers=bearer(READER_TOKEN))
        assert status == 200 and [c["name"] for c in json.loads(body)["clusters"]] == [demo.CLUSTER_NAME]
        for path in ("/metrics", "/healthz", "/readyz"):
            assert http_get(url + path)[0] == 200, path
        reviews = [r for r in kube.requests if r.path.endswith("/tokenreviews")]
        assert http_get(url + SCAN, headers=bearer(READER_TOKEN))[0] == 200
        assert len([r for r in kube.requests if r.path.endswith("/tokenreviews")]) == len(reviews), \
            "a second request within the cache time is not reviewed again"
        access = [r for r in kube.requests if r.path.endswith("/subjectaccessreviews")]
        assert len(access) == 2 and all(r.method == "POST" for r in access)  # mallory's and alice's
        wait_until(lambda: "refused GET /api/v1/scan" in "\n".join(proc.lines), 5, what="the refusal log")
        log = "\n".join(proc.lines)
        assert "401 the API server did not authenticate the token" in log
        assert "403 user 'mallory' may not get /api/v1/scan" in log
        assert not any(t in log for t in (READER_TOKEN, STRANGER_TOKEN, FORGED_TOKEN)), log
    finally:
        assert proc.stop() == 0, proc.output()


def test_an_unreachable_review_is_503_not_a_pass(kube: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context=demo.CLUSTER_NAME)
    proc, url = start_auditor([*serve_args(kubeconfig, tmp_path / "key"), "--no-watch", "--api-auth-kubernetes"])
    try:
        kube.add_fault("POST", r"/tokenreviews$", status=500)
        assert http_get(url + SCAN, headers=bearer(READER_TOKEN))[0] == 503
    finally:
        proc.stop()


def write_token(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def with_token(tmp_path: Path) -> Iterator[AuditorServer]:
    token = write_token(tmp_path / "token", "s3cret-static-token\n", 0o640)
    app = AuditorServer(build_options(demo=True), replace(FAST, api_token_file=token))
    app.start()
    try:
        wait_until(lambda: http_get(app.url + "/readyz")[0] == 200, 20, what="ready")
        yield app
    finally:
        app.stop()


def test_a_static_token_outside_a_cluster(with_token: AuditorServer) -> None:
    url = with_token.url
    assert http_get(url + SCAN)[0] == 401
    assert http_get(url + SCAN, headers=bearer("s3cret-static-tokeN"))[0] == 401
    assert http_get(url + SCAN, headers={"Authorization": "Basic czNjcmV0"})[0] == 401
    status, body = http_get(url + SCAN, headers=bearer("s3cret-static-token"))
    assert status == 200 and json.loads(body)["schema_version"] == "1"


def test_without_credentials_configured_the_data_api_is_off() -> None:
    app = AuditorServer(build_options(demo=True), FAST)
    app.start()
    try:
        wait_until(lambda: http_get(app.url + "/readyz")[0] == 200, 20, what="ready")
        assert http_get(app.url + SCAN, headers=bearer("anything"))[0] == 404
        assert http_get(app.url + "/metrics")[0] == 200 and http_get(app.url + "/healthz")[0] == 200
    finally:
        app.stop()


def openssl(*args: str) -> None:
    run = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def self_signed(directory: Path, name: str = "server") -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert))
    return cert, key


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl (Debian package) not installed")


@needs_openssl
def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    token = write_token(tmp_path / "token", "tls-token")
    app = AuditorServer(build_options(demo=True), replace(FAST, api_token_file=token, tls_cert_file=cert,
                                                          tls_key_file=key))
    app.start()
    try:
        assert app.url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(cert))

        def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
            request = urllib.request.Request(app.url + path, headers=headers or {})
            try:
                with urllib.request.urlopen(request, timeout=5, context=trusted) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()

        wait_until(lambda: get("/readyz")[0] == 200, 20, what="ready over HTTPS")
        assert get(SCAN)[0] == 401
        status, body = get(SCAN, bearer("tls-token"))
        assert status == 200 and json.loads(body)["clusters"]
        assert http_get(app.url.replace("https://", "http://") + "/healthz")[0] == 0, "no plain HTTP on the port"
        assert get("/healthz") == (200, b"ok\n"), "a plain-HTTP client did not break the server"
    finally:
        app.stop()


def serve_fails(*args: str) -> list[str]:
    proc = Process("auditor", [str(AUDITOR), "serve", "--demo", "--listen", "127.0.0.1:0", *args])
    code = proc.proc.wait(60)
    proc.stop()
    assert code == 2, proc.output()
    return proc.lines


def test_bad_token_files_are_one_line_errors(tmp_path: Path) -> None:
    empty = write_token(tmp_path / "empty", "\n")
    assert serve_fails("--api-token-file", str(empty)) == [f"error: --api-token-file {empty}: the file is empty"]
    shared = write_token(tmp_path / "shared", "tok", 0o644)
    (line,) = serve_fails("--api-token-file", str(shared))
    assert line.startswith(f"error: --api-token-file {shared}: readable by every user (mode 0644)")
    missing = tmp_path / "missing"
    (line,) = serve_fails("--api-token-file", str(missing))
    assert line.startswith(f"error: --api-token-file {missing}: cannot read it")
    (line,) = serve_fails("--api-auth-kubernetes")
    assert line.startswith("error: --api-auth-kubernetes needs a cluster")


@needs_openssl
def test_bad_certificates_and_keys_are_one_line_errors(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "one")
    _, other_key = self_signed(tmp_path, "two")
    assert serve_fails("--tls-cert-file", str(cert), "--tls-private-key-file", str(other_key)) == [
        f"error: --tls-private-key-file {other_key}: the key does not match the certificate {cert}"]
    missing = tmp_path / "nope.crt"
    (line,) = serve_fails("--tls-cert-file", str(missing), "--tls-private-key-file", str(key))
    assert line.startswith(f"error: --tls-cert-file {missing}: cannot read it")
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "locked.key"
        locked.write_bytes(key.read_bytes())
        locked.chmod(0)
        (line,) = serve_fails("--tls-cert-file", str(cert), "--tls-private-key-file", str(locked))
        assert line.startswith(f"error: --tls-private-key-file {locked}: cannot read it (Permission denied)")
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("not a certificate\n")
    (line,) = serve_fails("--tls-cert-file", str(garbage), "--tls-private-key-file", str(key))
    assert line.startswith(f"error: --tls-cert-file {garbage} / --tls-private-key-file {key}: not a PEM")
    (line,) = serve_fails("--tls-cert-file", str(cert))
    assert line == "error: --tls-cert-file and --tls-private-key-file go together: give both or neither"
