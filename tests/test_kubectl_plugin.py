"""``kubectl backup-auditor``: the real kubectl finds the package's plugin script on PATH and runs it against
the Kubernetes API test server with kubectl's habits (--kubeconfig, --context, -n, -A); shell completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from auditor.cli.kubectl import plugin_args
from tests.kubeapi import KubeAPIServer

BIN = os.path.dirname(sys.executable)
KUBECTL = shutil.which("kubectl", path=BIN + os.pathsep + os.environ.get("PATH", ""))
PLUGIN = shutil.which("kubectl-backup_auditor", path=BIN)
TESTDATA = Path(__file__).parent / "kubeapi" / "testdata"

pytestmark = pytest.mark.skipif(KUBECTL is None or PLUGIN is None,
                                reason="kubectl or the installed plugin script not found next to the interpreter")


@pytest.fixture(scope="module")
def server(kube_api_session: KubeAPIServer) -> KubeAPIServer:
    kube_api_session.seed_dir(TESTDATA)
    return kube_api_session


def kubeconfig(server: KubeAPIServer, tmp: Path) -> Path:
    """Two contexts on the one server: ``lab`` (current, namespace app-a) and ``other``."""
    data = server.kubeconfig_dict("lab", namespace="app-a")
    data["contexts"].append({"name": "other", "context": {"cluster": "lab", "user": "lab", "namespace": "app-b"}})
    path = tmp / "kubeconfig"
    path.write_text(yaml.safe_dump(data))
    return path


def kubectl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    environ = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), **(env or {})}
    return subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=300, env=environ, check=False)


@pytest.mark.slow
def test_kubectl_lists_and_runs_the_plugin(server: KubeAPIServer, tmp_path: Path) -> None:
    config = kubeconfig(server, tmp_path)
    listed = kubectl("plugin", "list")
    assert "kubectl-backup_auditor" in listed.stdout, listed.stdout + listed.stderr
    whole = kubectl("backup-auditor", "scan", "--kubeconfig", str(config), "-A", "-o", "json")
    assert whole.returncode == 0, whole.stderr
    doc = json.loads(whole.stdout)
    assert [c["name"] for c in doc["clusters"]] == ["lab"]
    namespaces = {v["namespace"] for v in doc["volumes"]}
    assert {"app-a", "app-b"} <= namespaces
    # kubectl habits before the subcommand: --context, --kubeconfig, -n
    narrowed = kubectl("backup-auditor", "--kubeconfig", str(config), "--context", "other", "-n", "app-b",
                       "scan", "-o", "json")
    assert narrowed.returncode == 0, narrowed.stderr
    doc = json.loads(narrowed.stdout)
    assert [c["name"] for c in doc["clusters"]] == ["other"]
    assert doc["volumes"] and {v["namespace"] for v in doc["volumes"]} == {"app-b"}
    assert doc["summary"]["filtered"]["namespaces"] == ["app-b"]
    # KUBECONFIG as kubectl reads it
    env = kubectl("backup-auditor", "scan", "--namespace=app-a", "-o", "json", env={"KUBECONFIG": str(config)})
    assert env.returncode == 0, env.stderr
    assert {v["namespace"] for v in json.loads(env.stdout)["volumes"]} == {"app-a"}
    help_text = kubectl("backup-auditor", "--help").stdout
    assert "kubectl backup-auditor" in help_text and "scan" in help_text


def test_plugin_args_move_kubectl_flags_after_the_command() -> None:
    assert plugin_args(["-n", "shop", "--context=prod", "scan", "-o", "json"]) == \
        ["scan", "-o", "json", "-n", "shop", "--context=prod"]
    assert plugin_args(["-A", "--kubeconfig", "k", "explain", "pvc", "a/b"]) == \
        ["explain", "pvc", "a/b", "-A", "--kubeconfig", "k"]
    assert plugin_args(["scan", "-n", "shop"]) == ["scan", "-n", "shop"]
    assert plugin_args(["--help"]) == ["--help"]


def test_bash_completion_of_contexts_and_namespaces(tmp_path: Path, server: KubeAPIServer) -> None:
    config = kubeconfig(server, tmp_path)
    auditor = shutil.which("auditor", path=BIN)
    bash = shutil.which("bash")
    assert auditor is not None and bash is not None
    script = subprocess.run([auditor, "completion", "bash"], capture_output=True, text=True, check=True).stdout
    (tmp_path / "completion.bash").write_text(script)

    def complete(*words: str) -> list[str]:
        shell = (f"source {tmp_path / 'completion.bash'}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
                 f"COMP_CWORD={len(words) - 1}; _auditor_completion auditor; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), "KUBECONFIG": str(config)}
        out = subprocess.run([bash, "-c", shell], capture_output=True, text=True, env=env, timeout=60, check=True)
        return [line for line in out.stdout.splitlines() if line]

    assert complete("auditor", "scan", "--context", "") == ["lab", "other"]
    assert complete("auditor", "scan", "--context", "o") == ["other"]
    assert complete("auditor", "scan", "-n", "") == ["app-a", "app-b"]
    assert complete("auditor", "scan", "--context", "other", "-n", "") == ["app-b"]
    assert complete("auditor", "scan", "--kubeconfig", str(tmp_path / "missing"), "--context", "") == []
    assert "scan" in complete("auditor", "sc")
    for shell in ("zsh", "fish"):
        text = subprocess.run([auditor, "completion", shell], capture_output=True, text=True, check=True).stdout
        assert "_AUDITOR_COMPLETE" in text and "auditor" in text


def test_krew_manifest_and_its_archive(tmp_path: Path) -> None:
    import hashlib
    import tarfile

    root = Path(__file__).resolve().parents[1]
    manifest = yaml.safe_load((root / "deploy" / "krew" / "backup-auditor.yaml").read_text())
    assert manifest["kind"] == "Plugin" and manifest["metadata"]["name"] == "backup-auditor"
    [platform] = manifest["spec"]["platforms"]
    assert platform["bin"] == "kubectl-backup_auditor"  # the name kubectl looks up for `backup-auditor`
    check = subprocess.run([sys.executable, str(root / "deploy" / "krew" / "package.py"), "--check"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    from auditor import __version__

    assert manifest["spec"]["version"] == f"v{__version__}" and platform["uri"].endswith(f"v{__version__}.tar.gz")
    sys.path.insert(0, str(root / "deploy" / "krew"))
    try:
        import package  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    data = package.archive_bytes()
    assert hashlib.sha256(data).hexdigest() == platform["sha256"] and package.archive_bytes() == data
    archive = tmp_path / "plugin.tar.gz"
    archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted(f["from"] for f in platform["files"])
        tar.extractall(tmp_path / "krew", filter="data")
    # kubectl finds the extracted launcher (krew's bin dir) and it runs the installed package
    env = {"PATH": str(tmp_path / "krew") + os.pathsep + "/usr/bin:/bin", "BACKUP_AUDITOR_PYTHON": sys.executable}
    assert KUBECTL is not None
    out = subprocess.run([KUBECTL, "backup-auditor", "version"], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"backup-auditor {__version__}"


def test_kubectl_completes_the_plugin(server: KubeAPIServer, tmp_path: Path) -> None:
    """kubectl (1.26+) completes `kubectl backup-auditor ...` through kubectl_complete-backup_auditor."""
    config = kubeconfig(server, tmp_path)

    def complete(*words: str) -> tuple[list[str], str]:
        out = kubectl("__complete", "backup-auditor", *words, env={"KUBECONFIG": str(config)})
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        return [line.split("\t")[0] for line in lines[:-1]], lines[-1]

    assert complete("scan", "--context", "") == (["lab", "other"], ":4")
    assert complete("--context", "other", "-n", "") == (["app-b"], ":4")
    commands, directive = complete("s")
    assert commands == ["scan", "serve", "snapshot"] and directive == ":4"
    assert complete("-n", "app-a", "sc")[0] == ["scan"]
    files = complete("scan", "--kubeconfig", "")
    assert files[1] == ":0"  # a file name: the shell completes files


def test_live_progress_only_on_a_terminal(server: KubeAPIServer, tmp_path: Path) -> None:
    """A live scan draws its progress line when stdout and stderr are a terminal, and nothing in pipes."""
    import pty
    import select

    config = kubeconfig(server, tmp_path)
    auditor = shutil.which("auditor", path=BIN)
    assert auditor is not None
    piped = subprocess.run([auditor, "scan", "--kubeconfig", str(config), "-o", "json"], capture_output=True,
                           text=True, timeout=300, check=False)
    assert piped.returncode == 0 and piped.stderr == ""
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "40"}
    proc = subprocess.Popen([auditor, "scan", "--kubeconfig", str(config)], stdin=subprocess.DEVNULL,
                            stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    seen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 300)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 0
    text = seen.decode(errors="replace")
    assert "reading " in text and "page 1" in text and "kinds read" in text
    assert "Volumes audited" in text  # the table followed on the same terminal
