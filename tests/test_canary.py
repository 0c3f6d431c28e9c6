"""The canary: a marker string planted in every backup credential never appears in any output.

Scans in every output format, `auditor snapshot`, and --debug logs are searched for the marker (plain and
base64). Fingerprints are computed from the values and the values are dropped.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import factories as f
from tests.checks.rule_fixtures import app, scheduled
from tests.kubeapi.server import KubeAPIServer

MARKER = "CANARY-7f3a9c1e-DO-NOT-LEAK"
FORMS = (MARKER, base64.b64encode(MARKER.encode()).decode()[:24])


def planted() -> list[Any]:
    aws = f.AWS_KEY.replace("wJalrXUtnFEMI/K7MDENG", MARKER)
    return [*scheduled(), *app("legacy"),
            f.secret("velero-repo-credentials", data={"repository-password": MARKER}),
            f.secret("cloud-credentials", data={"cloud": aws},
                     annotations={"kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                         {"data": {"cloud": base64.b64encode(aws.encode()).decode()}})}),
            f.secret("app-secret", ns="shop", data={"token": MARKER})]


def auditor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=180)


def assert_clean(text: str, where: str) -> None:
    for form in FORMS:
        assert form not in text, f"the canary leaked into {where}"


def test_canary_never_leaks(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": planted()}))
    as_of = "2026-11-20T12:00:00Z"
    outputs = []
    for fmt in ("table", "json"):
        run = auditor("--debug", "scan", "--snapshot", str(dump), "-o", fmt, "--as-of", as_of)
        assert run.returncode == 0, run.stderr
        outputs.append((f"scan -o {fmt} stdout", run.stdout))
        outputs.append((f"scan -o {fmt} --debug stderr", run.stderr))
    doc = json.loads(outputs[2][1])
    fingerprinted = [c for c in doc["credentials"] if c["fingerprint"]]
    assert fingerprinted, "credentials were read and fingerprinted"
    assert any(c["default_password"] is False and c["kind"] == "repository-password" for c in doc["credentials"])
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed(planted())
        kubeconfig = server.write_kubeconfig(tmp_path / "kc", context="live")
        run = auditor("--debug", "scan", "--kubeconfig", str(kubeconfig), "-o", "json", "--as-of", as_of)
        assert run.returncode == 0, run.stderr
        outputs += [("live scan stdout", run.stdout), ("live scan --debug stderr", run.stderr)]
        live_fps = {c["fingerprint"] for c in json.loads(run.stdout)["credentials"]}
        assert live_fps == {c["fingerprint"] for c in doc["credentials"]}, "same key, same fingerprints"
        snap = tmp_path / "snap"
        run = auditor("--debug", "snapshot", str(snap), "--kubeconfig", str(kubeconfig))
        assert run.returncode == 0, run.stderr
        outputs += [("snapshot stdout", run.stdout), ("snapshot --debug stderr", run.stderr)]
    for path in sorted(snap.rglob("*")):
        if path.is_file():
            outputs.append((str(path), path.read_text()))
    for where, text in outputs:
        assert_clean(text, where)


def test_no_secret_values_means_not_evaluated(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": planted()}))
    run = auditor("scan", "--snapshot", str(dump), "-o", "json", "--as-of", "2026-11-20T12:00:00Z",
                  "--no-secret-values")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert all(c["fingerprint"] is None for c in doc["credentials"])
    assert not any(x["rule_id"] in ("CRD-001", "CRD-002") for x in doc["findings"])
    assert doc["summary"]["checks"]["not-evaluated"] >= 2
