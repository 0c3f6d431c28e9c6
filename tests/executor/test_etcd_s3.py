"""etcd snapshots uploaded to a real S3-compatible server (moto, SigV4 checked) from a real etcd on loopback."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio import Minio

from tests.executor.test_etcd import free_port, run_etcd
from tests.s3server import MOTO_SERVER, S3Server, run_s3_server

pytestmark = [
    pytest.mark.skipif(not shutil.which("etcd") or not shutil.which("etcdctl"),
                       reason="Debian etcd-server and etcd-client are installed by scripts/bootstrap --test"),
    pytest.mark.skipif(not MOTO_SERVER.exists(), reason="moto's server is installed by scripts/bootstrap --test"),
]


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    with run_s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def etcd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_etcd(tmp_path_factory.mktemp("etcd"), tls=False) as (url, _):
        yield url


def minio(s3: S3Server) -> Minio:
    return Minio(s3.endpoint.removeprefix("http://"), access_key=s3.access_key, secret_key=s3.secret_key,
                 secure=False, region=s3.region)


@pytest.fixture
def bucket(s3: S3Server) -> str:
    name = f"etcd-{uuid.uuid4().hex[:12]}"
    minio(s3).make_bucket(name)
    return name


def put(s3: S3Server, bucket: str, key: str, body: bytes) -> None:
    minio(s3).put_object(bucket, key, io.BytesIO(body), len(body))


def keys(s3: S3Server, bucket: str) -> set[str]:
    return {o.object_name or "" for o in minio(s3).list_objects(bucket, recursive=True)}


def backup(etcd_url: str, out: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([sys.executable, "-m", "auditor", "backup", "etcd", "--endpoints", etcd_url,
                           "--out", str(out), *extra], capture_output=True, text=True, timeout=120,
                          env={**clean, "AWS_SHARED_CREDENTIALS_FILE": str(out.parent / "no-such-file"), **env})


def test_upload_is_verified_and_retention_spares_what_is_not_ours(etcd_url: str, s3: S3Server, bucket: str,
                                                                  tmp_path: Path) -> None:
    old = b"an old snapshot of ours"
    put(s3, bucket, "etcd/etcd-snapshot-20200101000000.db", old)
    put(s3, bucket, "etcd/etcd-snapshot-20200101000000.json", b"{}")
    foreign = {"etcd/notes.txt", "etcd/etcd-snapshot-20200102000000.db",  # a lone .db: not a pair of ours
               "etcd/etcd-snapshot-20200101000000.db.bak", "other/etcd-snapshot-20200101000000.db",
               "other/etcd-snapshot-20200101000000.json"}
    for key in foreign:
        put(s3, bucket, key, b"not ours")
    out = tmp_path / "snapshots"
    run = backup(etcd_url, out, s3.env, "--s3", f"s3://{bucket}/etcd", "--s3-endpoint", s3.endpoint,
                 "--s3-region", s3.region, "--keep", "1", "--no-keep-local")
    assert run.returncode == 0, run.stderr
    manifest = json.loads(run.stdout)
    db, js = manifest["file"], manifest["file"].replace(".db", ".json")
    assert manifest["uploaded"] == [f"s3://{bucket}/etcd/{db}", f"s3://{bucket}/etcd/{js}"]
    assert manifest["pruned_s3"] == [f"s3://{bucket}/etcd/etcd-snapshot-20200101000000.db"]
    assert keys(s3, bucket) == foreign | {f"etcd/{db}", f"etcd/{js}"}
    client = minio(s3)
    body = client.get_object(bucket, f"etcd/{db}").read()
    assert hashlib.sha256(body).hexdigest() == manifest["sha256"]
    assert client.stat_object(bucket, f"etcd/{db}").metadata["x-amz-meta-sha256"] == manifest["sha256"]
    uploaded_manifest = json.loads(client.get_object(bucket, f"etcd/{js}").read())
    assert uploaded_manifest["sha256"] == manifest["sha256"] and uploaded_manifest["file"] == db
    assert manifest["local"] == "removed after a verified upload" and not list(out.iterdir())
    assert s3.secret_key not in run.stdout + run.stderr


def test_shared_credentials_profile_and_local_copy_kept(etcd_url: str, s3: S3Server, bucket: str,
                                                        tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n\n"
                     f"[backup]\naws_access_key_id = {s3.access_key}\naws_secret_access_key = {s3.secret_key}\n")
    out = tmp_path / "snapshots"
    run = backup(etcd_url, out, {"AWS_SHARED_CREDENTIALS_FILE": str(creds)}, "--s3", f"s3://{bucket}",
                 "--s3-endpoint", s3.endpoint, "--s3-profile", "backup")
    assert run.returncode == 0, run.stderr
    manifest = json.loads(run.stdout)
    assert manifest["uploaded"][0] == f"s3://{bucket}/{manifest['file']}" and "pruned_s3" not in manifest
    assert hashlib.sha256((out / manifest["file"]).read_bytes()).hexdigest() == manifest["sha256"]
    assert keys(s3, bucket) == {manifest["file"], manifest["file"].replace(".db", ".json")}


def test_bad_credentials_are_one_line_without_the_secret(etcd_url: str, s3: S3Server, bucket: str,
                                                         tmp_path: Path) -> None:
    secret = "wrong-" + uuid.uuid4().hex
    out = tmp_path / "snapshots"
    run = backup(etcd_url, out, {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": secret},
                 "--s3", f"s3://{bucket}/etcd", "--s3-endpoint", s3.endpoint, "--s3-region", s3.region,
                 "--no-keep-local")
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "SignatureDoesNotMatch" in run.stderr and f"s3://{bucket}/etcd/etcd-snapshot-" in run.stderr
    assert secret not in run.stdout + run.stderr and s3.secret_key not in run.stdout + run.stderr
    kept = sorted(p.name for p in out.iterdir())
    assert len(kept) == 2 and f"kept at {out / kept[0]}" in run.stderr
    assert keys(s3, bucket) == set()


def test_unreachable_endpoint_keeps_the_verified_local_snapshot(etcd_url: str, s3: S3Server,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "snapshots"
    run = backup(etcd_url, out, s3.env, "--s3", "s3://bkt/etcd", "--s3-endpoint", f"http://127.0.0.1:{free_port()}",
                 "--s3-region", "us-east-1", "--no-keep-local")
    assert run.returncode == 1 and "Traceback" not in run.stderr and run.stderr.count("\n") == 1
    assert "S3 PUT s3://bkt/etcd/etcd-snapshot-" in run.stderr and "kept at" in run.stderr
    db = next(out.glob("etcd-snapshot-*.db"))
    manifest = json.loads(db.with_suffix(".json").read_text())
    assert hashlib.sha256(db.read_bytes()).hexdigest() == manifest["sha256"]


def test_no_credentials_is_a_config_error(etcd_url: str, tmp_path: Path) -> None:
    run = backup(etcd_url, tmp_path / "s", {}, "--s3", "s3://bkt", "--s3-endpoint", "http://127.0.0.1:9")
    assert run.returncode == 2 and "no S3 credentials for s3://bkt/" in run.stderr and "kept at" in run.stderr


@pytest.mark.parametrize("args", [["--s3", "https://bkt/x"], ["--s3-region", "eu-west-1"]])
def test_bad_s3_options_fail_before_any_snapshot(args: list[str], tmp_path: Path) -> None:
    run = backup(f"http://127.0.0.1:{free_port()}", tmp_path / "s", {}, *args)
    assert run.returncode == 2 and "Traceback" not in run.stderr and not (tmp_path / "s").exists()


def test_the_scan_reads_the_uploaded_manifests_only(etcd_url: str, s3: S3Server, bucket: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.analyse.etcd import etcd_evidence
    from auditor.collect.etcd_manifests import with_etcd_manifests
    from auditor.config import EtcdConfig
    from auditor.model.inventory import Inventory

    run = backup(etcd_url, tmp_path / "s", s3.env, "--s3", f"s3://{bucket}/etcd", "--s3-endpoint", s3.endpoint,
                 "--s3-region", s3.region)
    assert run.returncode == 0, run.stderr
    manifest = json.loads(run.stdout)
    put(s3, bucket, "etcd/etcd-snapshot-20200101000000.json", b"{}")  # a lone manifest of ours, malformed
    for var, value in s3.env.items():
        monkeypatch.setenv(var, value)
    config = EtcdConfig.model_validate({"snapshots": [{"s3": f"s3://{bucket}/etcd", "s3_endpoint": s3.endpoint,
                                                       "s3_region": s3.region}]})
    inv = with_etcd_manifests(Inventory(cluster="c1", source="test"), config)
    evidence = etcd_evidence(inv)
    assert evidence.newest is not None and evidence.newest.snapshot_name == manifest["file"]
    assert evidence.newest.location == f"s3://{bucket}/etcd/{manifest['file']}"
    assert [g.message.split(": ")[-1] for g in inv.gaps] == ["not an etcd snapshot manifest (file, sha256, taken_at)"]
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    denied = with_etcd_manifests(Inventory(cluster="c1", source="test"), config)
    assert denied.etcd_snapshots == () and "SignatureDoesNotMatch" in denied.gaps[0].message
