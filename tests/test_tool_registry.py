"""The backup-tool registries are the only place tools are named: the generic code iterates them.

A throwaway tool ("tapes", ``tests/throwaway_tool.py``) registered in each layer's registry, and nowhere
else, has its kinds listed and read, its Secrets read by name, its coverage and recovery points counted and
its gaps making verdicts unknown, from a dump and from a live API.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.analyse.tools import TOOLS as ANALYSE_TOOLS
from auditor.collect.tools import TOOLS as COLLECT_TOOLS
from auditor.model.tools import TOOLS as MODEL_TOOLS
from tests.kubeapi.server import KubeAPIServer
from tests.throwaway_tool import GROUP, crds, objects

ROOT = Path(__file__).resolve().parents[1]
AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
#: Tools moved entirely into the registry: no module outside a ``tools`` package may name them.
REGISTERED_ONLY = ("k8up", "kubestash")


def _generic_modules() -> list[Path]:
    return [p for p in (ROOT / "auditor").rglob("*.py") if "tools" not in p.relative_to(ROOT / "auditor").parts]


def test_generic_modules_name_no_registered_tool() -> None:
    pattern = re.compile("|".join(REGISTERED_ONLY), re.IGNORECASE)
    named = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in _generic_modules()
             for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not named, "tools named outside the registries:\n" + "\n".join(named)


def test_every_tool_is_declared_in_each_layer_it_needs() -> None:
    collect = {t.name: t for t in COLLECT_TOOLS}
    analyse = {t.name for t in ANALYSE_TOOLS}
    assert {t.name for t in MODEL_TOOLS} <= set(collect) & analyse
    assert analyse <= set(collect), "a tool the analysis knows is read by the scan"
    for tool in ANALYSE_TOOLS:  # the resources its verdicts rest on are resources it reads
        resources = {k.resource for k in collect[tool.name].kinds}
        assert set(tool.volume_resources) | set(tool.namespace_resources) <= resources, tool.name
    for tool in MODEL_TOOLS:  # every record set has a kind that fills it
        assert {rs.field for rs in tool.record_sets} <= {k.field for k in collect[tool.name].kinds}, tool.name


def _scan(*args: str, tmp_path: Path) -> dict[str, Any]:
    key = tmp_path / "fingerprint.key"
    key.write_bytes(b"registry-test-fingerprint-key-0123456789")
    env = {**os.environ, "AUDITOR_STORE": "", "AUDITOR_FINGERPRINT_KEY_FILE": str(key), "NO_COLOR": "1"}
    run = subprocess.run([sys.executable, "-m", "tests.throwaway_tool", "scan", *args, "--cluster-name", "t",
                          "--as-of", AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ"), "-o", "json"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert run.returncode in (0, 1), run.stderr[-2000:]
    doc: dict[str, Any] = json.loads(run.stdout)
    return doc


def _assert_tapes_protect(doc: dict[str, Any]) -> None:
    [volume] = doc["volumes"]
    assert (volume["namespace"], volume["pvc"], volume["status"]) == ("shop", "data", "protected")
    assert volume["covered_by"] == ["tapes:shop/nightly"]
    assert [(p["tool"], p["source"]) for p in volume["recovery_points"]] == [("tapes", "TapeBackup shop/nightly-1")]
    assert volume["last_success"] == "2026-11-20T11:00:00Z"
    [credential] = doc["credentials"]
    assert (credential["name"], credential["tool"], credential["used_by"]) == (
        "tape-key", "tapes", ["TapeSchedule shop/nightly"])
    assert credential["fingerprint"].startswith("hmac-sha256:")


def test_a_registered_tool_is_read_from_a_dump_and_protects_its_volume(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects(AS_OF)}))
    _assert_tapes_protect(_scan("--snapshot", str(dump), tmp_path=tmp_path))


@pytest.fixture
def tapes_api() -> Any:
    with KubeAPIServer(builtin_namespaces=False) as server:
        for crd in crds():
            server.put_object(crd)
        server.seed(objects(AS_OF))
        yield server


def test_a_registered_tool_is_listed_live_and_its_secret_read_by_name(tapes_api: KubeAPIServer,
                                                                     tmp_path: Path) -> None:
    kubeconfig = tapes_api.write_kubeconfig(tmp_path / "kubeconfig")
    doc = _scan("--kubeconfig", str(kubeconfig), tmp_path=tmp_path)
    _assert_tapes_protect(doc)
    paths = {r.path for r in tapes_api.requests if r.method == "GET"}
    assert {f"/apis/{GROUP}/v1/tapeschedules", f"/apis/{GROUP}/v1/tapebackups"} <= paths
    assert "/api/v1/namespaces/shop/secrets/tape-key" in paths
    assert "/api/v1/secrets" not in paths and "/api/v1/namespaces/shop/secrets" not in paths


def test_an_unreadable_tool_resource_makes_the_verdict_unknown(tapes_api: KubeAPIServer, tmp_path: Path) -> None:
    tapes_api.add_fault(path_regex=f"^/apis/{re.escape(GROUP)}/v1/tapebackups", status=403)
    doc = _scan("--kubeconfig", str(tapes_api.write_kubeconfig(tmp_path / "kubeconfig")), tmp_path=tmp_path)
    [volume] = doc["volumes"]
    assert volume["status"] == "unknown"
    assert volume["covered_by"] == ["tapes:shop/nightly"]
    assert any(f"could not read tapebackups.{GROUP}" in reason for reason in volume["reasons"])
