"""etcd snapshots: ``etcdctl snapshot save`` with the cluster's TLS client certificates, verified
(``etcdctl snapshot status``), checksummed, written next to a manifest; retention touches only our files.

Files are named ``etcd-snapshot-<YYYYMMDDhhmmss>.db`` with a ``.json`` manifest beside each; retention counts
and deletes only pairs of that shape, so nothing else in the directory is ever removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError, InputError

if TYPE_CHECKING:
    from auditor.collect.s3 import S3Target

NAME = re.compile(r"^etcd-snapshot-(\d{14})\.db$")


class EtcdSnapshotError(AuditorError):
    """etcdctl failed or the snapshot did not verify: the message carries etcdctl's own words."""


@dataclass(frozen=True)
class EtcdTarget:
    endpoints: str
    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def flags(self) -> list[str]:
        out = [f"--endpoints={self.endpoints}"]
        for flag, path in (("--cacert", self.cacert), ("--cert", self.cert), ("--key", self.key)):
            if path is not None:
                if not Path(path).is_file():
                    raise InputError("no such file", file=str(path), field=flag)
                out.append(f"{flag}={path}")
        return out


def _etcdctl(args: list[str], timeout: float = 300, what: str | None = None) -> str:
    binary = shutil.which("etcdctl")
    if binary is None:
        raise EtcdSnapshotError("etcdctl is not installed (Debian package etcd-client)")
    try:
        run = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "ETCDCTL_API": "3"})
    except subprocess.TimeoutExpired:
        raise EtcdSnapshotError(f"{what or _what(args)} did not finish within {timeout:.0f} s "
                                "(is the endpoint reachable?)") from None
    if run.returncode != 0:
        raise EtcdSnapshotError(f"{what or _what(args)} failed: {(run.stderr or run.stdout).strip()[:500]}")
    return run.stdout


def snapshot_path(out_dir: Path, at: datetime) -> Path:
    return out_dir / f"etcd-snapshot-{at.astimezone(UTC):%Y%m%d%H%M%S}.db"


def plan_snapshot(target: EtcdTarget, out_dir: Path, at: datetime, keep: int | None = None, *,
                  upload: S3Target | None = None, keep_local: bool = True) -> dict[str, Any]:
    """What :func:`take_snapshot` would do, touching nothing (``--dry-run``): the file, the command (no
    key material: paths only), where it would be uploaded, and which of our local files retention would
    delete. The bucket's retention is only known at run time (it needs the credentials)."""
    path = snapshot_path(out_dir, at)
    ours = sorted((p.name for p in out_dir.iterdir() if NAME.match(p.name) and p.with_suffix(".json").is_file()),
                  reverse=True) if out_dir.is_dir() else []
    plan: dict[str, Any] = {
        "file": str(path), "manifest": str(path.with_suffix(".json")), "exists": path.exists(),
        "command": ["etcdctl", *target.flags(), "--dial-timeout=10s", "snapshot", "save", str(path)],
        "verify": ["etcdctl", "snapshot", "status", str(path), "-w", "json"],
        "would_prune": ours[max(keep - 1, 0):] if keep is not None else [],
    }
    if upload is not None:
        plan["upload"] = f"s3://{upload.bucket}/{upload.prefix}"
        plan["keep_local"] = keep_local
    return plan


def _what(args: list[str]) -> str:
    return f"etcdctl snapshot {'save' if 'save' in args else 'status'}"


def check_health(target: EtcdTarget, timeout: float = 30.0) -> None:
    """``etcdctl endpoint health`` first: ``snapshot save`` ignores its dial timeout against an endpoint that
    does not answer and would hang until the run's timeout; this fails in seconds with etcd's own words."""
    _etcdctl([*target.flags(), "--dial-timeout=10s", "--command-timeout=10s", "endpoint", "health"],
             min(timeout, 30.0), what=f"etcdctl endpoint health ({target.endpoints})")


def take_snapshot(target: EtcdTarget, out_dir: Path, at: datetime, keep: int | None = None,
                  timeout: float = 300.0, *, upload: S3Target | None = None,
                  keep_local: bool = True) -> dict[str, Any]:
    """Save, verify and checksum one snapshot; then keep only the ``keep`` newest of ours.

    With ``upload``, the verified pair then goes to S3 (each object checked by HEAD), retention applies to the
    bucket prefix too, and the local pair is removed unless ``keep_local``. A failed upload leaves the verified
    local snapshot in place and says where it is.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = snapshot_path(out_dir, at)
    if path.exists():
        raise InputError("exists already; snapshots are never overwritten", file=str(path))
    partial = path.with_name(path.name + ".part")
    check_health(target, timeout)
    try:
        _etcdctl([*target.flags(), "--dial-timeout=10s", "snapshot", "save", str(partial)], timeout)
        status = json.loads(_etcdctl(["snapshot", "status", str(partial), "-w", "json"]))
        if not status.get("totalKey") and not status.get("revision"):
            raise EtcdSnapshotError(f"snapshot {path.name} did not verify: {status}")
        digest = hashlib.sha256(partial.read_bytes()).hexdigest()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
        partial.with_name(partial.name + ".part").unlink(missing_ok=True)  # etcdctl's own temporary file
    manifest = {"file": path.name, "sha256": digest, "taken_at": at.astimezone(UTC).isoformat(),
                "endpoints": target.endpoints, "etcd": {k: status.get(k) for k in
                                                        ("hash", "revision", "totalKey", "totalSize")}}
    path.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    if upload is not None:
        manifest.update(_upload(upload, path, digest, keep))
    if keep is not None:
        manifest["pruned"] = prune(out_dir, keep)
    if upload is not None and not keep_local:
        path.unlink()
        path.with_suffix(".json").unlink()
        manifest["local"] = "removed after a verified upload"
    return manifest


def _upload(target: S3Target, path: Path, digest: str, keep: int | None) -> dict[str, Any]:
    from auditor.collect import s3  # deferred: minio (0.2 s) only when a snapshot is uploaded

    manifest_path = path.with_suffix(".json")
    try:
        urls = [s3.upload(target, path, digest),
                s3.upload(target, manifest_path, hashlib.sha256(manifest_path.read_bytes()).hexdigest())]
        pruned = s3.prune(target, keep) if keep is not None else []
    except AuditorError as exc:
        raise type(exc)(f"{exc}; the verified local snapshot is kept at {path}") from None
    return {"uploaded": urls, **({"pruned_s3": pruned} if keep is not None else {})}


def prune(out_dir: Path, keep: int) -> list[str]:
    """Delete our snapshots beyond the ``keep`` newest (a .db with its manifest); nothing else is touched."""
    ours = sorted((p for p in out_dir.iterdir() if NAME.match(p.name) and p.with_suffix(".json").is_file()),
                  key=lambda p: p.name, reverse=True)
    removed = []
    for old in ours[keep:]:
        old.unlink()
        old.with_suffix(".json").unlink()
        removed.append(old.name)
    return removed
