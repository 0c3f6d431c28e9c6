"""Shared server state handed to the verb implementations (store, registry, settings)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .resources import Registry, ResourceType
from .store import Store


@dataclass
class Settings:
    """Knobs tests may change on a running server."""

    continue_token_ttl: float = 300.0
    token_epoch: int = 0
    enforce_namespaces: bool = True
    bookmark_interval: float = 1.0
    watch_poll: float = 0.5
    username: str = "system:serviceaccount:default:test"
    require_auth: bool = False
    #: When set, only these Authorization header values are let in (others: 401), e.g. {"Bearer abc"}
    accepted_credentials: set[str] | None = None
    namespace_cleanup_delay: float = 0.05  # seconds a deleted namespace stays Terminating
    #: TokenReview: bearer token -> userInfo ({"username", "uid", "groups"}); other tokens are not authenticated
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: SubjectAccessReview: (username or "group:NAME", verb, nonResourceURL path) triples that are allowed
    grants: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass
class State:
    """Everything a request handler needs; one per KubeAPIServer."""

    store: Store
    registry: Registry
    settings: Settings = field(default_factory=Settings)
    stopping: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Target:
    """What a resource URL addresses: a type (at the requested version), namespace, name, subresource."""

    rt: ResourceType
    namespace: str = ""  # "" = cluster-scoped, or all namespaces for a collection
    name: str = ""  # "" = the collection
    subresource: str = ""  # "" or "status"


@dataclass
class Response:
    """A complete (non-streaming) HTTP answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
