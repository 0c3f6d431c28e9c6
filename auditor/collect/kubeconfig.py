"""Kubeconfig files read as kubectl reads them, into one typed :class:`Connection` per context.

A live scan reaches its clusters without the Kubernetes package (its import costs 0.5 s and 14 MB before a
byte is read): this module reads the files, :mod:`auditor.collect.kubeclient` talks HTTP. Merging follows
kubectl: ``$KUBECONFIG`` names several files, missing ones are skipped, the first file to name a cluster, a
user or a context wins, and so does the first ``current-context``; ``--kubeconfig`` is one file that must exist.
Relative paths are relative to the file that holds them. Messages name the file, the context, the user and the
field, never a token, a password or a key.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from auditor import yamlsafe
from auditor.errors import ClusterAccessError, ConfigError

DEFAULT_KUBECONFIG = "~/.kube/config"
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
#: The cluster extension an exec plugin receives as ``spec.cluster.config`` (with ``provideClusterInfo``).
EXEC_EXTENSION = "client.authentication.k8s.io/exec"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class ExecPlugin:
    """A ``user.exec`` credential plugin (client.authentication.k8s.io v1 or v1beta1)."""

    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = field(repr=False)
    api_version: str
    interactive_mode: str
    provide_cluster_info: bool
    install_hint: str | None
    cluster_config: Any = field(default=None, repr=False)  # the cluster's exec extension


@dataclass(frozen=True)
class Connection:
    """How to reach one context's API server and who to be there; ``where`` names it in messages.
    Secret values are left out of ``repr`` (a traceback or a log line never shows them)."""

    where: str
    server: str
    ca_file: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    cert_file: str | None = None
    cert_data: bytes | None = field(default=None, repr=False)
    key_file: str | None = None
    key_data: bytes | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    exec: ExecPlugin | None = None
    auth_provider: str | None = None  # legacy oidc/gcp/azure: the Kubernetes package serves these

    def exec_cluster_info(self) -> dict[str, Any]:
        """``spec.cluster`` of the ExecCredential a plugin receives with ``provideClusterInfo``."""
        info: dict[str, Any] = {"server": self.server}
        if self.tls_server_name:
            info["tls-server-name"] = self.tls_server_name
        if self.insecure:
            info["insecure-skip-tls-verify"] = True
        ca = self.ca_data
        if ca is None and self.ca_file:
            try:
                ca = Path(self.ca_file).read_bytes()
            except OSError:
                ca = None
        if ca:
            info["certificate-authority-data"] = base64.b64encode(ca).decode()
        if self.proxy_url:
            info["proxy-url"] = self.proxy_url
        if self.exec is not None and self.exec.cluster_config is not None:
            info["config"] = self.exec.cluster_config
        return info


@dataclass(frozen=True)
class _Entry:
    """One named cluster, user or context, with the file it came from."""

    value: Mapping[str, Any]
    file: Path


@dataclass
class Kubeconfig:
    """The merged files: contexts in the order kubectl lists them, and the current one."""

    files: list[Path]
    clusters: dict[str, _Entry] = field(default_factory=dict)
    users: dict[str, _Entry] = field(default_factory=dict)
    contexts: dict[str, _Entry] = field(default_factory=dict)
    current_context: str | None = None

    @property
    def label(self) -> str:
        return ", ".join(map(str, self.files))

    def connection(self, name: str) -> Connection:
        """The context ``name`` resolved to its cluster and user; ClusterAccessError names what is wrong."""
        entry = self.contexts[name]
        where = f"kubeconfig {entry.file}, context {name}"
        ctx = entry.value
        cluster_name = _str(ctx, "cluster", where)
        if not cluster_name or cluster_name not in self.clusters:
            raise ClusterAccessError(f"{where}: cluster {cluster_name or '(none)'} is not defined in "
                                     f"{self.label}")
        user_name = _str(ctx, "user", where)
        if user_name and user_name not in self.users:
            raise ClusterAccessError(f"{where}: user {user_name} is not defined in {self.label}")
        cluster = self.clusters[cluster_name]
        fields = _cluster_fields(cluster.value, cluster.file, f"kubeconfig {cluster.file}, cluster {cluster_name}")
        if user_name:
            user = self.users[user_name]
            fields.update(_user_fields(user.value, user.file, f"kubeconfig {user.file}, context {name}, "
                                                              f"user {user_name}", cluster.value))
        return Connection(where=f"{where}{f', user {user_name}' if user_name else ''}", **fields)


def kubeconfig_files(explicit: str | None) -> tuple[list[Path], bool]:
    """The files to read and whether they must exist (``--kubeconfig``), else ``$KUBECONFIG``'s, else the default."""
    if explicit:
        return [Path(explicit).expanduser()], True
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p], False
    return [Path(DEFAULT_KUBECONFIG).expanduser()], True


def load_kubeconfig(explicit: str | None = None) -> Kubeconfig:
    """The merged kubeconfig; ConfigError names the file and the entry that cannot be read."""
    paths, required = kubeconfig_files(explicit)
    config = Kubeconfig(files=[])
    for path in paths:
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            if required:
                raise ConfigError(f"kubeconfig {path}: no such file") from None
            continue  # kubectl skips the files of $KUBECONFIG that do not exist
        except OSError as exc:
            raise ConfigError(f"kubeconfig {path}: cannot be read ({exc.strerror or exc})") from None
        config.files.append(path)
        _merge(config, _parse(text, path), path)
    if not config.files:
        raise ConfigError(f"no kubeconfig found: none of {', '.join(map(str, paths))} exists")
    return config


def _parse(text: bytes, path: Path) -> Mapping[str, Any]:
    try:
        docs = yamlsafe.load_all(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"kubeconfig {path}: not valid YAML{at}") from None
    data = docs[0] if docs else None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {path}: a {type(data).__name__}, not a mapping")
    return data


def _merge(config: Kubeconfig, data: Mapping[str, Any], path: Path) -> None:
    for section, key, target in (("clusters", "cluster", config.clusters), ("users", "user", config.users),
                                 ("contexts", "context", config.contexts)):
        items = data.get(section) or []
        if not isinstance(items, list):
            raise ConfigError(f"kubeconfig {path}: {section} is a {type(items).__name__}, not a list")
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            body = item.get(key) if isinstance(item, dict) else None
            if not isinstance(name, str) or not name:
                raise ConfigError(f"kubeconfig {path}: {section}[{i}] has no name")
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise ConfigError(f"kubeconfig {path}: {section}[{i}] ({name}): {key} is not a mapping")
            target.setdefault(name, _Entry(body, path))  # the first file to name it wins
    current = data.get("current-context")
    if current and config.current_context is None:
        if not isinstance(current, str):
            raise ConfigError(f"kubeconfig {path}: current-context is not a string")
        config.current_context = current


# --- fields -----------------------------------------------------------------------------------------------

def _str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ClusterAccessError(f"{where}: {key} is a {type(value).__name__}, not a string")
    return value


def _bool(obj: Mapping[str, Any], key: str, where: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise ClusterAccessError(f"{where}: {key} is not true or false")
    return value


def _b64(obj: Mapping[str, Any], key: str, where: str) -> bytes | None:
    value = _str(obj, key, where)
    if value is None:
        return None
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ClusterAccessError(f"{where}: {key} is not valid base64") from None


def _file(obj: Mapping[str, Any], key: str, base: Path, where: str) -> str | None:
    """A file the kubeconfig names, relative to the kubeconfig's folder, checked to be readable now."""
    value = _str(obj, key, where)
    if value is None:
        return None
    path = (base.parent / Path(value).expanduser()) if not Path(value).expanduser().is_absolute() \
        else Path(value).expanduser()
    if not os.access(path, os.R_OK) or not path.is_file():
        raise ClusterAccessError(f"{where}: {key} {path}: no such file or not readable")
    return str(path)


def _cluster_fields(cluster: Mapping[str, Any], file: Path, where: str) -> dict[str, Any]:
    server = _str(cluster, "server", where)
    if not server:
        raise ClusterAccessError(f"{where}: server is not set")
    if not server.startswith(("https://", "http://")):
        server = "https://" + server
    return {"server": server.rstrip("/"),
            "ca_file": _file(cluster, "certificate-authority", file, where),
            "ca_data": _b64(cluster, "certificate-authority-data", where),
            "insecure": _bool(cluster, "insecure-skip-tls-verify", where),
            "tls_server_name": _str(cluster, "tls-server-name", where),
            "proxy_url": _str(cluster, "proxy-url", where)}


def _user_fields(user: Mapping[str, Any], file: Path, where: str, cluster: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "token": _str(user, "token", where),
        "token_file": _file(user, "tokenFile", file, where),
        "cert_file": _file(user, "client-certificate", file, where),
        "cert_data": _b64(user, "client-certificate-data", where),
        "key_file": _file(user, "client-key", file, where),
        "key_data": _b64(user, "client-key-data", where),
        "username": _str(user, "username", where),
        "password": _str(user, "password", where),
    }
    has_cert = fields["cert_file"] is not None or fields["cert_data"] is not None
    has_key = fields["key_file"] is not None or fields["key_data"] is not None
    if has_cert != has_key:
        missing = "client-key (or client-key-data)" if has_cert else "client-certificate (or client-certificate-data)"
        raise ClusterAccessError(f"{where}: {missing} is not set; a client certificate needs both")
    provider = user.get("auth-provider")
    if provider is not None:
        name = provider.get("name") if isinstance(provider, dict) else None
        fields["auth_provider"] = str(name or "unnamed")
    exec_ = user.get("exec")
    if exec_ is not None:
        if not isinstance(exec_, dict):
            raise ClusterAccessError(f"{where}: exec is not a mapping")
        fields["exec"] = _exec_plugin(exec_, file, f"{where}, exec", cluster)
    return fields


def _exec_plugin(spec: Mapping[str, Any], file: Path, where: str, cluster: Mapping[str, Any]) -> ExecPlugin:
    command = _str(spec, "command", where)
    if not command:
        raise ClusterAccessError(f"{where}: command is not set")
    if os.sep in command and not Path(command).is_absolute():
        command = str(file.parent / command)  # as kubectl: a relative path is the kubeconfig's folder's
    api_version = _str(spec, "apiVersion", where)
    if api_version not in EXEC_API_VERSIONS:
        raise ClusterAccessError(f"{where}: apiVersion {api_version or '(none)'} is not supported "
                                 f"(use {' or '.join(EXEC_API_VERSIONS)})")
    mode = _str(spec, "interactiveMode", where)
    if mode is None:
        if api_version.endswith("/v1"):
            raise ClusterAccessError(f"{where}: interactiveMode must be set with {api_version}")
        mode = "IfAvailable"
    if mode not in INTERACTIVE_MODES:
        raise ClusterAccessError(f"{where}: interactiveMode {mode} is not one of {', '.join(INTERACTIVE_MODES)}")
    args = spec.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ClusterAccessError(f"{where}: args is not a list of strings")
    env: list[tuple[str, str]] = []
    for i, item in enumerate(spec.get("env") or []):
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("value"), str)):
            raise ClusterAccessError(f"{where}: env[{i}] needs a name and a string value")
        env.append((item["name"], item["value"]))
    extension = None
    for ext in cluster.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == EXEC_EXTENSION:
            extension = ext.get("extension")
    return ExecPlugin(command=command, args=tuple(args), env=tuple(env), api_version=api_version,
                      interactive_mode=mode, provide_cluster_info=_bool(spec, "provideClusterInfo", where),
                      install_hint=_str(spec, "installHint", where), cluster_config=extension)


def in_cluster_connection(environ: Mapping[str, str] | None = None, root: Path = SERVICE_ACCOUNT) -> Connection:
    """The pod's own API server: ``KUBERNETES_SERVICE_HOST``/``_PORT``, the service account's token (re-read
    when the kubelet rotates it) and CA. ConfigError when not inside a pod."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConfigError("not running inside a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                          "are not set")
    for name in ("token", "ca.crt"):
        path = root / name
        if not path.is_file() or not os.access(path, os.R_OK):
            raise ConfigError(f"not running inside a cluster: the service account's {path} is missing or "
                              "not readable")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    return Connection(where="in-cluster service account", server=f"https://{host}:{port}",
                      ca_file=str(root / "ca.crt"), token_file=str(root / "token"))
