"""Shared pytest configuration."""

import os
import tempfile
from pathlib import Path

# One fingerprint key per test session (never the user's own), inherited by CLI subprocesses.
if "AUDITOR_FINGERPRINT_KEY_FILE" not in os.environ:
    _key = Path(tempfile.mkdtemp(prefix="auditor-key-")) / "fingerprint.key"
    _key.write_text("test-installation-key-0123456789abcdef")
    os.environ["AUDITOR_FINGERPRINT_KEY_FILE"] = str(_key)

pytest_plugins = ["tests.kubeapi.fixtures", "tests.store.pg_fixture"]
