"""Credential classification and keyed fingerprints (values never kept)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from auditor.collect.secrets import classify, fingerprint, fingerprint_data, load_installation_key
from tests import factories as f


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("cloud", f.AWS_KEY, "aws-static"),
    ("cloud", f.AWS_KEY.replace("AKIA", "ASIA") + "aws_session_token = x\n", "aws-temporary"),
    ("cloud", json.dumps({"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----",
                          "client_email": "velero@p.iam.gserviceaccount.com", "private_key_id": "abc"}),
     "gcp-service-account"),
    ("cloud", "AZURE_SUBSCRIPTION_ID=s\nAZURE_CLIENT_ID=c\nAZURE_CLIENT_SECRET=x\n", "azure-client-secret"),
    ("repository-password", "static-passw0rd", "repository-password-default"),
    ("repository-password", "static-passw0rd\n", "repository-password-default"),
    ("RESTIC_PASSWORD", "correct horse battery", "repository-password"),
    ("ca.crt", "-----BEGIN CERTIFICATE-----", "unknown"),
])
def test_classify(key: str, value: str, expected: str) -> None:
    assert classify(key, value.encode())[0] == expected


def test_fingerprint_is_keyed_and_ignores_formatting() -> None:
    a = classify("cloud", f.AWS_KEY.encode())[1]
    b = classify("cloud", f.AWS_KEY.replace(" = ", "=").encode())[1]
    assert fingerprint(b"k1" * 10, a) == fingerprint(b"k1" * 10, b)
    assert fingerprint(b"k1" * 10, a) != fingerprint(b"k2" * 10, a)
    fps, classes = fingerprint_data({"cloud": "bm90IGJhc2U2NA==", "bad": "%%%"}, b"k" * 20)
    assert set(fps) == {"cloud"} and classes == {"cloud": "unknown"}
    assert all("not base64" not in v for v in fps.values())


def test_installation_key_is_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k" / "fingerprint.key"
    key = load_installation_key(path)
    assert len(key) == 64 and load_installation_key(path) == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
