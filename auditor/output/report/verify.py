"""``auditor verify DIR --public-key PUB.pem``: is this report set what the key's owner signed?

Offline and without the scan source: for each ``*.manifest.json`` in the directory, the detached signature
must verify over the manifest's exact bytes, then every file the manifest lists must have its size and
SHA-256, and no other file may claim the set's name. The first thing that does not hold is a
:class:`VerificationError` naming it (exit 1); input that cannot be read at all is an ``InputError`` (exit 2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from auditor.errors import AuditorError, InputError
from auditor.output.report.signing import SIGNATURE_SUFFIX, key_id, load_public_key, signature_valid

MANIFEST_SUFFIX = ".manifest.json"


class VerificationError(AuditorError):
    """A file differs from its manifest, or the manifest from its signature: the evidence does not hold."""

    exit_code = 1


@dataclass(frozen=True)
class Verified:
    manifest: Path
    files: int
    key_id: str


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise VerificationError(f"{path}: missing: the signed manifest lists it") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None


def verify_dir(directory: Path, public_key: Path) -> list[Verified]:
    """Every report set in ``directory``, checked against its manifest and signature (in name order)."""
    key = load_public_key(public_key)
    if not directory.is_dir():
        raise InputError("not a directory", file=str(directory))
    try:
        manifests = sorted(directory.glob(f"*{MANIFEST_SUFFIX}"))
    except OSError as exc:
        raise InputError(f"cannot list: {exc.strerror}", file=str(directory)) from None
    if not manifests:
        raise InputError(f"no report manifest (*{MANIFEST_SUFFIX}) to verify", file=str(directory))
    return [verify_set(m, key) for m in manifests]


def verify_set(manifest_path: Path, key: Any) -> Verified:
    body = _read(manifest_path)
    signature_path = manifest_path.with_name(manifest_path.name + SIGNATURE_SUFFIX)
    if not signature_path.exists():
        raise VerificationError(f"{signature_path}: signature missing: the manifest is not signed")
    signature = _read(signature_path)
    if not signature_valid(key, body, signature):
        raise VerificationError(f"{signature_path}: signature does not verify: the manifest was changed or "
                                f"signed by another key (not {key_id(key)})")
    try:
        manifest = orjson.loads(body)
        listed = [(str(f["name"]), int(f["bytes"]), str(f["sha256"])) for f in manifest["files"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:  # signed, yet not a manifest
        raise InputError(f"not a report manifest: {exc}", file=str(manifest_path)) from None
    directory = manifest_path.parent
    for name, size, digest in listed:
        if Path(name).name != name:
            raise InputError(f"names a file outside its directory: {name!r}", file=str(manifest_path))
        data = _read(directory / name)
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise VerificationError(f"{directory / name}: differs from the signed manifest "
                                    f"(sha256 {hashlib.sha256(data).hexdigest()[:16]}…, signed "
                                    f"{digest[:16]}…)")
    base = manifest_path.name.removesuffix(MANIFEST_SUFFIX)
    _check_sums(directory / f"{base}.sha256", {name: digest for name, _, digest in listed},
                str((manifest.get("scan_document") or {}).get("sha256")))
    known = {name for name, _, _ in listed} | {manifest_path.name, signature_path.name, f"{base}.sha256"}
    for extra in sorted(p.name for p in directory.iterdir() if p.name.startswith(base) and p.name not in known):
        if _same_set(extra, base):
            raise VerificationError(f"{directory / extra}: not in the signed manifest of {manifest_path.name}")
    return Verified(manifest_path, len(listed), key_id(key))


def _check_sums(path: Path, signed: dict[str, str], document_sha256: str) -> None:
    """The ``sha256sum -c`` list, when present, must say what the signed manifest says."""
    if not path.exists():
        return
    for line in _read(path).decode("utf-8", "replace").splitlines():
        digest, _, name = line.partition("  ")
        if signed.get(name, document_sha256 if name not in signed else None) != digest:
            raise VerificationError(f"{path}: differs from the signed manifest (line for {name[:80]!r})")


def _same_set(name: str, base: str) -> bool:
    """``base.html`` or ``base-volumes.csv`` belong to the set; ``base-2.html`` is the next set's."""
    rest = name[len(base):]
    return rest.startswith(".") or (rest.startswith("-") and not rest[1:2].isdigit())
