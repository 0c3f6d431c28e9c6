"""Kubeconfigs and exec credential plugins for the client tests: written files, never the user's."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import yaml

V1 = "client.authentication.k8s.io/v1"

#: A plugin: prints an ExecCredential whose token is PREFIX + the number of its runs (counted in a file beside
#: it), with the expiry, certificate or output its settings file asks for, and records what it was given.
PLUGIN = r'''
import json, os, sys
from datetime import datetime, timedelta, timezone
here = os.path.dirname(os.path.abspath(__file__))
settings = json.load(open(os.path.join(here, "settings.json")))
runs_file = os.path.join(here, "runs")
runs = int(open(runs_file).read()) + 1 if os.path.exists(runs_file) else 1
open(runs_file, "w").write(str(runs))
with open(os.path.join(here, f"seen-{runs}.json"), "w") as f:
    json.dump({"args": sys.argv[1:], "env": os.environ.get("PLUGIN_ENV"),
               "info": json.loads(os.environ.get("KUBERNETES_EXEC_INFO", "null")),
               "stdin_tty": sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()}, f)
if settings.get("exit"):
    sys.stderr.write("plugin: giving up\n")
    sys.exit(settings["exit"])
if settings.get("raw") is not None:
    sys.stdout.write(settings["raw"])
    sys.exit(0)
status = {}
if settings.get("token", True):
    status["token"] = settings.get("prefix", "exec-token-") + str(runs)
if settings.get("cert"):
    status["clientCertificateData"] = open(settings["cert"]).read()
    status["clientKeyData"] = open(settings["key"]).read()
if settings.get("expires_in") is not None:
    at = datetime.now(timezone.utc) + timedelta(seconds=settings["expires_in"])
    status["expirationTimestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
print(json.dumps({"apiVersion": settings.get("answer_version", os.environ.get("PLUGIN_VERSION")),
                  "kind": "ExecCredential", "status": status}))
'''


class Plugin:
    """A plugin script in its own folder; ``settings`` changes what its next run answers."""

    def __init__(self, folder: Path, api_version: str = V1, **settings: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = folder / "plugin.py"
        self.path.write_text(f"#!{sys.executable}\n{PLUGIN}")
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR)
        self.api_version = api_version
        self.set(**settings)

    def set(self, **settings: Any) -> None:
        (self.folder / "settings.json").write_text(json.dumps(settings))

    @property
    def runs(self) -> int:
        runs = self.folder / "runs"
        return int(runs.read_text()) if runs.exists() else 0

    def seen(self, run: int) -> dict[str, Any]:
        return dict(json.loads((self.folder / f"seen-{run}.json").read_text()))

    def exec_config(self, **extra: Any) -> dict[str, Any]:
        return {"apiVersion": self.api_version, "command": str(self.path), "args": ["--flag", "value"],
                "env": [{"name": "PLUGIN_ENV", "value": "from-kubeconfig"},
                        {"name": "PLUGIN_VERSION", "value": self.api_version}],
                "interactiveMode": "Never", **extra}


def kubeconfig(path: Path, contexts: dict[str, tuple[dict[str, Any], dict[str, Any]]],
               current: str | None = None) -> Path:
    """A kubeconfig file with one cluster and one user per context: name -> (cluster, user)."""
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    if current:
        doc["current-context"] = current
    for name, (cluster, user) in contexts.items():
        doc["clusters"].append({"name": f"{name}-cluster", "cluster": cluster})
        doc["users"].append({"name": f"{name}-user", "user": user})
        doc["contexts"].append({"name": name, "context": {"cluster": f"{name}-cluster", "user": f"{name}-user"}})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    os.chmod(path, 0o600)
    return path
