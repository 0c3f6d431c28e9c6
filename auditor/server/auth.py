"""Who may read the data API of ``auditor serve`` (``/api/v1/scan``: Secret names, buckets, fingerprints).

Two ways, like the Kubernetes components that serve data beside the API server:

- **delegated** (in a cluster): the caller's bearer token is authenticated with a TokenReview and the user
  is authorised with a SubjectAccessReview for the non-resource URL (``get /api/v1/scan``), as
  kube-rbac-proxy and metrics-server do. Answers are cached briefly (``CACHE_SECONDS``) so a busy reader does
  not cost two API calls a request;
- **static** (outside a cluster): one bearer token from ``--api-token-file``, compared in constant time.

With neither the data API is off (404). A token is never logged, cached in clear or put in a message.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from auditor.collect.live import LiveSource, RetryPolicy, status_message
from auditor.errors import ApiStatusError, ConfigError

log = logging.getLogger(__name__)

CACHE_SECONDS = 10.0  # how long a review's answer (allowed or not) is reused
CACHE_ENTRIES = 1024
TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class Decision:
    """200 (allowed), 401 (not authenticated), 403 (authenticated, not allowed) or 503 (cannot tell)."""

    status: int
    reason: str
    user: str | None = None

    @property
    def allowed(self) -> bool:
        return self.status == 200


class Authenticator(Protocol):
    def check(self, token: str | None, path: str, verb: str) -> Decision: ...


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class StaticToken:
    """One shared bearer token (outside a cluster)."""

    def __init__(self, token: bytes) -> None:
        self._digest = hashlib.sha256(token).digest()

    def check(self, token: str | None, path: str, verb: str) -> Decision:
        if token is None:
            return Decision(401, "no bearer token")
        # compare digests: constant time whatever the lengths
        if hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self._digest):
            return Decision(200, "the static API token", "api-token")
        return Decision(401, "the bearer token is not the API token")


def read_token_file(path: Path) -> bytes:
    """The static API token: a file only its owner (and group) may read, holding one non-empty line."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--api-token-file {path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"--api-token-file {path}: not a regular file")
    if mode & stat.S_IROTH:
        raise ConfigError(f"--api-token-file {path}: readable by every user (mode {stat.S_IMODE(mode):04o}); "
                          f"chmod o-rwx it (in a pod: defaultMode 0440 on the Secret volume)")
    token = data.strip()
    if not token:
        raise ConfigError(f"--api-token-file {path}: the file is empty")
    if b"\n" in token or any(b < 0x21 or b > 0x7E for b in token):
        raise ConfigError(f"--api-token-file {path}: a token is one line of printable ASCII without spaces")
    return token


class KubernetesReviews:
    """Delegated authentication and authorisation through the API server (TokenReview, SubjectAccessReview)."""

    def __init__(self, api_client: Any, cluster: str, ttl: float = CACHE_SECONDS,
                 retry: RetryPolicy | None = None) -> None:
        self.source = LiveSource(api_client, cluster, retry=retry or RetryPolicy(attempts=2, base_delay=0.1,
                                                                                 max_delay=0.5),
                                 request_timeout=10.0)
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[tuple[bytes, str, str], tuple[float, Decision]] = {}

    def check(self, token: str | None, path: str, verb: str) -> Decision:
        if token is None:
            return Decision(401, "no bearer token")
        key = (hashlib.sha256(token.encode()).digest(), path, verb)  # never the token itself
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        decision = self._review(token, path, verb)
        if decision.status != 503:  # an API failure is not an answer: ask again next time
            with self._lock:
                if len(self._cache) >= CACHE_ENTRIES:
                    self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                    if len(self._cache) >= CACHE_ENTRIES:
                        self._cache.clear()
                self._cache[key] = (now + self.ttl, decision)
        return decision

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, data = self.source.send("POST", path, body=body)
        if status not in (200, 201):  # the Status message only: a review's body echoes the token
            raise ApiStatusError(status, status_message(data, status)[:200])
        doc = orjson.loads(data)
        return doc if isinstance(doc, dict) else {}

    def _review(self, token: str, path: str, verb: str) -> Decision:
        try:
            review = self._post(TOKEN_REVIEWS, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                                "spec": {"token": token}})
            status = review.get("status") or {}
            if not status.get("authenticated"):
                why = status.get("error") or "no reason given"
                return Decision(401, f"the API server did not authenticate the token ({why})")
            user = status.get("user") or {}
            username = str(user.get("username") or "")
            spec: dict[str, Any] = {"user": username, "groups": user.get("groups") or [],
                                    "nonResourceAttributes": {"path": path, "verb": verb}}
            for field in ("uid", "extra"):
                if user.get(field):
                    spec[field] = user[field]
            access = self._post(ACCESS_REVIEWS, {"apiVersion": "authorization.k8s.io/v1",
                                                 "kind": "SubjectAccessReview", "spec": spec})
        except (ApiStatusError, orjson.JSONDecodeError) as exc:
            return Decision(503, f"cannot review the request with the API server: {exc}")
        allowed = (access.get("status") or {}).get("allowed") is True
        if not allowed:
            reason = (access.get("status") or {}).get("reason") or "no RBAC rule allows it"
            return Decision(403, f"user {username!r} may not {verb} {path} ({reason})", username)
        return Decision(200, f"user {username!r} may {verb} {path}", username)


def api_authenticator(token_file: Path | None, kubernetes: bool, api_client: Any | None,
                      cluster: str | None) -> Authenticator | None:
    """The data API's gate from the flags; None turns the data API off."""
    if token_file is not None and kubernetes:
        raise ConfigError("--api-token-file and --api-auth-kubernetes exclude each other: choose one")
    if token_file is not None:
        return StaticToken(read_token_file(token_file))
    if kubernetes:
        if api_client is None:
            raise ConfigError("--api-auth-kubernetes needs a cluster to review tokens (--in-cluster or a kubeconfig "
                              "context), not --snapshot/--demo")
        return KubernetesReviews(api_client, cluster or "in-cluster")
    return None


def client_label(address: Any) -> str:
    """The peer for a log line."""
    try:
        return f"{address[0]}:{address[1]}"
    except (TypeError, IndexError):
        return str(address)
