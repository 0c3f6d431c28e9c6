"""An HTTP client of one Kubernetes API server on urllib3, configured from a :class:`Connection`.

It does what the project asked of ``kubernetes.client.ApiClient`` (a GET, a POST or a PATCH with a JSON body,
a watch stream) and no more, so a live scan never imports the Kubernetes package. Authentication, in
kubectl's order: a bearer token (``tokenFile`` re-read when it changes, as a rotated service account token
is), basic auth, an exec plugin (its token or client certificate; run again on 401, the request then repeated
once). TLS: the cluster's CA (file or data), ``tls-server-name``, ``insecure-skip-tls-verify``, a client
certificate (file or data); ``proxy-url`` (http, https; socks5 with PySocks installed), else the environment's
``HTTPS_PROXY``/``NO_PROXY`` as kubectl reads them.

``param_serialize`` and ``call_api`` take the arguments the project passes to ``ApiClient``'s, so the
executor, the watches and the Lease work on either client.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import os
import ssl
import tempfile
import threading
import warnings
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import orjson
import urllib3

from auditor.collect.execauth import Credential, ExecAuth
from auditor.collect.kubeconfig import Connection
from auditor.errors import ClusterAccessError

USER_AGENT = "backup-auditor"
#: Connections kept per host: the server's watches each hold one while the scans read.
POOL_SIZE = max(4, (os.cpu_count() or 1) * 5)

Timeout = float | tuple[float, float] | None


class Reply:
    """An answer as ``ApiClient.call_api`` gives it: ``status``, ``headers``, ``read()``, the urllib3 ``response``."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.response = response
        self.status = response.status
        self.headers = response.headers

    def read(self) -> bytes:
        return self.response.data


class KubeClient:
    """One API server, one identity; safe to share between threads."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.where = connection.where
        self.base = connection.server.rstrip("/")
        self._exec = ExecAuth(connection) if connection.exec is not None else None
        self._lock = threading.Lock()
        self._token_file: tuple[float, int, str] | None = None  # mtime, size, token
        self._pools: dict[tuple[bytes, bytes] | None, urllib3.PoolManager] = {}
        self._basic = None
        if connection.username is not None or connection.password is not None:
            pair = f"{connection.username or ''}:{connection.password or ''}".encode()
            self._basic = "Basic " + base64.b64encode(pair).decode()
        self._pool(None)  # the TLS settings are checked now: a bad CA or key is a clear error before any request

    def __repr__(self) -> str:
        return f"KubeClient({self.where}, {self.base})"

    # --- requests -------------------------------------------------------------------------------

    def request(self, method: str, path: str, query: Iterable[tuple[str, Any]] | None = None,
                headers: Mapping[str, str] | None = None, body: Any = None, timeout: Timeout = None,
                preload: bool = True) -> urllib3.BaseHTTPResponse:
        """One request (urllib3's own retries and redirects off: callers retry what is worth it). A 401 with
        an exec plugin's credential runs the plugin again and repeats the request once."""
        url = self.base + path
        if query:
            url += "?" + urlencode([(k, _text(v)) for k, v in query])
        return self._call(method, url, headers, body, timeout, preload)

    def _call(self, method: str, url: str, headers: Mapping[str, str] | None, body: Any, timeout: Timeout,
              preload: bool) -> urllib3.BaseHTTPResponse:
        payload = body if body is None or isinstance(body, bytes | str) else orjson.dumps(body)
        fixed = {"User-Agent": USER_AGENT, **(headers or {})}
        auth, credential = self._auth()
        response = self._send(method, url, fixed, auth, payload, timeout, preload, credential)
        if response.status == 401 and self._exec is not None and credential is not None:
            response.drain_conn()
            response.release_conn()
            credential = self._exec.refresh(credential)
            response = self._send(method, url, fixed, self._exec_header(credential), payload, timeout, preload,
                                  credential)
        return response

    def _send(self, method: str, url: str, headers: dict[str, str], auth: str | None, payload: Any,
              timeout: Timeout, preload: bool, credential: Credential | None) -> urllib3.BaseHTTPResponse:
        if auth is not None:
            headers = {**headers, "Authorization": auth}
        cert = (credential.cert_pem, credential.key_pem) if credential is not None and credential.cert_pem \
            and credential.key_pem else None
        return self._pool(cert).request(method, url, body=payload, headers=headers, timeout=_timeout(timeout),
                                        preload_content=preload, retries=False, redirect=False)

    # --- authentication -------------------------------------------------------------------------

    def _auth(self) -> tuple[str | None, Credential | None]:
        """The Authorization header and, from an exec plugin, the credential it came from."""
        conn = self.connection
        if conn.token_file:
            token = self._read_token_file(conn.token_file)
            if token:
                return f"Bearer {token}", None
        if conn.token:
            return f"Bearer {conn.token}", None
        if self._basic is not None:
            return self._basic, None
        if self._exec is not None:
            credential = self._exec.credential()
            return self._exec_header(credential), credential
        return None, None

    @staticmethod
    def _exec_header(credential: Credential) -> str | None:
        return f"Bearer {credential.token}" if credential.token else None

    def _read_token_file(self, path: str) -> str | None:
        """The token in ``path``, read again whenever the file changes (a rotated service account token)."""
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ClusterAccessError(f"{self.where}: token file {path}: {exc.strerror or exc}") from None
        cached = self._token_file
        if cached is not None and cached[:2] == (st.st_mtime, st.st_size):
            return cached[2] or None
        try:
            with open(path, encoding="utf-8") as f:
                token = f.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ClusterAccessError(f"{self.where}: token file {path} cannot be read "
                                     f"({type(exc).__name__})") from None
        self._token_file = (st.st_mtime, st.st_size, token)
        return token or None

    # --- connections ----------------------------------------------------------------------------

    def forget_connections(self) -> None:
        """Start with no connection (in a forked child): the parent's sockets stay the parent's, never shared.
        The inherited pools are dropped, not closed (closing them here would not touch the parent's)."""
        self._pools = {}
        self._lock = threading.Lock()

    def _pool(self, cert: tuple[bytes, bytes] | None) -> urllib3.PoolManager:
        """The connection pool for one client certificate (an exec plugin may hand out a new one)."""
        pool = self._pools.get(cert)
        if pool is not None:
            return pool
        with self._lock:
            pool = self._pools.get(cert)
            if pool is None:
                if cert is not None:
                    for old in self._pools.values():
                        old.clear()
                    self._pools = {k: v for k, v in self._pools.items() if k is None}
                pool = self._pools[cert] = self._make_pool(cert)
            return pool

    def _make_pool(self, cert: tuple[bytes, bytes] | None) -> urllib3.PoolManager:
        conn = self.connection
        kw: dict[str, Any] = {"maxsize": POOL_SIZE, "retries": False}
        if self.base.startswith("https://"):
            kw["ssl_context"] = self._ssl_context(cert)
            kw["cert_reqs"] = "CERT_NONE" if conn.insecure else "CERT_REQUIRED"
            if conn.insecure:
                kw["assert_hostname"] = False
                warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
            if conn.tls_server_name:
                kw["server_hostname"] = conn.tls_server_name
        proxy = conn.proxy_url or environment_proxy(self.base)
        if not proxy:
            return urllib3.PoolManager(**kw)
        if proxy.startswith(("socks5://", "socks5h://", "socks4://", "socks4a://")):
            try:
                # deferred: only a socks proxy needs PySocks (an optional package)
                from urllib3.contrib.socks import SOCKSProxyManager
            except ImportError:
                raise ClusterAccessError(f"{self.where}: proxy-url {proxy.split('://')[0]}:// needs the PySocks "
                                         "package") from None
            return SOCKSProxyManager(proxy, **kw)
        if not proxy.startswith(("http://", "https://")):
            raise ClusterAccessError(f"{self.where}: proxy-url must be http://, https:// or socks5://")
        return urllib3.ProxyManager(proxy, **kw)

    def _ssl_context(self, cert: tuple[bytes, bytes] | None) -> ssl.SSLContext:
        conn = self.connection
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if conn.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            try:
                if conn.ca_file:
                    ctx.load_verify_locations(cafile=conn.ca_file)
                if conn.ca_data:
                    ctx.load_verify_locations(cadata=conn.ca_data.decode("ascii", "replace"))
            except (ssl.SSLError, ValueError):
                field = "certificate-authority-data" if conn.ca_data else f"certificate-authority {conn.ca_file}"
                raise ClusterAccessError(f"{self.where}: {field} holds no readable PEM certificate") from None
        if cert is not None:
            _load_chain(ctx, cert[0], cert[1], f"{self.where}: the exec plugin's client certificate or key")
        elif conn.cert_file or conn.cert_data:
            assert conn.key_file or conn.key_data
            cert_pem = conn.cert_data or _read(conn.cert_file, self.where, "client-certificate")
            key_pem = conn.key_data or _read(conn.key_file, self.where, "client-key")
            fields = " and ".join([
                "client-certificate-data" if conn.cert_data else f"client-certificate {conn.cert_file}",
                "client-key-data" if conn.key_data else f"client-key {conn.key_file}"])
            _load_chain(ctx, cert_pem, key_pem, f"{self.where}: {fields}")
        return ctx

    # --- what kubernetes.client.ApiClient offered -----------------------------------------------

    def param_serialize(self, method: str, resource_path: str, query_params: Iterable[tuple[str, Any]] | None = None,
                        header_params: Mapping[str, str] | None = None, body: Any = None,
                        **_: Any) -> tuple[str, str, dict[str, str], Any, list[Any]]:
        """(method, path with query, headers, body, []) for :meth:`call_api`, as ``ApiClient``'s."""
        url = resource_path
        if query_params:
            url += "?" + urlencode([(k, _text(v)) for k, v in query_params])
        return method, url, dict(header_params or {}), body, []

    def call_api(self, method: str, url: str, header_params: Mapping[str, str] | None = None, body: Any = None,
                 post_params: Any = None, _request_timeout: Timeout = None) -> Reply:
        """The request :meth:`param_serialize` prepared; the body is read by ``read()`` or streamed."""
        return Reply(self._call(method, self.base + url, header_params, body, _request_timeout, preload=False))


def environment_proxy(server: str) -> str | None:
    """Without ``proxy-url``: the proxy ``HTTPS_PROXY``/``HTTP_PROXY`` (or ``ALL_PROXY``) names for ``server``,
    unless ``NO_PROXY`` lists it; never for localhost or a loopback address (as kubectl)."""
    parts = urlsplit(server)
    host = parts.hostname or ""
    if host == "localhost":
        return None
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            return None
    proxies = getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or proxy_bypass(parts.netloc):
        return None
    return proxy


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _timeout(timeout: Timeout) -> urllib3.Timeout | None:
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        return urllib3.Timeout(connect=timeout[0], read=timeout[1])
    return urllib3.Timeout(total=timeout)


def _read(path: str | None, where: str, field: str) -> bytes:
    assert path is not None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ClusterAccessError(f"{where}: {field} {path}: {exc.strerror or exc}") from None


def _load_chain(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes, what: str) -> None:
    """Load a certificate and key given as bytes (``ssl`` reads only files: a private temporary file each,
    removed at once)."""
    folder = tempfile.mkdtemp(prefix="auditor-tls-")
    try:
        paths = []
        for name, data in (("cert.pem", cert_pem), ("key.pem", key_pem)):
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            paths.append(path)
        try:
            ctx.load_cert_chain(paths[0], paths[1])
        except (ssl.SSLError, ValueError):
            raise ClusterAccessError(f"{what}: not a readable PEM certificate and matching key") from None
    finally:
        for name in ("cert.pem", "key.pem"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
        with contextlib.suppress(OSError):
            os.rmdir(folder)
