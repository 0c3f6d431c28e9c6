"""HTTP/1.1 layer on `http.server`: request parsing, faults, responses, chunked watch streams.

Connections are persistent (clients page through lists on one connection); every answer carries a
Content-Length except watches, which use chunked transfer encoding exactly like the apiserver.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from .errors import ApiError, status_body
from .faults import STALL_LIMIT, Fault
from .routing import Route, forbidden_message
from .watch import WatchPlan

if TYPE_CHECKING:
    from .server import KubeAPIServer


MAX_BODY = 3 * 1024 * 1024 * 1024  # the apiserver's own limit is 3 MiB per object; this only stops absurd values


class RequestRecord(NamedTuple):
    """One entry of `KubeAPIServer.requests`."""

    method: str
    path: str
    query: dict[str, str]
    status: int


class KubeHTTPServer(ThreadingHTTPServer):
    """Threaded server that remembers open connections so `stop()` can close them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], kube: KubeAPIServer) -> None:
        self.kube = kube
        self.open_connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up are normal; anything else is recorded instead of printed."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            self.kube.errors.append(traceback.format_exc())

    def close_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self.conn_lock:
            conns = list(self.open_connections)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    """One connection; dispatches every request to the KubeAPIServer's App."""

    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-test/1"
    sys_version = ""
    server: KubeHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.open_connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging (the request log lives in `KubeAPIServer.requests`)."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unsupported method) as a Status too."""
        body = orjson.dumps(status_body(code, message or explain))
        self.close_connection = True
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            size = int(length)
            if not 0 <= size <= MAX_BODY:
                raise ApiError(413, f"the request body of {size} bytes is too large", "RequestEntityTooLarge")
            return self.rfile.read(size)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        return b""

    def _serve(self, method: str) -> None:
        kube = self.server.kube
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self._record = (method, path, query)
        try:
            try:
                raw = self._read_body()
            except (ValueError, OSError, ApiError) as e:
                self.close_connection = True  # the unread body would be taken for the next request
                if isinstance(e, ApiError):
                    raise
                raise ApiError(400, f"unable to read the request body: {e}", "BadRequest") from e
            if kube.settings.require_auth and not self.headers.get("Authorization"):
                raise ApiError(401, "Unauthorized", "Unauthorized")
            accepted = kube.settings.accepted_credentials
            if accepted is not None and self.headers.get("Authorization") not in accepted:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            route: Route | None = None
            route_error: ApiError | None = None
            try:
                route = kube.app.route(method, path, query)
            except ApiError as e:
                route_error = e
            fault = kube.faults.match(method, path, query)
            if fault is not None and self._apply_fault(fault, route):
                return
            if route_error is not None:
                raise route_error
            headers = {k.title(): v for k, v in self.headers.items()}  # lookups use canonical case
            result = kube.app.handle(method, path, query, headers, raw, route)
            reset = fault is not None and fault.reset
            if isinstance(result, WatchPlan):
                self._stream(result, reset)
            else:
                self._send(result.status, result.body, result.content_type, result.headers, reset)
        except ApiError as e:
            self._send(e.code, orjson.dumps(e.body), "application/json", e.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a handler bug must not kill the server: answer 500 like the apiserver
            kube.errors.append(traceback.format_exc())
            body = status_body(500, f"Internal error occurred: {type(e).__name__}: {e}", "InternalError")
            try:
                self._send(500, orjson.dumps(body), "application/json", {})
            except OSError:
                self.close_connection = True

    def _apply_fault(self, fault: Fault, route: Route | None) -> bool:
        """Apply latency; answer with the fault's Status if it has one. True when answered (or stalled)."""
        if fault.stall:  # hold the request without a byte of answer until the server stops
            self.server.kube.state.stopping.wait(STALL_LIMIT)
            self.close_connection = True
            return True
        if fault.latency:
            time.sleep(fault.latency)
        if fault.status is None:
            return False
        if isinstance(fault.body, bytes):
            raw = fault.body
        else:
            raw = orjson.dumps(fault.status_body(forbidden_message(route, self.server.kube.settings.username)))
        self._send(fault.status, raw, "application/json", fault.headers(), fault.reset)
        return True

    def _log(self, status: int) -> None:
        method, path, query = self._record
        self.server.kube.requests.append(RequestRecord(method, path, query, status))

    def _head(self, status: int, content_type: str, headers: dict[str, str], length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self._log(status)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str], reset: bool = False) -> None:
        self._head(status, content_type, headers, len(body))
        if reset:
            self.wfile.write(body[: max(1, len(body) // 2)])
            self._abort()
            return
        self.wfile.write(body)

    def _abort(self) -> None:
        """Reset the TCP connection (RST, not FIN) mid-response."""
        self.close_connection = True
        try:
            self.rfile.close()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _stream(self, plan: WatchPlan, reset: bool) -> None:
        events = plan.events()
        self._head(200, "application/json", {}, None)
        self.close_connection = False
        try:
            for chunk in events:
                if not chunk:
                    if self._client_gone():
                        self.close_connection = True
                        return
                    continue
                if reset:
                    self.wfile.write(b"%x\r\n%s" % (len(chunk), chunk[: max(1, len(chunk) // 2)]))
                    self._abort()
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        finally:
            events.close()
