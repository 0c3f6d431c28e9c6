"""Backup credentials: read their values only to fingerprint and classify them, then drop the values.

Only the backup system's own credential Secrets are ever read, each by name (:func:`credential_refs`:
Velero's ``velero-repo-credentials`` and the Secret its server mounts, Secrets named by a BSL/VSL
``spec.credential``, and the Secrets the other backup tools' objects name: repository passwords, backend
and encryption Secrets); no other Secret is listed or read. A fingerprint is an HMAC-SHA256 under a
per-installation key kept outside the reports, so the same credential gives the same fingerprint across
clusters of one installation and reveals nothing without the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from auditor.errors import ConfigError
from auditor.model import records as r

#: Annotation ``auditor snapshot`` writes on credential Secrets: fingerprints and classes, never values.
FINGERPRINT_ANNOTATION = "backup-auditor.io/fingerprints"
VELERO_DEFAULT_SECRETS = ("cloud-credentials", "velero-repo-credentials")
VELERO_DEFAULT_PASSWORD = b"static-passw0rd"
KEY_ENV = "AUDITOR_FINGERPRINT_KEY_FILE"


def default_key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "backup-auditor" / "fingerprint.key"


def load_installation_key(path: Path | None = None) -> bytes:
    """The fingerprint key: ``path``, ``$AUDITOR_FINGERPRINT_KEY_FILE``, or one created (0600) on first use."""
    path = path or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else default_key_path())
    try:
        if path.exists():
            key = path.read_bytes().strip()
            if len(key) < 16:
                raise ConfigError(f"fingerprint key {path} is shorter than 16 bytes")
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        key = binascii.hexlify(os.urandom(32))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key
    except OSError as exc:
        raise ConfigError(f"fingerprint key {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class SecretPolicy:
    """Whether credential values may be read, and the key that fingerprints them."""

    read_values: bool = True
    key: bytes | None = None

    @property
    def active(self) -> bool:
        return self.read_values and self.key is not None


_AWS_ID = re.compile(rb"aws_access_key_id\s*=\s*([A-Z0-9]{16,128})", re.IGNORECASE)
_AWS_SECRET = re.compile(rb"aws_secret_access_key\s*=\s*(\S+)", re.IGNORECASE)


def classify(key: str, value: bytes) -> tuple[str, bytes]:
    """(class, identity bytes to fingerprint). The identity is the credential itself, not its formatting."""
    if value.strip() == VELERO_DEFAULT_PASSWORD:
        return "repository-password-default", value.strip()
    ids = _AWS_ID.findall(value)
    if ids:
        secrets = _AWS_SECRET.findall(value)
        kind = "aws-temporary" if ids[0].upper().startswith(b"ASIA") else "aws-static"
        return kind, ids[0] + b":" + (secrets[0] if secrets else b"")
    if b"service_account" in value and b"private_key" in value:
        try:
            doc = json.loads(value)
            return "gcp-service-account", f"{doc.get('client_email')}:{doc.get('private_key_id')}".encode()
        except (ValueError, AttributeError):
            return "gcp-service-account", value.strip()
    if b"AZURE_CLIENT_SECRET" in value:
        return "azure-client-secret", value.strip()
    if "password" in key.lower() or key in ("RESTIC_PASSWORD", "repository-password"):
        return "repository-password", value.strip()
    return "unknown", value.strip()


def fingerprint(key: bytes, identity: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, identity, hashlib.sha256).hexdigest()[:32]


def decode(data: dict[str, Any]) -> dict[str, bytes]:
    """A Secret's ``data`` (base64) as bytes; undecodable values are skipped."""
    out = {}
    for k, v in data.items():
        if isinstance(v, str) and v:
            try:
                out[k] = base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                continue
    return out


def from_annotation(secret: r.Secret) -> r.Secret:
    """Fingerprints carried by a dump that ``auditor snapshot`` wrote (no values in it)."""
    text = secret.meta.annotations.get(FINGERPRINT_ANNOTATION)
    if not text:
        return secret
    try:
        doc = json.loads(text)
        fps = {k: str(v["fingerprint"]) for k, v in doc.items()}
        classes = {k: str(v["class"]) for k, v in doc.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return secret
    return msgspec.structs.replace(secret, fingerprints=fps, classes=classes)


Fingerprints = tuple[dict[str, str], dict[str, str]]  # (key -> fingerprint, key -> class)


def fingerprint_data(data: Any, key: bytes) -> Fingerprints:
    """Fingerprint and classify every value of a Secret's ``data``; the decoded values go out of scope here."""
    fps, classes = {}, {}
    for name, value in decode(data if isinstance(data, dict) else {}).items():
        cls, identity = classify(name, value)
        fps[name], classes[name] = fingerprint(key, identity), cls
    return fps, classes


def annotation_for(secret: r.Secret) -> str:
    return json.dumps({k: {"fingerprint": secret.fingerprints[k], "class": secret.classes.get(k, "unknown")}
                       for k in sorted(secret.fingerprints)}, sort_keys=True)


def finish_secrets(records: list[r.Secret], refs: Iterable[tuple[str, str]],
                   computed: dict[tuple[str, str], Fingerprints], policy: SecretPolicy) -> list[r.Secret]:
    """The credential Secrets only (a dump may hold others: a live scan never reads them), with their
    fingerprints (computed from values, or a dump's annotation)."""
    wanted = set(refs)
    out = []
    for secret in records:
        key = (secret.meta.namespace or "", secret.meta.name)
        if key not in wanted:
            continue
        if policy.read_values:
            if computed.get(key, ({}, {}))[0]:  # a dump written by `auditor snapshot` has keys, no values
                fps, classes = computed[key]
                secret = msgspec.structs.replace(secret, fingerprints=fps, classes=classes)
            else:
                secret = from_annotation(secret)
        out.append(secret)
    computed.clear()
    return out


#: Values that say where a credential is, not what it is: a path, a file URL, a $(VAR) reference, a
#: URL without user information, a boolean. ``GOOGLE_APPLICATION_CREDENTIALS=/credentials/cloud`` is one.
_REFERENCE_VALUE = re.compile(r"^(/|\./|\.\./|~/|file:|\$\(|[a-z][a-z0-9+.-]*://[^/@\s]*(/\S*)?$)", re.IGNORECASE)
_FLAG_VALUES = frozenset({"true", "false", "yes", "no", "on", "off", "enabled", "disabled"})
#: Values that are credentials whatever the variable is called.
_CREDENTIAL_VALUE = re.compile(r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|\"private_key\"\s*:|"
                               r"://[^/\s:@]+:[^/\s@]+@)")


def env_value_kind(value: object) -> str:
    """``credential``, ``reference`` or ``text``: judged from the value, which is then dropped."""
    text = value if isinstance(value, str) else str(value)
    if _CREDENTIAL_VALUE.search(text):
        return "credential"
    if _REFERENCE_VALUE.match(text.strip()) or text.strip().lower() in _FLAG_VALUES:
        return "reference"
    return "text"
