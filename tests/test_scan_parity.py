"""Scan documents are byte-identical to the recorded ones: a refactor or a faster decoder changes no verdict.

Each case runs the CLI in a subprocess, as a user would, and compares its stdout with a file under
``tests/golden/``. Only what says *how* a cluster was read is normalised: the checkout's path, the temporary
directory and the API server's port (in ``source``). Everything else (verdicts, reasons, findings, evidence,
fingerprints, key order, indentation) must match byte for byte.

When a change is meant to alter the output, regenerate with ``scripts/regen-golden`` in its own commit and
say in the message what changed and why.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from auditor import demo
from tests.bench_generator import generate
from tests.kubeapi.seeding import read_file
from tests.kubeapi.server import KubeAPIServer

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
REGENERATE = os.environ.get("AUDITOR_REGEN_GOLDEN") == "1"
AS_OF = "2026-11-20T12:00:00Z"
FINGERPRINT_KEY = b"parity-test-fingerprint-key-0123456789abcdef"
GENERATED_COUNTS = {"namespaces": 12, "pvcs": 90, "pods": 160, "schedules": 5, "backups": 120, "pvbs": 150,
                    "nodes": 4}


def _cli(*args: str, cwd: Path = ROOT) -> str:
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb", "AUDITOR_STORE": ""}
    run = subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=300,
                         cwd=cwd, env=env)
    assert run.returncode in (0, 1, 3), f"exit {run.returncode}: {run.stderr[-2000:]}"
    return run.stdout


def _normalise(text: str, tmp: Path, port: int | None = None) -> str:
    text = text.replace(str(ROOT), "<ROOT>").replace(str(tmp), "<TMP>")
    if port is not None:
        text = re.sub(rf"(127\.0\.0\.1|localhost):{port}\b", "<API>", text)
    return text


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(actual)
        return
    assert path.exists(), f"{path} is missing: run scripts/regen-golden"
    expected = path.read_text()
    if actual != expected:
        a, b = actual.splitlines(), expected.splitlines()
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        pytest.fail(f"{name} differs from the recorded document at line {first + 1}:\n"
                    f"  recorded: {b[first] if first < len(b) else '<end>'}\n"
                    f"  now:      {a[first] if first < len(a) else '<end>'}\n"
                    f"({len(b)} recorded lines, {len(a)} now)")


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "fingerprint.key"
    path.write_bytes(FINGERPRINT_KEY)
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cluster from the benchmark's generator: the real shapes (managedFields, long annotations)."""
    return generate(tmp_path_factory.mktemp("generated") / "generated", GENERATED_COUNTS, seed=7, as_of=AS_OF)


@pytest.mark.parametrize("output", ["json", "table", "wide"])
def test_demo_output_is_unchanged(output: str, tmp_path: Path) -> None:
    _compare(f"demo.{output}", _normalise(_cli("demo", "-o", output), tmp_path))


DUMPS = {
    "demo-prod": (demo.CLUSTER_DIRS[demo.CLUSTER_NAME], ("--velero-catalog", str(demo.CATALOG_DIR))),
    "demo-staging": (demo.CLUSTER_DIRS[demo.STAGING_NAME], ()),
    "kubeapi-testdata": (ROOT / "tests" / "kubeapi" / "testdata", ()),
}


@pytest.mark.parametrize("name", sorted(DUMPS))
def test_dump_scan_document_is_unchanged(name: str, key_file: Path, tmp_path: Path) -> None:
    directory, extra = DUMPS[name]
    out = _cli("scan", "--snapshot", str(directory), "--as-of", AS_OF, "--fingerprint-key-file", str(key_file),
               "--config", str(demo.CONFIG_FILE), *extra, "-o", "json")
    _compare(f"dump-{name}.json", _normalise(out, tmp_path))


def test_generated_dump_scan_document_is_unchanged(generated: Path, key_file: Path, tmp_path: Path) -> None:
    out = _cli("scan", "--snapshot", str(generated), "--as-of", AS_OF, "--fingerprint-key-file", str(key_file),
               "-o", "json")
    _compare("dump-generated.json", _normalise(out.replace(str(generated), "<GENERATED>"), tmp_path))


def _objects(directory: Path) -> Iterator[dict[str, object]]:
    for path in sorted([*directory.glob("*.json"), *directory.glob("*.yaml")]):
        if not path.name.startswith("."):
            yield from read_file(path)


@pytest.mark.parametrize("source", ["demo-prod", "generated"])
def test_live_scan_document_is_unchanged(source: str, generated: Path, key_file: Path, tmp_path: Path) -> None:
    """The same clusters served by the API test server (small pages, so continue tokens are exercised)."""
    directory = demo.CLUSTER_DIRS[demo.CLUSTER_NAME] if source == "demo-prod" else generated
    with KubeAPIServer(builtin_namespaces=False) as server:
        server.seed(_objects(directory))
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", context=source)
        out = _cli("scan", "--kubeconfig", str(kubeconfig), "--context", source, "--as-of", AS_OF,
                   "--fingerprint-key-file", str(key_file), "-o", "json")
        _compare(f"live-{source}.json", _normalise(out, tmp_path, server.port))


# --- Several clusters read at once (--parallel): the same document as one at a time, byte for byte.

@pytest.fixture(scope="module")
def generated_fleet(tmp_path_factory: pytest.TempPathFactory, generated: Path) -> list[Path]:
    """Three more generated clusters: a larger one first (it finishes last), then two small ones."""
    root = tmp_path_factory.mktemp("fleet")
    return [generate(root / name, {k: v * scale for k, v in GENERATED_COUNTS.items()}, seed=seed, as_of=AS_OF)
            for name, seed, scale in (("gen-large", 11, 4), ("gen-small-a", 12, 1), ("gen-small-b", 13, 1))]


def test_parallel_dump_scan_is_the_sequential_document(generated_fleet: list[Path], generated: Path,
                                                       key_file: Path, tmp_path: Path) -> None:
    """The demo's two clusters and four generated dumps in one run: --parallel 1, 4 and the default print the
    same document (clusters in the order given, not the order they finished)."""
    dumps = [*generated_fleet, demo.CLUSTER_DIRS[demo.CLUSTER_NAME], generated, demo.CLUSTER_DIRS[demo.STAGING_NAME]]
    args = ["scan", *(a for d in dumps for a in ("--snapshot", str(d))), "--as-of", AS_OF,
            "--velero-catalog", f"{demo.CLUSTER_NAME}={demo.CATALOG_DIR}", "--config", str(demo.CONFIG_FILE),
            "--fingerprint-key-file", str(key_file), "-o", "json"]
    sequential = _cli(*args, "--parallel", "1")
    names = [c["name"] for c in json.loads(sequential)["clusters"]]
    assert names == ["gen-large", "gen-small-a", "gen-small-b", demo.CLUSTER_NAME, "generated",
                         demo.STAGING_NAME], names
    assert _cli(*args, "--parallel", "4") == sequential
    assert _cli(*args) == sequential
    # the table too (it is what a person compares)
    table = [a if a != "json" else "table" for a in args]
    assert _cli(*table, "--parallel", "4") == _cli(*table, "--parallel", "1")


def test_parallel_live_scan_is_the_sequential_document(generated: Path, key_file: Path, tmp_path: Path) -> None:
    """Three API servers (the demo's two clusters and a generated one), three contexts: --parallel 3 prints the
    document --parallel 1 prints."""
    sources = {demo.CLUSTER_NAME: demo.CLUSTER_DIRS[demo.CLUSTER_NAME], "generated": generated,
               demo.STAGING_NAME: demo.CLUSTER_DIRS[demo.STAGING_NAME]}
    servers = []
    try:
        config: dict[str, list[object]] = {"clusters": [], "users": [], "contexts": []}
        for name, directory in sources.items():
            server = KubeAPIServer(builtin_namespaces=False).start()
            servers.append(server)
            server.seed(_objects(directory))
            part = server.kubeconfig_dict(name)
            for key in config:
                config[key] += part[key]
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", **config,
                                              "current-context": demo.CLUSTER_NAME}))
        args = ["scan", "--kubeconfig", str(kubeconfig), *(a for n in sources for a in ("--context", n)),
                "--as-of", AS_OF, "--fingerprint-key-file", str(key_file), "-o", "json"]
        sequential, concurrent = _cli(*args, "--parallel", "1"), _cli(*args, "--parallel", "3")
        assert [c["name"] for c in json.loads(sequential)["clusters"]] == list(sources)
        assert concurrent == sequential
    finally:
        for server in servers:
            server.stop()
