"""etcd snapshots against a real etcd (Debian etcd-server) on loopback, with and without TLS."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not shutil.which("etcd") or not shutil.which("etcdctl"),
                                reason="Debian etcd-server and etcd-client are installed by scripts/bootstrap --test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_certs(d: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (what kubeadm's etcd uses)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=etcd-ca",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"))
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(d / f"{name}.key"),
                "-out", str(d / f"{name}.csr"))
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-days", "1", "-extfile", str(d / "san.ext"), "-out", str(d / f"{name}.crt"))
    return {n: d / n for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


@pytest.fixture(params=["plain", "tls"])
def etcd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    with run_etcd(tmp_path, request.param == "tls") as running:
        yield running


@contextmanager
def run_etcd(tmp_path: Path, tls: bool) -> Iterator[tuple[str, list[str]]]:
    """A one-member etcd on free loopback ports with one key written: (client URL, etcdctl TLS flags)."""
    client_port, peer_port = free_port(), free_port()
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{client_port}"
    args = ["etcd", "--name", "t", "--data-dir", str(tmp_path / "data"), "--listen-client-urls", url,
            "--advertise-client-urls", url, "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"t=http://127.0.0.1:{peer_port}"]
    client_flags: list[str] = []
    if tls:
        certs = make_certs(tmp_path)
        args += ["--cert-file", str(certs["server.crt"]), "--key-file", str(certs["server.key"]),
                 "--trusted-ca-file", str(certs["ca.crt"]), "--client-cert-auth"]
        client_flags = ["--cacert", str(certs["ca.crt"]), "--cert", str(certs["client.crt"]),
                        "--key", str(certs["client.key"])]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        etcdctl = ["etcdctl", f"--endpoints={url}", *[f"{a}={b}" for a, b in zip(client_flags[::2],
                                                                                  client_flags[1::2], strict=True)]]
        deadline = time.monotonic() + 30
        while subprocess.run([*etcdctl, "put", "/registry/k", "v"], capture_output=True,
                             env={"ETCDCTL_API": "3"}).returncode != 0:
            assert time.monotonic() < deadline, "etcd did not start"
            time.sleep(0.2)
        yield url, client_flags
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def backup(url: str, flags: list[str], out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", "backup", "etcd", "--endpoints", url, *flags,
                           "--out", str(out), *extra], capture_output=True, text=True, timeout=120)


def test_snapshot_is_saved_verified_and_checksummed(etcd: tuple[str, list[str]], tmp_path: Path) -> None:
    url, flags = etcd
    out = tmp_path / "snapshots"
    run = backup(url, flags, out)
    assert run.returncode == 0, run.stderr
    manifest = json.loads(run.stdout)
    db = out / manifest["file"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == manifest["sha256"]
    assert manifest["etcd"]["revision"] >= 2 and manifest["etcd"]["totalKey"] >= 1
    assert json.loads(db.with_suffix(".json").read_text()) == manifest
    assert not list(out.glob("*.part"))


def test_retention_keeps_only_our_newest(etcd: tuple[str, list[str]], tmp_path: Path) -> None:
    url, flags = etcd
    out = tmp_path / "snapshots"
    out.mkdir()
    (out / "etcd-snapshot-20200101000000.db").write_text("not ours: it has no manifest")
    (out / "notes.txt").write_text("keep me")
    first = json.loads(backup(url, flags, out).stdout)["file"]
    time.sleep(1.1)
    second = backup(url, flags, out, "--keep", "1")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["pruned"] == [first]
    names = {p.name for p in out.iterdir()}
    assert first not in names and {"etcd-snapshot-20200101000000.db", "notes.txt"} <= names


def test_unreachable_etcd_is_one_clear_line(tmp_path: Path) -> None:
    started = time.monotonic()
    run = backup(f"http://127.0.0.1:{free_port()}", [], tmp_path / "s", "--timeout", "5m")
    assert run.returncode == 1 and "etcdctl endpoint health (http://127.0.0.1:" in run.stderr, run.stderr
    assert time.monotonic() - started < 60, "the health check fails fast; snapshot save would wait 5 minutes"
    assert "Traceback" not in run.stderr and not list((tmp_path / "s").glob("*"))


def test_dry_run_touches_nothing_and_names_what_retention_would_delete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for stamp in ("20261101000000", "20261102000000", "20261103000000"):
        (out / f"etcd-snapshot-{stamp}.db").write_bytes(b"x")
        (out / f"etcd-snapshot-{stamp}.json").write_text("{}")
    (out / "etcd-snapshot-20261001000000.db").write_bytes(b"no manifest: not ours")
    (out / "notes.txt").write_text("someone else's")
    before = sorted(p.name for p in out.iterdir())
    run = backup("https://10.255.255.1:2379", [], out, "--keep", "2", "--dry-run", "--s3", "s3://bucket/etcd/")
    assert run.returncode == 0, run.stderr
    plan = json.loads(run.stdout)
    assert sorted(p.name for p in out.iterdir()) == before, "nothing written, nothing deleted"
    assert plan["would_prune"] == ["etcd-snapshot-20261102000000.db", "etcd-snapshot-20261101000000.db"]
    assert plan["command"][:2] == ["etcdctl", "--endpoints=https://10.255.255.1:2379"]
    assert plan["upload"] == "s3://bucket/etcd/" and plan["keep_local"] is True
    assert Path(plan["file"]).parent == out and not plan["exists"]
