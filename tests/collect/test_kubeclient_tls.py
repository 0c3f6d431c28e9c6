"""TLS of the live client: the project's API test server speaks plain HTTP only, so these tests run a small
HTTPS server of their own on 127.0.0.1, with a throwaway CA made here (the ``cryptography`` package)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auditor.collect.clusters import kubeconfig_targets
from auditor.collect.live import LiveSource, RetryPolicy
from auditor.errors import ApiStatusError, ClusterAccessError
from tests.collect.kubeconfigs import Plugin, kubeconfig

FAST = RetryPolicy(attempts=3, base_delay=0.01)


class Pki:
    """A CA and certificates it signed, as PEM files in a folder."""

    def __init__(self, folder: Path, name: str = "test-ca") -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = self.write(f"{name}.crt", self.cert.public_bytes(serialization.Encoding.PEM))

    def write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path

    def issue(self, name: str, *, dns: tuple[str, ...] = (), ip: bool = False, client: bool = False,
              ) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=1)))
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        if ip:
            names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client else x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        cert = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False).sign(self.key, hashes.SHA256())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return (self.write(f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM)),
                self.write(f"{name}.key", key_pem))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        peer = self.connection.getpeercert()  # type: ignore[attr-defined]
        client = None
        if peer:
            client = dict(x[0] for x in peer["subject"]).get("commonName")
        body = json.dumps({"gitVersion": "v1.37.0", "client": client,
                           "authorization": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Pki, Pki]]:
    """An HTTPS server on 127.0.0.1 whose certificate names only ``kube.test``; it asks for a client certificate
    of a second CA (optional: tests see which one arrived)."""
    folder = tmp_path_factory.mktemp("pki")
    server_ca, client_ca = Pki(folder, "server-ca"), Pki(folder, "client-ca")
    cert, key = server_ca.issue("kube.test", dns=("kube.test",))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(client_ca.ca_file)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", server_ca, client_ca
    finally:
        server.shutdown()
        server.server_close()


def get(path: Path, context: str = "c") -> dict[str, Any]:
    [target] = kubeconfig_targets(str(path), (context,), False)
    return dict(LiveSource(target.api_client, context, retry=FAST).get_json("/version"))


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_ca_file_server_name_and_client_certificate_files(tls: tuple[str, Pki, Pki], tmp_path: Path) -> None:
    url, server_ca, client_ca = tls
    cert, key = client_ca.issue("alice", client=True)
    path = kubeconfig(tmp_path / "kc", {"c": (
        {"server": url, "certificate-authority": str(server_ca.ca_file), "tls-server-name": "kube.test"},
        {"client-certificate": str(cert), "client-key": str(key)})})
    answer = get(path)
    assert answer["client"] == "alice" and answer["authorization"] is None


def test_ca_and_client_certificate_as_data(tls: tuple[str, Pki, Pki], tmp_path: Path) -> None:
    url, server_ca, client_ca = tls
    cert, key = client_ca.issue("bob", client=True)
    path = kubeconfig(tmp_path / "kc", {"c": (
        {"server": url, "certificate-authority-data": b64(server_ca.ca_file), "tls-server-name": "kube.test"},
        {"client-certificate-data": b64(cert), "client-key-data": b64(key), "token": "tok"})})
    answer = get(path)
    assert answer["client"] == "bob" and answer["authorization"] == "Bearer tok"
    assert not list(Path(tempfile.gettempdir()).glob("auditor-tls-*")), "the key's temporary file is gone"


def test_a_server_not_trusted_or_not_named_is_refused_at_once(tls: tuple[str, Pki, Pki], tmp_path: Path) -> None:
    url, server_ca, _ = tls
    other = Pki(tmp_path, "other-ca")
    for cluster, words in (({"certificate-authority": str(other.ca_file), "tls-server-name": "kube.test"},
                            "certificate verify failed"),
                           ({"certificate-authority": str(server_ca.ca_file)}, "127.0.0.1")):
        path = kubeconfig(tmp_path / "kc", {"c": ({"server": url, **cluster}, {"token": "t"})})
        [target] = kubeconfig_targets(str(path), (), True)
        source = LiveSource(target.api_client, "c", retry=RetryPolicy(attempts=6, base_delay=1.0))
        with pytest.raises(ApiStatusError) as caught:
            source.get_json("/version")
        assert caught.value.status == 0 and caught.value.message.startswith("TLS: ")
        assert words in caught.value.message, caught.value.message
        with pytest.raises(ClusterAccessError, match="cannot reach the API server"):
            source.server_version()


def test_insecure_skip_tls_verify(tls: tuple[str, Pki, Pki], tmp_path: Path) -> None:
    url, _, _ = tls
    path = kubeconfig(tmp_path / "kc", {"c": ({"server": url, "insecure-skip-tls-verify": True}, {"token": "t"})})
    assert get(path)["gitVersion"] == "v1.37.0"


def test_an_exec_plugin_s_client_certificate(tls: tuple[str, Pki, Pki], tmp_path: Path) -> None:
    url, server_ca, client_ca = tls
    cert, key = client_ca.issue("carol", client=True)
    plugin = Plugin(tmp_path / "plugin", token=False, cert=str(cert), key=str(key))
    path = kubeconfig(tmp_path / "kc", {"c": (
        {"server": url, "certificate-authority": str(server_ca.ca_file), "tls-server-name": "kube.test"},
        {"exec": plugin.exec_config(provideClusterInfo=True)})})
    answer = get(path)
    assert answer["client"] == "carol" and answer["authorization"] is None and plugin.runs == 1
    info = plugin.seen(1)["info"]["spec"]["cluster"]
    assert info["tls-server-name"] == "kube.test"
    assert base64.b64decode(info["certificate-authority-data"]) == server_ca.ca_file.read_bytes()
