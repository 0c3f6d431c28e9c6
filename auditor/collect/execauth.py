"""Exec credential plugins (``user.exec`` of a kubeconfig), run as kubectl runs them.

The plugin gets its ``args`` and ``env`` on top of ours, ``KUBERNETES_EXEC_INFO`` (an ExecCredential whose
``spec.interactive`` says whether it may prompt, and ``spec.cluster`` with ``provideClusterInfo``), and our
terminal as stdin only when it may prompt; its stderr is the user's. Its answer (an ExecCredential on stdout)
holds a token or a client certificate and key, kept until ``expirationTimestamp`` and fetched again when the
API server answers 401. Messages name the command and where it is configured, never what it printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from auditor.collect.kubeconfig import Connection, ExecPlugin
from auditor.errors import ClusterAccessError
from auditor.model.time import parse_time

#: Seconds a plugin that may not prompt has to answer (one that prompts waits for the user, as kubectl's).
EXEC_TIMEOUT = 300.0


@dataclass(frozen=True)
class Credential:
    """What a plugin returned; secret values are left out of ``repr``."""

    token: str | None = field(default=None, repr=False)
    cert_pem: bytes | None = field(default=None, repr=False)
    key_pem: bytes | None = field(default=None, repr=False)
    expires: float | None = None  # epoch seconds; None: until the API server refuses it


class ExecAuth:
    """One plugin's credential, cached and shared by the threads of one client."""

    def __init__(self, connection: Connection) -> None:
        assert connection.exec is not None
        self.plugin: ExecPlugin = connection.exec
        self.connection = connection
        self.where = f"{connection.where}, exec plugin {os.path.basename(self.plugin.command)}"
        self._lock = threading.Lock()
        self._cached: Credential | None = None

    def credential(self) -> Credential:
        """The cached credential while it has not expired, else a fresh one."""
        with self._lock:
            cached = self._cached
            if cached is None or (cached.expires is not None and time.time() >= cached.expires):
                self._cached = cached = self._run()
            return cached

    def refresh(self, refused: Credential) -> Credential:
        """A new credential after the API server refused ``refused`` (401); one run however many threads ask."""
        with self._lock:
            if self._cached is refused or self._cached is None:
                self._cached = self._run()
            return self._cached

    def _interactive(self) -> bool:
        mode = self.plugin.interactive_mode
        terminal = sys.stdin is not None and sys.stdin.isatty()
        if mode == "Always" and not terminal:
            raise ClusterAccessError(f"{self.where}: interactiveMode Always needs a terminal on standard input")
        return mode != "Never" and terminal

    def _run(self) -> Credential:
        plugin = self.plugin
        interactive = self._interactive()
        spec: dict[str, Any] = {"interactive": interactive}
        if plugin.provide_cluster_info:
            spec["cluster"] = self.connection.exec_cluster_info()
        info = {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}
        env = {**os.environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": orjson.dumps(info).decode()}
        if shutil.which(plugin.command, path=env.get("PATH")) is None:
            hint = f" ({plugin.install_hint.strip()})" if plugin.install_hint else ""
            raise ClusterAccessError(f"{self.where}: executable {plugin.command} not found{hint}")
        try:
            run = subprocess.run([plugin.command, *plugin.args], env=env, stdout=subprocess.PIPE, stderr=None,
                                 stdin=None if interactive else subprocess.DEVNULL, check=False,
                                 timeout=None if interactive else EXEC_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ClusterAccessError(f"{self.where}: no answer within {EXEC_TIMEOUT:g}s") from None
        except OSError as exc:
            raise ClusterAccessError(f"{self.where}: cannot be run ({exc.strerror or type(exc).__name__})") from None
        if run.returncode != 0:
            raise ClusterAccessError(f"{self.where}: exited with code {run.returncode}")
        return self._parse(run.stdout)

    def _parse(self, out: bytes) -> Credential:
        where = self.where
        try:
            doc = orjson.loads(out)
        except orjson.JSONDecodeError:
            raise ClusterAccessError(f"{where}: its output is not JSON (an ExecCredential was expected)") from None
        if not isinstance(doc, dict) or doc.get("kind") != "ExecCredential":
            raise ClusterAccessError(f"{where}: its output is not an ExecCredential")
        if doc.get("apiVersion") != self.plugin.api_version:
            raise ClusterAccessError(f"{where}: it answered apiVersion {doc.get('apiVersion')}, "
                                     f"{self.plugin.api_version} was asked for")
        status = doc.get("status")
        if not isinstance(status, dict):
            raise ClusterAccessError(f"{where}: its ExecCredential has no status")
        token, cert, key = (status.get(k) for k in ("token", "clientCertificateData", "clientKeyData"))
        if not all(v is None or isinstance(v, str) for v in (token, cert, key)):
            raise ClusterAccessError(f"{where}: status.token, clientCertificateData and clientKeyData must be "
                                     "strings")
        if bool(cert) != bool(key):
            raise ClusterAccessError(f"{where}: status has {'clientCertificateData' if cert else 'clientKeyData'} "
                                     "without its pair")
        if not token and not cert:
            raise ClusterAccessError(f"{where}: status has neither token nor clientCertificateData and "
                                     "clientKeyData")
        expires = None
        stamp = status.get("expirationTimestamp")
        if stamp is not None:
            try:
                expires = parse_time(str(stamp)).timestamp()
            except ValueError:
                raise ClusterAccessError(f"{where}: status.expirationTimestamp {str(stamp)[:40]!r} is not an "
                                         "RFC 3339 time") from None
        return Credential(token=token or None, cert_pem=cert.encode() if cert else None,
                          key_pem=key.encode() if key else None, expires=expires)
