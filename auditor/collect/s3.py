"""S3-compatible storage for etcd snapshots: upload, verify by HEAD, prune our own pairs, read manifests back.

Built on the ``minio`` SDK (boto3 cannot be installed beside kubernetes 37). Credentials come from the standard
AWS environment variables or an AWS shared-credentials profile and never appear in a message: errors name the
operation, the ``s3://`` URL and the server's error code only. The SDK addresses buckets path-style for any
endpoint that is not AWS (MinIO, Ceph RGW, moto, ...), virtual-host style for AWS.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.credentials.providers import AWSConfigProvider, Provider, StaticProvider
from minio.error import MinioException, S3Error

from auditor.errors import AuditorError, ConfigError, InputError

#: Our files only: retention and the scan never look at anything else under a prefix.
SNAPSHOT = re.compile(r"^etcd-snapshot-(\d{14})\.(db|json)$")
META_SHA256 = "x-amz-meta-sha256"
T = TypeVar("T")


class S3StorageError(AuditorError):
    """An S3 request failed: the message names the operation and object, never a credential."""


@dataclass(frozen=True)
class S3Target:
    """Where snapshots go: ``s3://bucket/prefix`` on an S3-compatible endpoint."""

    bucket: str
    prefix: str = ""  # "" or ending in "/"
    endpoint: str | None = None  # https://minio.example:9000; None: AWS
    region: str | None = None
    ca_file: Path | None = None
    profile: str | None = None  # AWS shared-credentials profile; None: the AWS_* env vars, else "default"
    timeout: float = 60.0

    @classmethod
    def parse(cls, url: str, **options: Any) -> S3Target:
        """``s3://bucket[/prefix]`` plus the endpoint options."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise InputError(f"not an s3://bucket/prefix URL: {url!r}", field="--s3")
        prefix = parts.path.strip("/")
        return cls(bucket=parts.netloc, prefix=f"{prefix}/" if prefix else "", **options)

    def url(self, name: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"


def _credentials(target: S3Target) -> Provider:
    env_key = os.environ.get("AWS_ACCESS_KEY_ID")
    env_secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if target.profile is None and env_key and env_secret:
        return StaticProvider(env_key, env_secret, os.environ.get("AWS_SESSION_TOKEN"))
    provider = AWSConfigProvider(profile=target.profile)
    try:
        provider.retrieve()
    except ValueError:
        where = f"profile {target.profile!r} of the AWS shared-credentials file" if target.profile else \
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the default profile of the AWS shared-credentials file"
        raise ConfigError(f"no S3 credentials for {target.url()}: set {where}") from None
    return provider


def client(target: S3Target) -> Minio:
    endpoint = urlsplit(target.endpoint or "https://s3.amazonaws.com")
    if endpoint.scheme not in ("http", "https") or not endpoint.netloc or endpoint.path.strip("/"):
        raise InputError(f"not an endpoint URL (scheme://host[:port]): {target.endpoint!r}", field="--s3-endpoint")
    if target.ca_file is not None and not target.ca_file.is_file():
        raise InputError("no such file", file=str(target.ca_file), field="--s3-ca-file")
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=min(10.0, target.timeout), read=target.timeout),
        # a refused connection fails at once (one clear line); a dropped read or a 5xx is tried again twice
        retries=urllib3.Retry(total=2, connect=0, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        cert_reqs=ssl.CERT_REQUIRED, ca_certs=str(target.ca_file) if target.ca_file else certifi.where())
    return Minio(endpoint.netloc, secure=endpoint.scheme == "https", region=target.region, http_client=http,
                 credentials=_credentials(target))


@contextmanager
def _errors(operation: str, url: str) -> Iterator[None]:
    """SDK and network errors become one line; the SDK's messages carry no credentials, ours add none."""
    try:
        yield
    except S3Error as exc:
        raise S3StorageError(f"S3 {operation} {url} failed: {exc.code}: {exc.message}") from None
    except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise S3StorageError(f"S3 {operation} {url} failed: {type(reason).__name__}: {reason}") from None


def _call(operation: str, url: str, fn: Callable[[], T]) -> T:
    with _errors(operation, url):
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover - _errors re-raises


def upload(target: S3Target, path: Path, sha256: str) -> str:
    """PUT one file with its SHA-256 as metadata, then HEAD it: the size and the checksum must match."""
    s3 = client(target)
    key = target.prefix + path.name
    url = target.url(path.name)
    size = path.stat().st_size
    content_type = "application/json" if path.suffix == ".json" else "application/octet-stream"
    with path.open("rb") as fh:
        _call("PUT", url, lambda: s3.put_object(target.bucket, key, fh, size, content_type=content_type,
                                                metadata={"sha256": sha256}))
    stat = _call("HEAD", url, lambda: s3.stat_object(target.bucket, key))
    headers = {k.lower(): v for k, v in (stat.metadata or {}).items()}
    remote = headers.get(META_SHA256)
    if remote is None and headers.get("x-amz-checksum-sha256"):
        remote = base64.b64decode(headers["x-amz-checksum-sha256"]).hex()
    if stat.size != size or remote != sha256:
        raise S3StorageError(f"S3 upload of {url} did not verify: size {stat.size} (want {size}), "
                             f"sha256 {remote or 'missing'} (want {sha256})")
    return url


def exists(target: S3Target, name: str) -> bool:
    """Whether ``name`` is under the prefix (a HEAD); a missing object is False, any other error raises."""
    api = client(target)
    with _errors("HEAD", target.url(name)):
        try:
            api.stat_object(target.bucket, target.prefix + name)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return False
            raise
    return True


def _ours(s3: Minio, target: S3Target) -> dict[str, set[str]]:
    """Timestamps of our snapshot objects directly under the prefix → which suffixes exist."""
    found: dict[str, set[str]] = {}
    objects = _call("LIST", target.url(), lambda: list(s3.list_objects(target.bucket, prefix=target.prefix)))
    for obj in objects:
        match = SNAPSHOT.match((obj.object_name or "")[len(target.prefix):])
        if match and not obj.is_dir:
            found.setdefault(match[1], set()).add(match[2])
    return found


def prune(target: S3Target, keep: int) -> list[str]:
    """Delete our pairs beyond the ``keep`` newest; a lone .db or .json, or any other object, is never touched."""
    s3 = client(target)
    pairs = sorted((t for t, kinds in _ours(s3, target).items() if kinds == {"db", "json"}), reverse=True)
    removed = []
    for stamp in pairs[keep:]:
        for suffix in ("db", "json"):
            name = f"etcd-snapshot-{stamp}.{suffix}"
            with _errors("DELETE", target.url(name)):
                s3.remove_object(target.bucket, target.prefix + name)
        removed.append(target.url(f"etcd-snapshot-{stamp}.db"))
    return removed


def read_manifests(target: S3Target) -> list[tuple[str, bytes, bool]]:
    """Our ``.json`` manifests under the prefix: (name, body, whether its .db is there). Snapshots are never read."""
    s3 = client(target)
    found = []
    for stamp, kinds in sorted(_ours(s3, target).items()):
        if "json" not in kinds:
            continue
        name = f"etcd-snapshot-{stamp}.json"

        def get(n: str = name) -> bytes:
            response = s3.get_object(target.bucket, target.prefix + n)
            try:
                return bytes(response.read())
            finally:
                response.close()
                response.release_conn()

        found.append((name, _call("GET", target.url(name), get), "db" in kinds))
    return found
